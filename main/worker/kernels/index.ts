/**
 * Kernel fixes for the wasm backend (ENGINE-NOTES, "Two defects of stock tfjs-wasm"). Install them
 * once the wasm backend package is imported; `worker/backend.ts` does so when it picks wasm.
 */
import { installWasmConvolutionFix, uninstallWasmConvolutionFix } from './conv2d-gradient';
import { installWasmMatMulFix, uninstallWasmMatMulFix } from './wasm-matmul';

let installed: string[] = [];

/**
 * Re-registers the wasm matmul kernels (explicit transposes), the `Conv2D` gradient and the
 * convolution backprop kernels (forward convolutions), and cpu fallbacks for the kernels wasm
 * lacks. Idempotent.
 */
export function installWasmKernelFixes(): void {
  installed = [...installed, ...installWasmMatMulFix(), ...installWasmConvolutionFix()];
}

/** What `installWasmKernelFixes` has put in place in this process. */
export function installedWasmKernelFixes(): readonly string[] {
  return installed;
}

/** Restores stock tfjs behaviour; benchmarks use it to measure the stock kernels. */
export function uninstallWasmKernelFixes(): void {
  uninstallWasmMatMulFix();
  uninstallWasmConvolutionFix();
  installed = [];
}
