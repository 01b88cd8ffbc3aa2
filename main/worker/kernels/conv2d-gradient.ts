/**
 * Fix 2 of ENGINE-NOTES: convolutions cannot train on stock tfjs-wasm (`Conv2DBackpropFilter` is
 * missing) and `Conv2DBackpropInput` is slow. Both gradients of a convolution are convolutions
 * themselves, so we express them with the forward `Conv2D` kernel, which XNNPACK runs fast:
 *
 *   dx = conv2d(pad(dilate(dy, stride), …), W flipped spatially with in/out swapped, 'valid', dilation)
 *   dW = conv2d(x with batch↔channels swapped, dy with batch on the in-channel axis,
 *               strides = dilation, dilations = stride), transposed back
 *
 * These formulas hold for every padding ('valid', 'same', numbers, explicit) and for strides or
 * dilations above 1 (tfjs allows one or the other, never both). They are installed three ways:
 *  - as the `Conv2D` gradient (tfjs-core's gradient registry is one global map with no per-backend
 *    entries; the last registration wins, so ours replaces the stock one and hands back to it
 *    whenever the active backend is not wasm);
 *  - as the wasm `Conv2DBackpropFilter` (missing) and `Conv2DBackpropInput` kernels, because
 *    `tf.fused.conv2d` (what tfjs-layers' Conv2D uses) calls those ops from its own custom gradient
 *    and never consults the registered `Conv2D` gradient;
 *  - dx of a stride-1 convolution pads inside the convolution rather than with a separate pad;
 *  - kernels that have no fast formulation here (depthwise backprops, NCHW) run on the cpu backend
 *    for that op only: inputs are copied out of the wasm heap, the tfjs-backend-cpu kernel runs,
 *    the result is copied back.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { replaceKernel, restoreKernel, tensorFromInfo } from './wasm-matmul';

type Pad = tf.Conv2DAttrs['pad'];
type RoundingMode = tf.Conv2DAttrs['dimRoundingMode'];
type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** Marks our gradient config and keeps the one it replaced (global symbol: see wasm-matmul.ts). */
const REPLACED_GRADIENT = Symbol.for('distillery.gradient-fix.replaced');

interface FixedGradConfig extends tf.GradConfig {
  [REPLACED_GRADIENT]?: tf.GradConfig | null;
}

function pair(value: number | [number, number] | undefined): [number, number] {
  if (value === undefined) return [1, 1];
  return typeof value === 'number' ? [value, value] : value;
}

/** Geometry of a forward NHWC convolution, as tfjs-core computes it for its own kernels. */
export function convolutionInfo(
  xShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  dilations: number | [number, number] | undefined,
  pad: Pad,
  dimRoundingMode?: RoundingMode,
): ConvInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    pair(dilations),
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
}

/**
 * Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor. A
 * negative amount arises when explicit padding is wider than the filter reaches.
 */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  let out = x;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [batch, height, width, channels] = x.shape;
    const cropTop = Math.max(0, -top);
    const cropLeft = Math.max(0, -left);
    out = tf.slice(
      out,
      [0, cropTop, cropLeft, 0],
      [batch, height - cropTop - Math.max(0, -bottom), width - cropLeft - Math.max(0, -right), channels],
    );
  }
  if (top > 0 || bottom > 0 || left > 0 || right > 0) {
    out = tf.pad(out, [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ]);
  }
  return out;
}

/**
 * Inserts `strideHeight − 1` zero rows after every row of dy and `strideWidth − 1` zero columns
 * after every column: the output of a strided convolution seen at stride 1.
 */
function insertZeros(dy: tf.Tensor4D, strideHeight: number, strideWidth: number): tf.Tensor4D {
  if (strideHeight === 1 && strideWidth === 1) return dy;
  const [batch, height, width, channels] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [batch, height, 1, width, 1, channels]), [
    [0, 0],
    [0, 0],
    [0, strideHeight - 1],
    [0, 0],
    [0, strideWidth - 1],
    [0, 0],
  ]);
  return tf.reshape(spread, [batch, height * strideHeight, width * strideWidth, channels]);
}

/** dL/dx of an NHWC convolution, with forward convolutions only. */
export function conv2dInputGradient(
  inputShape: readonly number[],
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  info: ConvInfo,
): tf.Tensor4D {
  return tf.tidy(() => {
    const { strideHeight, strideWidth, dilationHeight, dilationWidth, padInfo } = info;
    const [, inHeight = 0, inWidth = 0] = inputShape;
    const dilated = insertZeros(dy, strideHeight, strideWidth);
    // dx[i] = Σ_k dilated[i + padTop − k·dilation] · W[k]: a 'valid' correlation with the flipped
    // filter once dilated is padded by (k − 1)·dilation − padTop before and enough after to give
    // exactly inHeight outputs.
    const reachHeight = (info.filterHeight - 1) * dilationHeight;
    const reachWidth = (info.filterWidth - 1) * dilationWidth;
    const amounts = [
      reachHeight - padInfo.top,
      inHeight + padInfo.top - dilated.shape[1],
      reachWidth - padInfo.left,
      inWidth + padInfo.left - dilated.shape[2],
    ] as const;
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    const dilations: [number, number] = [dilationHeight, dilationWidth];
    if (amounts.every((amount) => amount >= 0)) {
      // The convolution pads by itself (XNNPACK reads zeros), saving a padded copy of dy.
      const [top, bottom, left, right] = amounts;
      const explicit: tf.backend_util.ExplicitPadding = [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ];
      return tf.conv2d(dilated, flipped, 1, explicit, 'NHWC', dilations);
    }
    const padded = padOrCrop(dilated, ...amounts);
    return tf.conv2d(padded, flipped, 1, 'valid', 'NHWC', dilations);
  });
}

/** dL/dW of an NHWC convolution, with forward convolutions only. */
export function conv2dFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, info: ConvInfo): tf.Tensor4D {
  return tf.tidy(() => {
    const { strideHeight, strideWidth, dilationHeight, dilationWidth, padInfo } = info;
    const [, inHeight, inWidth] = x.shape;
    const [, outHeight, outWidth] = dy.shape;
    // dW[k] = Σ_{n,o} xPadded[n, o·stride + k·dilation] · dy[n, o]; keep exactly the rows and
    // columns that some (o, k) reaches.
    const neededHeight = (outHeight - 1) * strideHeight + (info.filterHeight - 1) * dilationHeight + 1;
    const neededWidth = (outWidth - 1) * strideWidth + (info.filterWidth - 1) * dilationWidth + 1;
    const padded = padOrCrop(
      x,
      padInfo.top,
      neededHeight - inHeight - padInfo.top,
      padInfo.left,
      neededWidth - inWidth - padInfo.left,
    );
    // Channels become the batch and the batch becomes the contracted (input-channel) axis.
    const input = tf.transpose(padded, [3, 1, 2, 0]);
    const kernel = tf.transpose(dy, [1, 2, 0, 3]);
    const grad = tf.conv2d(input, kernel, [dilationHeight, dilationWidth], 'valid', 'NHWC', [
      strideHeight,
      strideWidth,
    ]);
    return tf.transpose(grad, [1, 2, 0, 3]);
  });
}

function asTensor4D(info: tf.TensorInfo | undefined, name: string, backend: object): tf.Tensor4D {
  return tensorFromInfo(info, name, backend) as tf.Tensor4D;
}

/**
 * Runs one kernel on the cpu backend for a wasm caller: copies the inputs out of the wasm heap,
 * runs the tfjs-backend-cpu kernel, copies the outputs back. Correct and slow; only for kernels
 * that wasm lacks and that have no fast formulation here.
 */
export function runKernelOnCpu(
  kernelName: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap | undefined,
  wasmBackend: BackendWasm,
): tf.TensorInfo | tf.TensorInfo[] {
  const cpuKernel = tf.getKernel(kernelName, 'cpu') as tf.KernelConfig | undefined;
  // findBackend initialises the (registered, lazily created) cpu backend if needed.
  const cpu = tf.findBackend('cpu') as tf.KernelBackend | null;
  if (cpuKernel === undefined || cpu === null) {
    throw new Error(`${kernelName} is missing on wasm and the cpu fallback is unavailable`);
  }
  const written: tf.DataId[] = [];
  try {
    const cpuInputs: tf.NamedTensorInfoMap = {};
    for (const [name, info] of Object.entries(inputs)) {
      if (info === undefined) continue;
      const dataId = cpu.write(wasmBackend.readSync(info.dataId), info.shape, info.dtype);
      written.push(dataId);
      cpuInputs[name] = { dataId, shape: info.shape, dtype: info.dtype };
    }
    const output = cpuKernel.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs });
    const outputs = (Array.isArray(output) ? output : [output]).map((info) => {
      const values = cpu.readSync(info.dataId);
      cpu.disposeData(info.dataId, true);
      return wasmBackend.makeOutput(info.shape, info.dtype, undefined, values);
    });
    return Array.isArray(output) ? outputs : (outputs[0] as tf.TensorInfo);
  } finally {
    for (const dataId of written) cpu.disposeData(dataId, true);
  }
}

function isChannelsLast(attrs: tf.NamedAttrMap | undefined): boolean {
  const dataFormat = attrs?.dataFormat;
  return dataFormat === undefined || dataFormat === 'NHWC';
}

const conv2dBackpropFilterKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  if (!isChannelsLast(attrs)) {
    return runKernelOnCpu('Conv2DBackpropFilter', inputs, attrs, backend as BackendWasm);
  }
  const { strides, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  return tf.tidy(() => {
    const x = asTensor4D(inputs.x, 'x', backend);
    const dy = asTensor4D(inputs.dy, 'dy', backend);
    const info = convolutionInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode);
    return conv2dFilterGradient(x, dy, info);
  });
};

const conv2dBackpropInputKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  if (!isChannelsLast(attrs)) {
    return runKernelOnCpu('Conv2DBackpropInput', inputs, attrs, backend as BackendWasm);
  }
  const { strides, pad, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  return tf.tidy(() => {
    const dy = asTensor4D(inputs.dy, 'dy', backend);
    const filter = asTensor4D(inputs.filter, 'filter', backend);
    const info = convolutionInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode);
    return conv2dInputGradient(inputShape, dy, filter, info);
  });
};

/** Kernels that wasm lacks and that run on the cpu backend for that op only. */
export const CPU_FALLBACK_KERNELS = [
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
] as const;

function makeConv2dGradient(stock: tf.GradConfig | undefined): FixedGradConfig {
  return {
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      if (tf.getBackend() !== 'wasm' || !isChannelsLast(attrs)) {
        if (stock === undefined) throw new Error('No stock Conv2D gradient to fall back to');
        return stock.gradFunc(dy, saved, attrs);
      }
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { strides, dilations, pad, dimRoundingMode } = attrs as unknown as tf.Conv2DAttrs;
      const info = convolutionInfo(x.shape, filter.shape, strides, dilations, pad, dimRoundingMode);
      const dy4D = dy as tf.Tensor4D;
      return {
        x: () => conv2dInputGradient(x.shape, dy4D, filter, info),
        filter: () => conv2dFilterGradient(x, dy4D, info),
      };
    },
    [REPLACED_GRADIENT]: stock ?? null,
  };
}

/** Registers our `Conv2D` gradient in place of the stock one; a no-op if it is already there. */
export function installConv2dGradient(): boolean {
  // getGradient is typed as always returning a config, but answers undefined for unknown kernels.
  const current = tf.getGradient('Conv2D') as FixedGradConfig | undefined;
  if (current !== undefined && REPLACED_GRADIENT in current) return false;
  tf.registerGradient(makeConv2dGradient(current));
  return true;
}

/** Installs the convolution part of Fix 2: the gradient, the two backprop kernels, cpu fallbacks. */
export function installWasmConvolutionFix(): string[] {
  const installed: string[] = [];
  if (installConv2dGradient()) installed.push('Conv2D gradient');
  if (replaceKernel('Conv2DBackpropFilter', 'wasm', () => conv2dBackpropFilterKernel)) {
    installed.push('Conv2DBackpropFilter');
  }
  if (replaceKernel('Conv2DBackpropInput', 'wasm', () => conv2dBackpropInputKernel)) {
    installed.push('Conv2DBackpropInput');
  }
  for (const kernelName of CPU_FALLBACK_KERNELS) {
    const didReplace = replaceKernel(kernelName, 'wasm', (original) => {
      // If a later tfjs-wasm ships the kernel, keep it.
      if (original !== undefined) return original.kernelFunc;
      return ({ inputs, backend, attrs }) =>
        runKernelOnCpu(kernelName, inputs, attrs, backend as BackendWasm);
    });
    if (didReplace) installed.push(`${kernelName} (cpu fallback)`);
  }
  return installed;
}

/** Puts the stock gradient and kernels back. */
export function uninstallWasmConvolutionFix(): void {
  const current = tf.getGradient('Conv2D') as FixedGradConfig | undefined;
  if (current !== undefined && REPLACED_GRADIENT in current) {
    const stock = current[REPLACED_GRADIENT];
    if (stock) tf.registerGradient(stock);
    else tf.unregisterGradient('Conv2D');
  }
  for (const kernelName of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', ...CPU_FALLBACK_KERNELS]) {
    restoreKernel(kernelName, 'wasm');
  }
}
