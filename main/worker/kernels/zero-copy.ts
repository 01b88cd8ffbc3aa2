/**
 * `Identity`, and `Cast` to the dtype a tensor already has, share the input's memory on wasm
 * instead of copying it, as they do on the cpu backend. tfjs inserts them all over the gradient
 * tape (a CNN step ran 32 of them, some on its largest activations); tensors never change after
 * they are written, so a second reference to the same data is all they need.
 */
import type * as tf from '@tensorflow/tfjs';
import { replaceKernel, restoreKernel, type DataBackend } from './wasm-matmul';

function share(x: tf.TensorInfo, backend: object): tf.TensorInfo {
  (backend as DataBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

function sharing(
  original: tf.KernelFunc,
  applies: (params: Parameters<tf.KernelFunc>[0]) => boolean,
): tf.KernelFunc {
  return (params) => {
    const x = params.inputs.x;
    if (x === undefined || x.dtype === 'string' || !applies(params)) return original(params);
    return share(x, params.backend);
  };
}

/** Replaces the wasm Identity and Cast kernels; returns the names replaced this time. */
export function installWasmZeroCopy(): string[] {
  const installed: string[] = [];
  const identity = replaceKernel('Identity', 'wasm', (original) => {
    if (original === undefined) throw new Error('Identity is not registered for wasm');
    return sharing(original.kernelFunc, () => true);
  });
  if (identity) installed.push('Identity (shared)');
  const cast = replaceKernel('Cast', 'wasm', (original) => {
    if (original === undefined) throw new Error('Cast is not registered for wasm');
    return sharing(original.kernelFunc, ({ inputs, attrs }) => attrs?.dtype === inputs.x?.dtype);
  });
  if (cast) installed.push('Cast to the same dtype (shared)');
  return installed;
}

/** Puts the stock (copying) kernels back. */
export function uninstallWasmZeroCopy(): void {
  restoreKernel('Identity', 'wasm');
  restoreKernel('Cast', 'wasm');
}
