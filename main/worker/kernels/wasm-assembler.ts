/**
 * The WebAssembly binary format, as far as the SIMD kernels need it: value types, LEB128 numbers,
 * names and vectors, the opcodes used, and a builder that emits one function body.
 */

/** Value types of the binary format: i32. */
export const I32 = 0x7f;
/** f32. */
export const F32 = 0x7d;
/** v128. */
export const V128 = 0x7b;

/** A value type of the binary format. */
export type ValueType = typeof I32 | typeof F32 | typeof V128;

/** An unsigned LEB128 number. */
export function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  let rest = value >>> 0;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest !== 0);
  return bytes;
}

/** A signed LEB128 number. */
export function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  let rest = value | 0;
  for (;;) {
    const byte = rest & 0x7f;
    rest >>= 7;
    const done = (rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

/** A name: its UTF-8 length, then its bytes. */
export function utf8(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsignedLeb(bytes.length), ...bytes];
}

/** A vector: its length, then its items. */
export function vector(items: number[][]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

/** SIMD opcodes (prefix 0xfd) used below. */
export const SIMD = {
  load: 0x00,
  store: 0x0b,
  f32x4Splat: 0x13,
  f32x4Eq: 0x41,
  f32x4Lt: 0x43,
  f32x4Gt: 0x44,
  and: 0x4e,
  andNot: 0x4f,
  or: 0x50,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Pmax: 0xeb,
} as const;

/** Scalar opcodes used below. */
export const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  f32Const: 0x43,
  i32Eqz: 0x45,
  i32GeU: 0x4f,
  f32Eq: 0x5b,
  f32Lt: 0x5d,
  f32Gt: 0x5e,
  i32Add: 0x6a,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32Shl: 0x74,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
} as const;

/** A local holding a pointer, a count, a float or a vector. */
export type Local = number;

/**
 * Emits one function body. Locals are declared up front (parameters first); arithmetic is
 * written as nested calls that push their operands, e.g. `add(mul(get(a), get(b)), get(c))`.
 */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly extraLocals: ValueType[] = [];

  constructor(readonly params: readonly ValueType[]) {}

  local(type: ValueType): Local {
    this.extraLocals.push(type);
    return this.params.length + this.extraLocals.length - 1;
  }

  emit(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  get(local: Local): this {
    return this.emit(OP.localGet, ...unsignedLeb(local));
  }

  set(local: Local): this {
    return this.emit(OP.localSet, ...unsignedLeb(local));
  }

  i32(value: number): this {
    return this.emit(OP.i32Const, ...signedLeb(value));
  }

  f32(value: number): this {
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    return this.emit(OP.f32Const, ...bytes);
  }

  simd(opcode: number): this {
    return this.emit(0xfd, ...unsignedLeb(opcode));
  }

  /** Pushes the vector at byte address `pointer + index` (both i32 locals). */
  loadVector(pointer: Local, index: Local): this {
    return this.get(pointer).get(index).emit(OP.i32Add).simd(SIMD.load).emit(0, 0);
  }

  /** Stores the vector that `value` pushes at `pointer + index`. */
  storeVector(pointer: Local, index: Local, value: () => void): this {
    this.get(pointer).get(index).emit(OP.i32Add);
    value();
    return this.simd(SIMD.store).emit(0, 0);
  }

  loadScalar(pointer: Local, index: Local): this {
    return this.get(pointer).get(index).emit(OP.i32Add, OP.f32Load, 0, 0);
  }

  storeScalar(pointer: Local, index: Local, value: () => void): this {
    this.get(pointer).get(index).emit(OP.i32Add);
    value();
    return this.emit(OP.f32Store, 0, 0);
  }

  /**
   * `for (index = from; index < limit; index += step) body()`, with `from` already in `index`
   * and `limit` in a local; all byte offsets.
   */
  forEach(index: Local, limit: Local, step: number, body: () => void): this {
    this.emit(OP.block, 0x40, OP.loop, 0x40);
    this.get(index).get(limit).emit(OP.i32GeU, OP.brIf, 1);
    body();
    this.get(index).i32(step).emit(OP.i32Add).set(index);
    return this.emit(OP.br, 0, OP.end, OP.end);
  }

  /** As forEach, with the step in a local. */
  forEachBy(index: Local, limit: Local, step: Local, body: () => void): this {
    this.emit(OP.block, 0x40, OP.loop, 0x40);
    this.get(index).get(limit).emit(OP.i32GeU, OP.brIf, 1);
    body();
    this.get(index).get(step).emit(OP.i32Add).set(index);
    return this.emit(OP.br, 0, OP.end, OP.end);
  }

  body(): number[] {
    const groups = this.extraLocals.map((type) => [1, type]);
    const bytes = [...vector(groups), ...this.code, OP.end];
    return [...unsignedLeb(bytes.length), ...bytes];
  }
}
