/**
 * Element-wise programs written once and emitted twice: four lanes at a time as SIMD vectors, then
 * the remaining elements as scalars, with the same operations in the same order.
 */
import { F32, FunctionBuilder, I32, OP, SIMD, V128, type Local, type ValueType } from './wasm-assembler';

/** Arithmetic in one lane width: the same element-wise program emitted as vectors or scalars. */
export interface Lanes {
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

/** The arithmetic of `builder` in vectors or scalars; `splats` maps each constant parameter to its vector. */
export function lanes(builder: FunctionBuilder, vectors: boolean, splats: Map<Local, Local>): Lanes {
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
export function elementwise(
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
