/**
 * `MaxPoolGrad` for wasm. The stock kernel allocates and fills a position buffer for every call
 * and walks every input pixel through every window that could cover it; on a 2×2 pool after the
 * first convolution of a small CNN it took about a third of the training step. This one finds each
 * window's maximum once, with the channels innermost (NHWC keeps them contiguous), and adds dy to
 * that one input position: in SIMD (wasm-simd.ts) when every window lies inside the input, else in
 * JavaScript.
 *
 * Ties go to the first maximum in the window in row-major order and NaN never wins, as in the cpu
 * backend's reference (stock wasm takes the last maximum). The gradient is therefore the cpu one,
 * to the rounding of sums where windows overlap.
 */
import * as tf from '@tensorflow/tfjs';
import { replaceKernel, restoreKernel } from './wasm-matmul';
import { simdFunctions, wasmHeapMemory } from './wasm-simd';

interface WasmHeap {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  getMemoryOffset(dataId: tf.DataId): number;
}

type PoolInfo = ReturnType<typeof tf.backend_util.computePool2DInfo>;

/** Whether every window lies inside the input, undilated: what the SIMD function handles. */
export function windowsInside(info: PoolInfo): boolean {
  return (
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    (info.outHeight - 1) * info.strideHeight + info.filterHeight <= info.inHeight &&
    (info.outWidth - 1) * info.strideWidth + info.filterWidth <= info.inWidth
  );
}

/**
 * dx of a max pool: zero, plus dy at each window's first maximum. `x` and `dx` are NHWC
 * [batch, inHeight, inWidth, channels], `dy` is [batch, outHeight, outWidth, channels].
 */
export function maxPoolBackprop(x: Float32Array, dy: Float32Array, dx: Float32Array, info: PoolInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { effectiveFilterHeight, effectiveFilterWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const best = new Float32Array(channels);
  const where = new Int32Array(channels);
  dx.fill(0);
  for (let b = 0; b < batchSize; b++) {
    const imageOffset = b * inHeight * inWidth * channels;
    for (let yR = 0; yR < outHeight; yR++) {
      const rowCorner = yR * strideHeight - padTop;
      let rowMin = rowCorner;
      while (rowMin < 0) rowMin += dilationHeight;
      const rowMax = Math.min(inHeight, rowCorner + effectiveFilterHeight);
      for (let yC = 0; yC < outWidth; yC++) {
        const columnCorner = yC * strideWidth - padLeft;
        let columnMin = columnCorner;
        while (columnMin < 0) columnMin += dilationWidth;
        const columnMax = Math.min(inWidth, columnCorner + effectiveFilterWidth);
        best.fill(-Infinity);
        where.fill(-1);
        for (let xR = rowMin; xR < rowMax; xR += dilationHeight) {
          for (let xC = columnMin; xC < columnMax; xC += dilationWidth) {
            const pixel = imageOffset + (xR * inWidth + xC) * channels;
            for (let d = 0; d < channels; d++) {
              const value = x[pixel + d]!;
              if (value > best[d]!) {
                best[d] = value;
                where[d] = pixel + d;
              }
            }
          }
        }
        const out = ((b * outHeight + yR) * outWidth + yC) * channels;
        for (let d = 0; d < channels; d++) {
          const position = where[d]!;
          if (position >= 0) dx[position] = dx[position]! + dy[out + d]!;
        }
      }
    }
  }
}

const maxPoolGradKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, input } = inputs;
  if (dy === undefined || input === undefined)
    throw new Error('MaxPoolGrad: inputs dy and input are required');
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const heap = backend as unknown as WasmHeap;
  // Allocate before taking views: an allocation may grow the heap and detach older views.
  const dx = heap.makeOutput([...input.shape], 'float32');
  const memory = wasmHeapMemory(backend);
  const functions = memory === undefined ? null : simdFunctions(memory);
  if (functions !== null && windowsInside(info)) {
    heap.typedArrayFromHeap(dx).fill(0);
    const offset = (info: tf.TensorInfo): number => heap.getMemoryOffset(info.dataId);
    const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
    if (filterHeight === 2 && filterWidth === 2 && strideHeight === 2 && strideWidth === 2) {
      functions.maxPoolBackprop2x2(
        offset(input),
        offset(dy),
        offset(dx),
        info.batchSize,
        info.inHeight,
        info.inWidth,
        info.outHeight,
        info.outWidth,
        info.inChannels,
      );
      return dx;
    }
    functions.maxPoolBackprop(
      offset(input),
      offset(dy),
      offset(dx),
      info.batchSize,
      info.inHeight,
      info.inWidth,
      info.outHeight,
      info.outWidth,
      info.strideHeight,
      info.strideWidth,
      info.filterHeight,
      info.filterWidth,
      info.inChannels,
    );
    return dx;
  }
  maxPoolBackprop(
    heap.typedArrayFromHeap(input),
    heap.typedArrayFromHeap(dy),
    heap.typedArrayFromHeap(dx),
    info,
  );
  return dx;
};

/** Replaces the wasm MaxPoolGrad kernel; false if ours is already there. */
export function installWasmMaxPoolGrad(): boolean {
  return replaceKernel('MaxPoolGrad', 'wasm', () => maxPoolGradKernel);
}

/** Puts the stock wasm MaxPoolGrad back. */
export function uninstallWasmMaxPoolGrad(): void {
  restoreKernel('MaxPoolGrad', 'wasm');
}
