/**
 * What the ONNX layer converters share: the context they are given, the channels-first layout of
 * rank-4 values, kernels and biases as initializers (QDQ for per-channel integers), the sliding
 * window of conv and pooling layers, and the checks of a layer's config and inputs.
 */
import { DistilleryError } from '../base/errors';
import { attribute, type Attribute, type GraphValue, type OnnxGraphBuilder } from './onnx-graph';
import type { LayerNode, WeightValue } from './layers-model';
import type { PerChannelWeight } from './quantized-weights';

/** What a converter may use: the graph, its layer, and the layer's weights by suffix (`kernel`). */
export interface ConvertContext {
  graph: OnnxGraphBuilder;
  layer: LayerNode;
  /** `<layer>/<suffix>`; throws MODEL_INVALID when missing. */
  weight(suffix: string): WeightValue;
  optionalWeight(suffix: string): WeightValue | undefined;
  /** The per-channel integers of `<layer>/<suffix>`, when the model has them. */
  quantized(suffix: string): PerChannelWeight | undefined;
}

/** Converts one tfjs layer type. */
export interface LayerConverter {
  /** Why this layer's config cannot be exported, or undefined when it can. */
  check?(config: Record<string, unknown>): string | undefined;
  convert(ctx: ConvertContext, inputs: GraphValue[]): GraphValue;
}

/** EXPORT_UNSUPPORTED naming the layer and why. */
export function unsupported(ctx: ConvertContext, reason: string): DistilleryError {
  return new DistilleryError(
    'EXPORT_UNSUPPORTED',
    `Not exportable to ONNX: layer "${ctx.layer.name}" (${ctx.layer.className}): ${reason}`,
    {
      layer: ctx.layer.name,
      layerType: ctx.layer.className,
      expected: 'a layer ONNX opset 13 expresses',
      received: reason,
    },
  );
}

/** A config value in a message. */
export const shown = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

/** A Keras pair config (`[2, 3]` or `2`) as two numbers. */
export const pair = (value: unknown, fallback: number): [number, number] => {
  if (Array.isArray(value)) return [Number(value[0] ?? fallback), Number(value[1] ?? value[0] ?? fallback)];
  if (typeof value === 'number') return [value, value];
  return [fallback, fallback];
};

/** The rank of a value as the graph holds it. */
export const rankOf = (value: GraphValue): number => value.shape.length;

/** Position of logical (channels-last) axis `axis` in the value as the graph holds it. */
export function physicalAxis(value: GraphValue, axis: number): number {
  const rank = rankOf(value);
  const normalized = axis < 0 ? rank + axis : axis;
  if (!value.channelsFirst) return normalized;
  return [0, 2, 3, 1][normalized]!;
}

/** The value in tfjs's channels-last order: rank-4 values are transposed back from NCHW. */
export function toChannelsLast(ctx: ConvertContext, value: GraphValue): GraphValue {
  if (!value.channelsFirst) return value;
  const name = ctx.graph.node('Transpose', [value.name], `${ctx.layer.name}/to_nhwc`, [
    attribute.ints('perm', [0, 2, 3, 1]),
  ]);
  return { name, shape: value.shape, channelsFirst: false };
}

/** The value as the graph holds it: rank-4 values transposed to NCHW. */
export function toChannelsFirst(ctx: ConvertContext, value: GraphValue): GraphValue {
  if (value.channelsFirst || rankOf(value) !== 4) return value;
  const name = ctx.graph.node('Transpose', [value.name], `${ctx.layer.name}/to_nchw`, [
    attribute.ints('perm', [0, 3, 1, 2]),
  ]);
  return { name, shape: value.shape, channelsFirst: true };
}

/** Transposes a row-major array of `shape` by `perm` (numpy's transpose). */
export function transposeValues<T extends Float32Array | Int8Array>(
  values: T,
  shape: number[],
  perm: number[],
): T {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * shape[i + 1]!;
  const out = new (values.constructor as new (length: number) => T)(values.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < values.length; o++) {
    let source = 0;
    for (let d = 0; d < rank; d++) source += index[d]! * inStrides[perm[d]!]!;
    out[o] = values[source]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d]! < outShape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/**
 * A kernel as ONNX wants it (`perm` of the tfjs layout, then `onnxShape`): a float initializer, or
 * with per-channel integers an int8 initializer + DequantizeLinear along `axis` (output channels).
 */
export function kernelInput(
  ctx: ConvertContext,
  suffix: string,
  perm: number[] | null,
  onnxShape: number[],
  axis: number,
): string {
  const weight = ctx.weight(suffix);
  const base = `${ctx.layer.name}/${suffix}`;
  const quantized = ctx.quantized(suffix);
  if (!quantized) {
    const values = perm ? transposeValues(weight.values, weight.shape, perm) : weight.values;
    return ctx.graph.floats(base, onnxShape, values);
  }
  if (quantized.shape.join() !== weight.shape.join()) {
    throw new DistilleryError(
      'MODEL_INVALID',
      `Per-channel weights of ${base} have shape [${quantized.shape.join(', ')}], the model's [${weight.shape.join(', ')}]`,
      { layer: ctx.layer.name, expected: `[${weight.shape.join(', ')}]`, received: quantized.shape },
    );
  }
  const channels = onnxShape[axis]!;
  if (quantized.channels !== channels) {
    throw new DistilleryError(
      'MODEL_INVALID',
      `Per-channel weights of ${base} have ${quantized.channels} scales; the layer has ${channels} output channels`,
      { layer: ctx.layer.name, expected: `${channels} scales`, received: quantized.channels },
    );
  }
  const values = perm ? transposeValues(quantized.values, quantized.shape, perm) : quantized.values;
  const integers = ctx.graph.int8s(`${base}_quantized`, onnxShape, values);
  const scale = ctx.graph.floats(`${base}_scale`, [channels], quantized.scales);
  const zeroPoint = ctx.graph.int8s(`${base}_zero_point`, [channels], new Int8Array(channels));
  return ctx.graph.node('DequantizeLinear', [integers, scale, zeroPoint], base, [
    attribute.int('axis', axis),
  ]);
}

/** The layer's bias as an initializer; undefined when it has none. */
export function biasInput(ctx: ConvertContext, suffix = 'bias'): string | undefined {
  if (ctx.layer.config.use_bias === false) return undefined;
  const bias = ctx.optionalWeight(suffix);
  return bias
    ? ctx.graph.floats(`${ctx.layer.name}/${suffix}`, [bias.values.length], bias.values)
    : undefined;
}

/** A float scalar initializer named after the layer. */
export function scalar(ctx: ConvertContext, name: string, value: number): string {
  return ctx.graph.floats(`${ctx.layer.name}/${name}`, [], [value]);
}

/** TensorFlow's SAME padding of one spatial axis: [before, after], the odd pixel after. */
export function samePadding(
  size: number,
  kernel: number,
  stride: number,
  dilation: number,
): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max(0, (out - 1) * stride + effective - size);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** A conv or pooling window, its ONNX pads and the output size. */
export interface Window {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** ONNX pads: [top, left, bottom, right]. */
  pads: number[];
  outSize: [number, number];
}

/** The sliding window of a conv or pooling layer over a [null, h, w, c] input. */
export function windowOf(
  ctx: ConvertContext,
  input: GraphValue,
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
): Window {
  const padding = ctx.layer.config.padding ?? 'valid';
  const size = [input.shape[1]!, input.shape[2]!] as [number, number];
  if (padding !== 'valid' && padding !== 'same') throw unsupported(ctx, `padding ${shown(padding)}`);
  const pads = [0, 0, 0, 0];
  const outSize: [number, number] = [0, 0];
  for (const axis of [0, 1] as const) {
    const effective = (kernel[axis] - 1) * dilations[axis] + 1;
    if (padding === 'same') {
      const [before, after] = samePadding(size[axis], kernel[axis], strides[axis], dilations[axis]);
      pads[axis] = before;
      pads[axis + 2] = after;
      outSize[axis] = Math.ceil(size[axis] / strides[axis]);
    } else {
      outSize[axis] = Math.floor((size[axis] - effective) / strides[axis]) + 1;
    }
    if (outSize[axis] < 1) throw unsupported(ctx, `the window does not fit the ${size.join('×')} input`);
  }
  return { kernel, strides, dilations, pads, outSize };
}

/** The ONNX attributes of a window (dilations only for convolutions). */
export function windowAttributes(window: Window, withDilations: boolean): Attribute[] {
  return [
    attribute.ints('kernel_shape', window.kernel),
    attribute.ints('strides', window.strides),
    ...(withDilations ? [attribute.ints('dilations', window.dilations)] : []),
    attribute.ints('pads', window.pads),
  ];
}

/** EXPORT_UNSUPPORTED unless the input has rank `rank`. */
export function requireRank(ctx: ConvertContext, value: GraphValue, rank: number): void {
  if (rankOf(value) !== rank) {
    throw unsupported(ctx, `input of rank ${rankOf(value)}, expected rank ${rank}`);
  }
}

/** A check refusing data formats other than channels_last. */
export const channelsLastOnly = (config: Record<string, unknown>): string | undefined =>
  config.data_format === undefined || config.data_format === 'channels_last'
    ? undefined
    : `data_format ${shown(config.data_format)} (only channels_last)`;

/** The first problem any of the checks finds. */
export const all =
  (...checks: Array<(config: Record<string, unknown>) => string | undefined>) =>
  (config: Record<string, unknown>): string | undefined => {
    for (const check of checks) {
      const problem = check(config);
      if (problem) return problem;
    }
    return undefined;
  };

/** The one input of a layer that takes one. */
export const single = (ctx: ConvertContext, inputs: GraphValue[]): GraphValue => {
  if (inputs.length !== 1) throw unsupported(ctx, `${inputs.length} inputs, expected 1`);
  return inputs[0]!;
};
