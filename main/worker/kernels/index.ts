/**
 * Kernel fixes for the wasm backend (ENGINE-NOTES, "Two defects of stock tfjs-wasm", and the
 * slow kernels found since). Install them once the wasm backend package is imported;
 * `worker/backend.ts` does so when it picks wasm.
 */
import { installWasmColumnSum, uninstallWasmColumnSum } from './column-sum';
import { installWasmConvolutionFix, uninstallWasmConvolutionFix } from './conv2d-gradient';
import { installWasmMaxPoolGrad, uninstallWasmMaxPoolGrad } from './max-pool-grad';
import { installWasmMatMulFix, uninstallWasmMatMulFix } from './wasm-matmul';
import { installWasmZeroCopy, uninstallWasmZeroCopy } from './zero-copy';

let installed: string[] = [];

/**
 * Re-registers the wasm matmul kernels (explicit transposes), the `Conv2D` gradient and the
 * convolution backprop kernels (forward convolutions), `MaxPoolGrad` (one pass per
 * window), `Sum` over leading axes (bias gradients, SIMD), `Identity` and same-dtype `Cast`
 * without a copy, and
 * cpu fallbacks for the kernels wasm lacks. Idempotent.
 */
export function installWasmKernelFixes(): void {
  installed = [...installed, ...installWasmMatMulFix(), ...installWasmConvolutionFix()];
  if (installWasmMaxPoolGrad()) installed.push('MaxPoolGrad');
  if (installWasmColumnSum()) installed.push('Sum (leading axes)');
  installed.push(...installWasmZeroCopy());
}

/** What `installWasmKernelFixes` has put in place in this process. */
export function installedWasmKernelFixes(): readonly string[] {
  return installed;
}

/** Restores stock tfjs behaviour; benchmarks use it to measure the stock kernels. */
export function uninstallWasmKernelFixes(): void {
  uninstallWasmMatMulFix();
  uninstallWasmConvolutionFix();
  uninstallWasmMaxPoolGrad();
  uninstallWasmColumnSum();
  uninstallWasmZeroCopy();
  installed = [];
}
