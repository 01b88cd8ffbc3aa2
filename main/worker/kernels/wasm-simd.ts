/**
 * A few element-wise kernels as WebAssembly SIMD, assembled here and run on the tfjs-wasm heap.
 *
 * The tfjs kernels are each one pass over memory: an Adam step composed of them is fifteen passes
 * per variable, and a JavaScript loop fusing them runs scalar (measured: no faster than the
 * fifteen passes). This module assembles the fused loops as 4-lane SIMD functions that import
 * the tfjs module's own memory, so they read and write tensors in place by their heap offsets,
 * with no copy and no extra toolchain: the bytes are written below, instruction by instruction,
 * and validated by `WebAssembly.validate` before use.
 *
 * Every function computes in float32 with the same operations, in the same order, as the op-by-op
 * form it replaces; float32 +, −, ×, ÷ and √ are correctly rounded in SIMD lanes as they are in
 * tfjs' kernels, so results are bit for bit the same.
 */

/** Value types of the binary format. */
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

type ValueType = typeof I32 | typeof F32 | typeof V128;

function unsignedLeb(value: number): number[] {
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

function signedLeb(value: number): number[] {
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

function utf8(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsignedLeb(bytes.length), ...bytes];
}

function vector(items: number[][]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

/** SIMD opcodes (prefix 0xfd) used below. */
const SIMD = {
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
const OP = {
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
type Local = number;

/**
 * Emits one function body. Locals are declared up front (parameters first); arithmetic is
 * written as nested calls that push their operands, e.g. `add(mul(get(a), get(b)), get(c))`.
 */
class FunctionBuilder {
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

/** Arithmetic in one lane width: the same element-wise program emitted as vectors or scalars. */
interface Lanes {
  load(pointer: Local, index: Local): void;
  store(pointer: Local, index: Local, value: () => void): void;
  /** A constant held in a scalar parameter (splatted once for vectors). */
  constant(parameter: Local): void;
  add(a: () => void, b: () => void): void;
  sub(a: () => void, b: () => void): void;
  mul(a: () => void, b: () => void): void;
  div(a: () => void, b: () => void): void;
  sqrt(a: () => void): void;
  /** 1, −1 or 0 (also for NaN), as tfjs' cpu Sign. */
  sign(a: () => void, temporary: Local): void;
  get(local: Local): void;
  set(local: Local, value: () => void): void;
}

function binary(builder: FunctionBuilder, vectorOp: number, scalarOp: number, vectors: boolean) {
  return (a: () => void, b: () => void): void => {
    a();
    b();
    if (vectors) builder.simd(vectorOp);
    else builder.emit(scalarOp);
  };
}

function lanes(builder: FunctionBuilder, vectors: boolean, splats: Map<Local, Local>): Lanes {
  const one = builder.local(vectors ? V128 : F32);
  const zero = builder.local(vectors ? V128 : F32);
  if (vectors) {
    builder.f32(1).simd(SIMD.f32x4Splat).set(one);
    builder.f32(0).simd(SIMD.f32x4Splat).set(zero);
  } else {
    builder.f32(1).set(one);
    builder.f32(0).set(zero);
  }
  return {
    load: (pointer, index) =>
      void (vectors ? builder.loadVector(pointer, index) : builder.loadScalar(pointer, index)),
    store: (pointer, index, value) =>
      void (vectors
        ? builder.storeVector(pointer, index, value)
        : builder.storeScalar(pointer, index, value)),
    constant: (parameter) => void builder.get(vectors ? splats.get(parameter)! : parameter),
    add: binary(builder, SIMD.f32x4Add, OP.f32Add, vectors),
    sub: binary(builder, SIMD.f32x4Sub, OP.f32Sub, vectors),
    mul: binary(builder, SIMD.f32x4Mul, OP.f32Mul, vectors),
    div: binary(builder, SIMD.f32x4Div, OP.f32Div, vectors),
    sqrt: (a) => {
      a();
      if (vectors) builder.simd(SIMD.f32x4Sqrt);
      else builder.emit(OP.f32Sqrt);
    },
    sign: (a, temporary) => {
      a();
      builder.set(temporary);
      if (vectors) {
        // (c > 0 ? 1 : 0) − (c < 0 ? 1 : 0) with lane masks.
        builder.get(one).get(temporary).get(zero).simd(SIMD.f32x4Gt).simd(SIMD.and);
        builder.get(one).get(temporary).get(zero).simd(SIMD.f32x4Lt).simd(SIMD.and);
        builder.simd(SIMD.f32x4Sub);
      } else {
        builder.get(one).get(zero).get(temporary).get(zero).emit(OP.f32Gt, OP.select);
        builder.get(one).get(zero).get(temporary).get(zero).emit(OP.f32Lt, OP.select);
        builder.emit(OP.f32Sub);
      }
    },
    get: (local) => void builder.get(local),
    set: (local, value) => {
      value();
      builder.set(local);
    },
  };
}

/**
 * A function over `arrays` pointer parameters, an element count, then `constants` f32
 * parameters: the element-wise `program` runs four lanes at a time, then on the remaining
 * elements one at a time.
 */
function elementwise(
  arrays: number,
  constants: number,
  program: (lane: Lanes, index: Local, temporaries: (count: number) => Local[]) => void,
): number[] {
  const params: ValueType[] = [
    ...Array<ValueType>(arrays).fill(I32),
    I32,
    ...Array<ValueType>(constants).fill(F32),
  ];
  const builder = new FunctionBuilder(params);
  const count = arrays;
  const index = builder.local(I32);
  const vectorEnd = builder.local(I32);
  const end = builder.local(I32);
  const splats = new Map<Local, Local>();
  for (let c = 0; c < constants; c++) {
    const parameter = arrays + 1 + c;
    const splat = builder.local(V128);
    builder.get(parameter).simd(SIMD.f32x4Splat).set(splat);
    splats.set(parameter, splat);
  }
  builder.get(count).i32(2).emit(OP.i32Shl).set(end);
  builder.get(count).i32(~3).emit(OP.i32And).i32(2).emit(OP.i32Shl).set(vectorEnd);
  builder.i32(0).set(index);
  for (const vectors of [true, false]) {
    const lane = lanes(builder, vectors, splats);
    const temporaries = (n: number): Local[] =>
      Array.from({ length: n }, () => builder.local(vectors ? V128 : F32));
    builder.forEach(index, vectors ? vectorEnd : end, vectors ? 16 : 4, () =>
      program(lane, index, temporaries),
    );
  }
  return builder.body();
}

/** Adam's decay variants: none, coupled L2 (added to g), decoupled (AdamW, added to the step). */
type DecayMode = 'none' | 'coupled' | 'decoupled';

/**
 * adam(θ, g, m, v, θ', m', v', n, β1, 1−β1, β2, 1−β2, 1−β1^t, 1−β2^t, ε, η, λ): Adam.update of
 * optimizers.ts, element by element.
 */
function adamFunction(decay: DecayMode): number[] {
  return elementwise(7, 9, (lane, index, temporaries) => {
    const [theta, grad, m, v, thetaOut, mOut, vOut] = [0, 1, 2, 3, 4, 5, 6] as const;
    const [beta1, oneMinusBeta1, beta2, oneMinusBeta2, correction1, correction2, epsilon, rate, lambda] = [
      8, 9, 10, 11, 12, 13, 14, 15, 16,
    ] as const;
    const [th, g, m1, v1, step] = temporaries(5) as [Local, Local, Local, Local, Local];
    lane.set(th, () => lane.load(theta, index));
    lane.set(g, () => lane.load(grad, index));
    if (decay === 'coupled') {
      lane.set(g, () =>
        lane.add(
          () => lane.get(g),
          () =>
            lane.mul(
              () => lane.get(th),
              () => lane.constant(lambda),
            ),
        ),
      );
    }
    lane.set(m1, () =>
      lane.add(
        () =>
          lane.mul(
            () => lane.load(m, index),
            () => lane.constant(beta1),
          ),
        () =>
          lane.mul(
            () => lane.get(g),
            () => lane.constant(oneMinusBeta1),
          ),
      ),
    );
    lane.set(v1, () =>
      lane.add(
        () =>
          lane.mul(
            () => lane.load(v, index),
            () => lane.constant(beta2),
          ),
        () =>
          lane.mul(
            () =>
              lane.mul(
                () => lane.get(g),
                () => lane.get(g),
              ),
            () => lane.constant(oneMinusBeta2),
          ),
      ),
    );
    lane.store(mOut, index, () => lane.get(m1));
    lane.store(vOut, index, () => lane.get(v1));
    lane.set(step, () =>
      lane.div(
        () =>
          lane.div(
            () => lane.get(m1),
            () => lane.constant(correction1),
          ),
        () =>
          lane.add(
            () =>
              lane.sqrt(() =>
                lane.div(
                  () => lane.get(v1),
                  () => lane.constant(correction2),
                ),
              ),
            () => lane.constant(epsilon),
          ),
      ),
    );
    if (decay === 'decoupled') {
      lane.set(step, () =>
        lane.add(
          () => lane.get(step),
          () =>
            lane.mul(
              () => lane.get(th),
              () => lane.constant(lambda),
            ),
        ),
      );
    }
    lane.store(thetaOut, index, () =>
      lane.sub(
        () => lane.get(th),
        () =>
          lane.mul(
            () => lane.get(step),
            () => lane.constant(rate),
          ),
      ),
    );
  });
}

/** lion(θ, g, m, θ', m', n, β1, 1−β1, β2, 1−β2, η, λ): Lion.update, element by element. */
function lionFunction(decayed: boolean): number[] {
  return elementwise(5, 6, (lane, index, temporaries) => {
    const [theta, grad, m, thetaOut, mOut] = [0, 1, 2, 3, 4] as const;
    const [beta1, oneMinusBeta1, beta2, oneMinusBeta2, rate, lambda] = [6, 7, 8, 9, 10, 11] as const;
    const [th, g, mi, step, scratch] = temporaries(5) as [Local, Local, Local, Local, Local];
    lane.set(th, () => lane.load(theta, index));
    lane.set(g, () => lane.load(grad, index));
    lane.set(mi, () => lane.load(m, index));
    lane.set(step, () =>
      lane.sign(
        () =>
          lane.add(
            () =>
              lane.mul(
                () => lane.get(mi),
                () => lane.constant(beta1),
              ),
            () =>
              lane.mul(
                () => lane.get(g),
                () => lane.constant(oneMinusBeta1),
              ),
          ),
        scratch,
      ),
    );
    if (decayed) {
      lane.set(step, () =>
        lane.add(
          () => lane.get(step),
          () =>
            lane.mul(
              () => lane.get(th),
              () => lane.constant(lambda),
            ),
        ),
      );
    }
    lane.store(thetaOut, index, () =>
      lane.sub(
        () => lane.get(th),
        () =>
          lane.mul(
            () => lane.get(step),
            () => lane.constant(rate),
          ),
      ),
    );
    lane.store(mOut, index, () =>
      lane.add(
        () =>
          lane.mul(
            () => lane.get(mi),
            () => lane.constant(beta2),
          ),
        () =>
          lane.mul(
            () => lane.get(g),
            () => lane.constant(oneMinusBeta2),
          ),
      ),
    );
  });
}

/** momentum(θ, g, v, θ', v', n, μ, η, λ): Momentum.update, element by element. */
function momentumFunction(coupled: boolean): number[] {
  return elementwise(5, 3, (lane, index, temporaries) => {
    const [theta, grad, velocity, thetaOut, velocityOut] = [0, 1, 2, 3, 4] as const;
    const [momentum, rate, lambda] = [6, 7, 8] as const;
    const [th, g, v1] = temporaries(3) as [Local, Local, Local];
    lane.set(th, () => lane.load(theta, index));
    lane.set(g, () => lane.load(grad, index));
    if (coupled) {
      lane.set(g, () =>
        lane.add(
          () => lane.get(g),
          () =>
            lane.mul(
              () => lane.get(th),
              () => lane.constant(lambda),
            ),
        ),
      );
    }
    lane.set(v1, () =>
      lane.add(
        () =>
          lane.mul(
            () => lane.load(velocity, index),
            () => lane.constant(momentum),
          ),
        () => lane.get(g),
      ),
    );
    lane.store(velocityOut, index, () => lane.get(v1));
    lane.store(thetaOut, index, () =>
      lane.sub(
        () => lane.get(th),
        () =>
          lane.mul(
            () => lane.get(v1),
            () => lane.constant(rate),
          ),
      ),
    );
  });
}

/** Rows summed into a partial total before it is added to the column sums. */
export const COLUMN_SUM_BLOCK = 64;

/**
 * columnSum(sum, x, rows, columns, partial): sum[c] = Σ_r x[r, c] for a row-major [rows, columns]
 * x (the sum of a bias gradient over batch and pixels; kernels/column-sum.ts). Rows are added in
 * order into `partial` (scratch, `columns` floats) COLUMN_SUM_BLOCK at a time, and each block's
 * partial into `sum`: the rounding error grows with the block and block count, not with all the
 * rows, which keeps a sum over a convolution's 10⁵ pixels within 1e-6 of an exact one. `sum` must
 * be zero on entry.
 */
function columnSumFunction(): number[] {
  const builder = new FunctionBuilder([I32, I32, I32, I32, I32]);
  const [sum, x, rows, columns, partial] = [0, 1, 2, 3, 4] as const;
  const local = (): Local => builder.local(I32);
  const [stride, total, vectorEnd, blockStart, blockEnd, blockBytes, row, column, rowPointer] = [
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
  ];
  builder.get(columns).i32(2).emit(OP.i32Shl).set(stride);
  builder.get(rows).get(stride).emit(OP.i32Mul).set(total);
  builder.get(stride).i32(COLUMN_SUM_BLOCK).emit(OP.i32Mul).set(blockBytes);
  builder.get(columns).i32(~3).emit(OP.i32And).i32(2).emit(OP.i32Shl).set(vectorEnd);
  /** for column over the row: vectors, then the scalar tail; `body(vectors)` emits one step. */
  const eachColumn = (body: (vectors: boolean) => void): void => {
    builder.i32(0).set(column);
    builder.forEach(column, vectorEnd, 16, () => body(true));
    builder.forEach(column, stride, 4, () => body(false));
  };
  /** target[column] += source[column] (pointers in locals). */
  const addInto = (target: Local, source: Local, vectors: boolean): void => {
    if (vectors) {
      builder.storeVector(target, column, () => {
        builder.loadVector(target, column).loadVector(source, column).simd(SIMD.f32x4Add);
      });
    } else {
      builder.storeScalar(target, column, () => {
        builder.loadScalar(target, column).loadScalar(source, column).emit(OP.f32Add);
      });
    }
  };
  builder.i32(0).set(blockStart);
  builder.forEachBy(blockStart, total, blockBytes, () => {
    eachColumn((vectors) => {
      if (vectors) builder.storeVector(partial, column, () => builder.f32(0).simd(SIMD.f32x4Splat));
      else builder.storeScalar(partial, column, () => builder.f32(0));
    });
    // blockEnd = min(blockStart + blockBytes, total)
    builder.get(blockStart).get(blockBytes).emit(OP.i32Add).set(blockEnd);
    builder.get(total).get(blockEnd).get(blockEnd).get(total).emit(OP.i32GeU, OP.select).set(blockEnd);
    builder.get(blockStart).set(row);
    builder.forEachBy(row, blockEnd, stride, () => {
      builder.get(x).get(row).emit(OP.i32Add).set(rowPointer);
      eachColumn((vectors) => addInto(partial, rowPointer, vectors));
    });
    eachColumn((vectors) => addInto(sum, partial, vectors));
  });
  return builder.body();
}

/**
 * maxPoolBackprop(x, dy, dx, batch, inHeight, inWidth, outHeight, outWidth, strideHeight,
 * strideWidth, filterHeight, filterWidth, channels): dx += dy at each pooling window's first
 * maximum (row-major), for NHWC tensors whose windows all lie inside the input (no padding, no
 * dilation; kernels/max-pool-grad.ts checks). NaN never wins and a window of −∞ (or NaN) passes no
 * gradient, as in the cpu backend. dx must be zero on entry.
 */
function maxPoolBackpropFunction(): number[] {
  const builder = new FunctionBuilder(Array<ValueType>(13).fill(I32));
  const [x, dy, dx, batch, inHeight, inWidth, outHeight, outWidth] = [0, 1, 2, 3, 4, 5, 6, 7] as const;
  const [strideHeight, strideWidth, filterHeight, filterWidth, channels] = [8, 9, 10, 11, 12] as const;
  const local = (): Local => builder.local(I32);
  const [pixel, inRow, inImage, stepHeight, stepWidth, vectorEnd] = [
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
  ];
  const [imageEnd, image, rowEnd, row, columnEnd, window, channel, dyPointer] = [
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
  ];
  const [tapRowEnd, tapRow, tapColumnEnd, tapColumn, address] = [local(), local(), local(), local(), local()];
  const [best, valid, gradient, assigned, hit, value] = [
    builder.local(V128),
    builder.local(V128),
    builder.local(V128),
    builder.local(V128),
    builder.local(V128),
    builder.local(V128),
  ];
  const [bestScalar, gradientScalar] = [builder.local(F32), builder.local(F32)];
  const [assignedScalar, hitScalar] = [local(), local()];
  const multiply = (a: Local, b: Local, into: Local): void =>
    void builder.get(a).get(b).emit(OP.i32Mul).set(into);
  builder.get(channels).i32(2).emit(OP.i32Shl).set(pixel);
  multiply(inWidth, pixel, inRow);
  multiply(inHeight, inRow, inImage);
  multiply(strideHeight, inRow, stepHeight);
  multiply(strideWidth, pixel, stepWidth);
  builder.get(channels).i32(~3).emit(OP.i32And).i32(2).emit(OP.i32Shl).set(vectorEnd);
  multiply(batch, inImage, imageEnd);
  multiply(filterHeight, inRow, tapRowEnd);
  multiply(filterWidth, pixel, tapColumnEnd);
  builder.get(dy).set(dyPointer);
  /** For each tap of the window at byte offset `window` + channel: `address` = that offset. */
  const eachTap = (body: () => void): void => {
    builder.i32(0).set(tapRow);
    builder.forEachBy(tapRow, tapRowEnd, inRow, () => {
      builder.i32(0).set(tapColumn);
      builder.forEachBy(tapColumn, tapColumnEnd, pixel, () => {
        builder
          .get(window)
          .get(tapRow)
          .emit(OP.i32Add)
          .get(tapColumn)
          .emit(OP.i32Add)
          .get(channel)
          .emit(OP.i32Add);
        builder.set(address);
        body();
      });
    });
  };
  const vectorChannels = (): void => {
    builder.f32(-Infinity).simd(SIMD.f32x4Splat).set(best);
    eachTap(() => builder.get(best).loadVector(x, address).simd(SIMD.f32x4Pmax).set(best));
    builder.get(best).f32(-Infinity).simd(SIMD.f32x4Splat).simd(SIMD.f32x4Gt).set(valid);
    builder.loadVector(dyPointer, channel).set(gradient);
    builder.f32(0).simd(SIMD.f32x4Splat).set(assigned);
    eachTap(() => {
      builder.loadVector(x, address).set(value);
      builder
        .get(value)
        .get(best)
        .simd(SIMD.f32x4Eq)
        .get(valid)
        .simd(SIMD.and)
        .get(assigned)
        .simd(SIMD.andNot);
      builder.set(hit);
      builder.storeVector(dx, address, () => {
        builder.loadVector(dx, address).get(gradient).get(hit).simd(SIMD.and).simd(SIMD.f32x4Add);
      });
      builder.get(assigned).get(hit).simd(SIMD.or).set(assigned);
    });
  };
  const scalarChannel = (): void => {
    builder.f32(-Infinity).set(bestScalar);
    eachTap(() => {
      // best = value > best ? value : best
      builder
        .loadScalar(x, address)
        .get(bestScalar)
        .loadScalar(x, address)
        .get(bestScalar)
        .emit(OP.f32Gt, OP.select);
      builder.set(bestScalar);
    });
    builder.loadScalar(dyPointer, channel).set(gradientScalar);
    builder.i32(0).set(assignedScalar);
    eachTap(() => {
      builder.loadScalar(x, address).get(bestScalar).emit(OP.f32Eq);
      builder.get(bestScalar).f32(-Infinity).emit(OP.f32Gt, OP.i32And);
      builder.get(assignedScalar).emit(OP.i32Eqz, OP.i32And).set(hitScalar);
      builder.storeScalar(dx, address, () => {
        builder.loadScalar(dx, address).get(gradientScalar).f32(0).get(hitScalar).emit(OP.select, OP.f32Add);
      });
      builder.get(assignedScalar).get(hitScalar).emit(OP.i32Or).set(assignedScalar);
    });
  };
  builder.i32(0).set(image);
  builder.forEachBy(image, imageEnd, inImage, () => {
    builder.get(image).get(outHeight).get(stepHeight).emit(OP.i32Mul, OP.i32Add).set(rowEnd);
    builder.get(image).set(row);
    builder.forEachBy(row, rowEnd, stepHeight, () => {
      builder.get(row).get(outWidth).get(stepWidth).emit(OP.i32Mul, OP.i32Add).set(columnEnd);
      builder.get(row).set(window);
      builder.forEachBy(window, columnEnd, stepWidth, () => {
        builder.i32(0).set(channel);
        builder.forEach(channel, vectorEnd, 16, vectorChannels);
        builder.forEach(channel, pixel, 4, scalarChannel);
        builder.get(dyPointer).get(pixel).emit(OP.i32Add).set(dyPointer);
      });
    });
  });
  return builder.body();
}

/**
 * maxPoolBackprop2x2(x, dy, dx, batch, inHeight, inWidth, outHeight, outWidth, channels): the same
 * for the common 2×2 window with stride 2, unrolled: each window's four inputs are loaded once,
 * and since windows do not overlap, dx is written rather than added to. The rows and columns that
 * no window covers (odd sizes) must be zero on entry; the rest is overwritten.
 */
function maxPoolBackprop2x2Function(): number[] {
  const builder = new FunctionBuilder(Array<ValueType>(9).fill(I32));
  const [x, dy, dx, batch, inHeight, inWidth, outHeight, outWidth, channels] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8,
  ] as const;
  const local = (): Local => builder.local(I32);
  const [
    pixel,
    inRow,
    inImage,
    vectorEnd,
    imageEnd,
    image,
    rowEnd,
    row,
    columnEnd,
    window,
    channel,
    dyPointer,
  ] = [
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
  ];
  const taps = [local(), local(), local(), local()];
  const vector = (): Local => builder.local(V128);
  const values = [vector(), vector(), vector(), vector()];
  const [best, valid, gradient, taken, hit] = [vector(), vector(), vector(), vector(), vector()];
  const scalar = (): Local => builder.local(F32);
  const scalars = [scalar(), scalar(), scalar(), scalar()];
  const [bestScalar, gradientScalar] = [scalar(), scalar()];
  const [takenScalar, hitScalar] = [local(), local()];
  builder.get(channels).i32(2).emit(OP.i32Shl).set(pixel);
  builder.get(inWidth).get(pixel).emit(OP.i32Mul).set(inRow);
  builder.get(inHeight).get(inRow).emit(OP.i32Mul).set(inImage);
  builder.get(channels).i32(~3).emit(OP.i32And).i32(2).emit(OP.i32Shl).set(vectorEnd);
  builder.get(batch).get(inImage).emit(OP.i32Mul).set(imageEnd);
  builder.get(dy).set(dyPointer);
  /** Byte offsets of the four taps of the window, for the current channel. */
  const tapOffsets = (): void => {
    builder.get(window).get(channel).emit(OP.i32Add).set(taps[0]!);
    builder.get(taps[0]!).get(pixel).emit(OP.i32Add).set(taps[1]!);
    builder.get(taps[0]!).get(inRow).emit(OP.i32Add).set(taps[2]!);
    builder.get(taps[2]!).get(pixel).emit(OP.i32Add).set(taps[3]!);
  };
  const vectorChannels = (): void => {
    tapOffsets();
    builder.f32(-Infinity).simd(SIMD.f32x4Splat).set(best);
    taps.forEach((tap, index) => {
      builder.get(x).get(tap).emit(OP.i32Add).simd(SIMD.load).emit(0, 0).set(values[index]!);
      builder.get(best).get(values[index]!).simd(SIMD.f32x4Pmax).set(best);
    });
    builder.get(best).f32(-Infinity).simd(SIMD.f32x4Splat).simd(SIMD.f32x4Gt).set(valid);
    builder.loadVector(dyPointer, channel).set(gradient);
    builder.f32(0).simd(SIMD.f32x4Splat).set(taken);
    taps.forEach((tap, index) => {
      builder.get(values[index]!).get(best).simd(SIMD.f32x4Eq).get(valid).simd(SIMD.and);
      builder.get(taken).simd(SIMD.andNot).set(hit);
      builder.storeVector(dx, tap, () => builder.get(gradient).get(hit).simd(SIMD.and));
      builder.get(taken).get(hit).simd(SIMD.or).set(taken);
    });
  };
  const scalarChannel = (): void => {
    tapOffsets();
    builder.f32(-Infinity).set(bestScalar);
    taps.forEach((tap, index) => {
      builder.loadScalar(x, tap).set(scalars[index]!);
      // best = value > best ? value : best
      builder
        .get(scalars[index]!)
        .get(bestScalar)
        .get(scalars[index]!)
        .get(bestScalar)
        .emit(OP.f32Gt, OP.select);
      builder.set(bestScalar);
    });
    builder.loadScalar(dyPointer, channel).set(gradientScalar);
    builder.i32(0).set(takenScalar);
    taps.forEach((tap, index) => {
      builder.get(scalars[index]!).get(bestScalar).emit(OP.f32Eq);
      builder.get(bestScalar).f32(-Infinity).emit(OP.f32Gt, OP.i32And);
      builder.get(takenScalar).emit(OP.i32Eqz, OP.i32And).set(hitScalar);
      builder.storeScalar(dx, tap, () => builder.get(gradientScalar).f32(0).get(hitScalar).emit(OP.select));
      builder.get(takenScalar).get(hitScalar).emit(OP.i32Or).set(takenScalar);
    });
  };
  builder.i32(0).set(image);
  const stepHeight = local();
  const stepWidth = local();
  builder.get(inRow).i32(1).emit(OP.i32Shl).set(stepHeight);
  builder.get(pixel).i32(1).emit(OP.i32Shl).set(stepWidth);
  builder.forEachBy(image, imageEnd, inImage, () => {
    builder.get(image).get(outHeight).get(stepHeight).emit(OP.i32Mul, OP.i32Add).set(rowEnd);
    builder.get(image).set(row);
    builder.forEachBy(row, rowEnd, stepHeight, () => {
      builder.get(row).get(outWidth).get(stepWidth).emit(OP.i32Mul, OP.i32Add).set(columnEnd);
      builder.get(row).set(window);
      builder.forEachBy(window, columnEnd, stepWidth, () => {
        builder.i32(0).set(channel);
        builder.forEach(channel, vectorEnd, 16, vectorChannels);
        builder.forEach(channel, pixel, 4, scalarChannel);
        builder.get(dyPointer).get(pixel).emit(OP.i32Add).set(dyPointer);
      });
    });
  });
  return builder.body();
}

/** The functions of the module, in export order, with their parameter counts (pointers, floats). */
const FUNCTIONS = {
  adam: { build: () => adamFunction('none'), arrays: 7, constants: 9 },
  adamCoupled: { build: () => adamFunction('coupled'), arrays: 7, constants: 9 },
  adamDecoupled: { build: () => adamFunction('decoupled'), arrays: 7, constants: 9 },
  lion: { build: () => lionFunction(false), arrays: 5, constants: 6 },
  lionDecayed: { build: () => lionFunction(true), arrays: 5, constants: 6 },
  momentum: { build: () => momentumFunction(false), arrays: 5, constants: 3 },
  momentumCoupled: { build: () => momentumFunction(true), arrays: 5, constants: 3 },
  columnSum: { build: columnSumFunction, arrays: 4, constants: 0 },
  maxPoolBackprop: { build: maxPoolBackpropFunction, arrays: 12, constants: 0 },
  maxPoolBackprop2x2: { build: maxPoolBackprop2x2Function, arrays: 8, constants: 0 },
} as const;

export type SimdFunctionName = keyof typeof FUNCTIONS;

/** Pointers (heap byte offsets) and the element count, then the float constants. */
export type SimdFunction = (...args: number[]) => void;

/** The module's bytes, importing `env.memory` (shared for the threaded tfjs build). */
export function assembleSimdModule(sharedMemory: boolean): Uint8Array {
  const names = Object.keys(FUNCTIONS) as SimdFunctionName[];
  const types = names.map((name) => {
    const { arrays, constants } = FUNCTIONS[name];
    const params = [...Array<number>(arrays + 1).fill(I32), ...Array<number>(constants).fill(F32)];
    return [0x60, ...vector(params.map((type) => [type])), 0];
  });
  // Shared memories must declare a maximum: 65536 pages (4 GiB), the most wasm32 allows.
  const limits = sharedMemory ? [0x03, ...unsignedLeb(1), ...unsignedLeb(65536)] : [0x00, ...unsignedLeb(1)];
  const section = (id: number, content: number[]): number[] => [
    id,
    ...unsignedLeb(content.length),
    ...content,
  ];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(2, vector([[...utf8('env'), ...utf8('memory'), 0x02, ...limits]])),
    ...section(3, vector(names.map((_, index) => unsignedLeb(index)))),
    ...section(7, vector(names.map((name, index) => [...utf8(name), 0x00, ...unsignedLeb(index)]))),
    ...section(10, vector(names.map((name) => FUNCTIONS[name].build()))),
  ];
  return Uint8Array.from(bytes);
}

/** A WebAssembly.Memory, as far as this module uses one. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

/** The part of the WebAssembly JavaScript API used here; the node typings (no DOM lib) lack it. */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: object };
  Memory: abstract new (...args: never[]) => WasmMemory;
}

const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** Whether this engine accepts `bytes` as a module (it has wasm SIMD, for this module's). */
export function validateWasm(bytes: Uint8Array): boolean {
  return webAssembly.validate(bytes);
}

const instances = new WeakMap<WasmMemory, Record<SimdFunctionName, SimdFunction> | null>();

/**
 * The SIMD functions bound to `memory` (the tfjs-wasm heap), or null where this engine has no
 * wasm SIMD; the module is assembled once per memory.
 */
export function simdFunctions(memory: WasmMemory): Record<SimdFunctionName, SimdFunction> | null {
  const cached = instances.get(memory);
  if (cached !== undefined) return cached;
  const bytes = assembleSimdModule(memory.buffer instanceof SharedArrayBuffer);
  let functions: Record<SimdFunctionName, SimdFunction> | null = null;
  if (validateWasm(bytes)) {
    const instance = new webAssembly.Instance(new webAssembly.Module(bytes), { env: { memory } });
    functions = instance.exports as Record<SimdFunctionName, SimdFunction>;
  }
  instances.set(memory, functions);
  return functions;
}

interface EmscriptenModule {
  wasmMemory?: unknown;
  asm?: { memory?: unknown };
}

/** The tfjs-wasm backend's heap: exported by the single-threaded build, imported by the threaded one. */
export function wasmHeapMemory(backend: object): WasmMemory | undefined {
  const module = (backend as { wasm?: EmscriptenModule }).wasm;
  const memory = module?.wasmMemory ?? module?.asm?.memory;
  return memory instanceof webAssembly.Memory ? memory : undefined;
}
