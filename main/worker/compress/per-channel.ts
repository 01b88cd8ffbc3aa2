/**
 * Symmetric per-channel integer quantization of kernels, the form the ONNX export writes as int8
 * QDQ (export/quantized-weights.ts) and quantization-aware training simulates (fake-quant.ts):
 *
 *   scale[c] = max_i |w[i, c]| / L,   q = clamp(round(w / scale[c]), −L, L),   w' = q · scale[c]
 *
 * with L = 2^(bits−1) − 1 (127 at 8 bits, 7 at 4 bits) and zero point 0, so 0 stays exactly 0
 * (pruned weights stay pruned). Arithmetic is float32 throughout (Math.fround after every step) and
 * rounding is half to even, exactly as tfjs's and ONNX Runtime's kernels compute it, so the
 * integers written here equal what the training graph used. A channel of zeros gets scale 1.
 *
 * A kernel's output channels are its trailing axes: the last one of Dense and Conv2D kernels, the
 * last two (input channel × multiplier) of depthwise kernels; channel c of flat index i is i mod C.
 */
import { symmetricLimit, type PerChannelWeight } from '../../export/quantized-weights';

/** Weight bit widths the quantize node offers. */
export const WEIGHT_BITS = [8, 4] as const;

/**
 * Kernels that get per-channel integers, by layer class: the weight's name suffix and how many
 * trailing axes index its output channels.
 */
export const PER_CHANNEL_KERNELS: Record<string, Array<{ suffix: string; channelAxes: number }>> = {
  Dense: [{ suffix: 'kernel', channelAxes: 1 }],
  Conv2D: [{ suffix: 'kernel', channelAxes: 1 }],
  DepthwiseConv2D: [{ suffix: 'depthwise_kernel', channelAxes: 2 }],
  SeparableConv2D: [
    { suffix: 'depthwise_kernel', channelAxes: 2 },
    { suffix: 'pointwise_kernel', channelAxes: 1 },
  ],
};

/** Round half to even (banker's rounding), as tf.round and ONNX QuantizeLinear do. */
export function roundHalfToEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Number of output channels of a kernel of `shape` whose last `channelAxes` axes index them. */
export function channelCount(shape: number[], channelAxes: number): number {
  return shape.slice(shape.length - channelAxes).reduce((a, b) => a * b, 1);
}

/** float32 scale of each channel: max |w| / L, or 1 for a channel of zeros. */
export function perChannelScales(values: Float32Array, channels: number, bits: number): Float32Array {
  const limit = symmetricLimit(bits);
  const largest = new Float32Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = i % channels;
    const magnitude = Math.abs(values[i]!);
    if (magnitude > largest[c]!) largest[c] = magnitude;
  }
  return largest.map((max) => (max > 0 ? Math.fround(max / limit) : 1));
}

/** Integers and scales of one kernel. */
export function quantizePerChannel(
  name: string,
  values: Float32Array,
  shape: number[],
  channelAxes: number,
  bits: number,
): PerChannelWeight {
  const channels = channelCount(shape, channelAxes);
  const scales = perChannelScales(values, channels, bits);
  const limit = symmetricLimit(bits);
  const integers = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const q = roundHalfToEven(Math.fround(values[i]! / scales[i % channels]!));
    integers[i] = q < -limit ? -limit : q > limit ? limit : q;
  }
  return { name, shape: [...shape], channels, bits, scales, values: integers };
}

/** w' = q · scale[c] in float32: what ONNX's DequantizeLinear computes. */
export function dequantizePerChannel(
  weight: Pick<PerChannelWeight, 'values' | 'scales' | 'channels'>,
): Float32Array {
  const out = new Float32Array(weight.values.length);
  for (let i = 0; i < out.length; i++)
    out[i] = Math.fround(weight.values[i]! * weight.scales[i % weight.channels]!);
  return out;
}

/** Largest and mean |w − w'| of one kernel. */
export function perChannelError(
  values: Float32Array,
  weight: PerChannelWeight,
): { max: number; sum: number } {
  const restored = dequantizePerChannel(weight);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const error = Math.abs(values[i]! - restored[i]!);
    if (error > max) max = error;
    sum += error;
  }
  return { max, sum };
}
