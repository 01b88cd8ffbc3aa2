/**
 * The gradient kernels as SIMD functions: the column sum of a bias gradient, and max pooling's
 * backward pass (any window, and the unrolled 2×2 window with stride 2).
 */
import { F32, FunctionBuilder, I32, OP, SIMD, V128, type Local, type ValueType } from './wasm-assembler';

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
export function columnSumFunction(): number[] {
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
export function maxPoolBackpropFunction(): number[] {
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
export function maxPoolBackprop2x2Function(): number[] {
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
