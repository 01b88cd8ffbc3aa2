/**
 * `Sum` for wasm when it reduces every axis but the last: the bias gradient of every dense and
 * convolution layer (dy summed over batch and pixels, one total per channel). Stock tfjs-wasm
 * transposes its input so that the reduced axes come last, then sums each row; for a
 * convolution's dy that transpose is the cost (about 7% of a small CNN's step). This kernel adds
 * the rows of x in place, in SIMD, in one pass and without a copy. Other reductions go to the stock
 * kernel.
 *
 * Each column is summed in float32 in blocks of rows (wasm-simd.ts, columnSum), which rounds less
 * than the stock kernel's one running sum per output.
 */
import * as tf from '@tensorflow/tfjs';
import { replaceKernel, restoreKernel } from './wasm-matmul';
import { simdFunctions, wasmHeapMemory } from './wasm-simd';

interface WasmHeap {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  getMemoryOffset(dataId: tf.DataId): number;
  disposeData(dataId: tf.DataId): boolean;
}

/** Whether `axis` (as Sum's attrs give it) names exactly the axes 0 … rank − 2. */
export function reducesLeadingAxes(axis: number | number[], rank: number): boolean {
  if (rank < 2) return false;
  const axes = tf.util.parseAxisParam(axis, new Array<number>(rank).fill(1)).sort((a, b) => a - b);
  return axes.length === rank - 1 && axes.every((value, index) => value === index);
}

function columnSumKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (params) => {
    const { inputs, backend, attrs } = params;
    const x = inputs.x;
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const memory = wasmHeapMemory(backend);
    const functions = memory === undefined ? null : simdFunctions(memory);
    if (
      x === undefined ||
      x.dtype !== 'float32' ||
      functions === null ||
      !reducesLeadingAxes(axis, x.shape.length)
    ) {
      return original(params);
    }
    const columns = x.shape[x.shape.length - 1]!;
    const rows = tf.util.sizeFromShape(x.shape) / Math.max(1, columns);
    const shape = keepDims ? [...x.shape.slice(0, -1).map(() => 1), columns] : [columns];
    const heap = backend as unknown as WasmHeap;
    const out = heap.makeOutput(shape, 'float32');
    const partial = heap.makeOutput([columns], 'float32');
    heap.typedArrayFromHeap(out).fill(0);
    const offset = (info: tf.TensorInfo): number => heap.getMemoryOffset(info.dataId);
    functions.columnSum(offset(out), offset(x), rows, columns, offset(partial));
    heap.disposeData(partial.dataId);
    return out;
  };
}

/** Replaces the wasm Sum kernel; false if ours is already there. */
export function installWasmColumnSum(): boolean {
  return replaceKernel('Sum', 'wasm', (original) => {
    if (original === undefined) throw new Error('Sum is not registered for wasm');
    return columnSumKernel(original.kernelFunc);
  });
}

/** Puts the stock wasm Sum back. */
export function uninstallWasmColumnSum(): void {
  restoreKernel('Sum', 'wasm');
}
