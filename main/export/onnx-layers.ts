/**
 * One converter per TensorFlow.js layer type, from the layer's Keras config and weights to ONNX
 * nodes (opset 13). Layout: tfjs is channels-last; ONNX's Conv, pooling, Resize and Pad work on
 * NCHW. Every rank-4 value is therefore held NCHW inside the graph: a graph input is transposed
 * once on entry, a rank-4 output once on exit, and layers that read the channels-last order
 * (Flatten, Dense and Reshape on a feature map) transpose back first, so that flattening orders
 * values exactly as tfjs does. ONNX Runtime's optimiser cancels the adjacent transposes.
 *
 * Weights with per-channel integers (quantized-weights.ts) become an int8 initializer and a
 * DequantizeLinear with one scale per output channel (`axis`): QDQ form.
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

export interface LayerConverter {
  /** Why this layer's config cannot be exported, or undefined when it can. */
  check?(config: Record<string, unknown>): string | undefined;
  convert(ctx: ConvertContext, inputs: GraphValue[]): GraphValue;
}

// ---------------------------------------------------------------------------------------------
// Helpers

const SELU_SCALE = 1.0507009873554805;
/** tfjs-core's selu uses scale·alpha; ONNX takes alpha and gamma = scale. */
const SELU_ALPHA = 1.7580993408473768 / SELU_SCALE;

function unsupported(ctx: ConvertContext, reason: string): DistilleryError {
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
const shown = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

const pair = (value: unknown, fallback: number): [number, number] => {
  if (Array.isArray(value)) return [Number(value[0] ?? fallback), Number(value[1] ?? value[0] ?? fallback)];
  if (typeof value === 'number') return [value, value];
  return [fallback, fallback];
};

const rankOf = (value: GraphValue): number => value.shape.length;

/** Position of logical (channels-last) axis `axis` in the value as the graph holds it. */
export function physicalAxis(value: GraphValue, axis: number): number {
  const rank = rankOf(value);
  const normalized = axis < 0 ? rank + axis : axis;
  if (!value.channelsFirst) return normalized;
  return [0, 2, 3, 1][normalized]!;
}

function toChannelsLast(ctx: ConvertContext, value: GraphValue): GraphValue {
  if (!value.channelsFirst) return value;
  const name = ctx.graph.node('Transpose', [value.name], `${ctx.layer.name}/to_nhwc`, [
    attribute.ints('perm', [0, 2, 3, 1]),
  ]);
  return { name, shape: value.shape, channelsFirst: false };
}

function toChannelsFirst(ctx: ConvertContext, value: GraphValue): GraphValue {
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
function kernelInput(
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

function biasInput(ctx: ConvertContext, suffix = 'bias'): string | undefined {
  if (ctx.layer.config.use_bias === false) return undefined;
  const bias = ctx.optionalWeight(suffix);
  return bias
    ? ctx.graph.floats(`${ctx.layer.name}/${suffix}`, [bias.values.length], bias.values)
    : undefined;
}

function scalar(ctx: ConvertContext, name: string, value: number): string {
  return ctx.graph.floats(`${ctx.layer.name}/${name}`, [], [value]);
}

/**
 * Activation names this exporter writes: tfjs-layers' class names, and the snake_case spelling its
 * serialisation (and Keras) writes into model.json for the camelCase ones.
 */
export const EXPORTABLE_ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'tanh',
  'sigmoid',
  'hardSigmoid',
  'hard_sigmoid',
  'elu',
  'selu',
  'softplus',
  'softsign',
  'swish',
  'mish',
  'gelu',
  'gelu_new',
  'softmax',
  'logSoftmax',
  'log_softmax',
] as const;

function activationName(config: Record<string, unknown>): string {
  return typeof config.activation === 'string' ? config.activation : 'linear';
}

function checkActivation(config: Record<string, unknown>): string | undefined {
  const name = activationName(config);
  return (EXPORTABLE_ACTIVATIONS as readonly string[]).includes(name)
    ? undefined
    : `activation "${name}" (exportable: ${EXPORTABLE_ACTIVATIONS.join(', ')})`;
}

/** Applies a tfjs activation by name (tfjs-layers activations.js, formula for formula). */
function applyActivation(ctx: ConvertContext, value: GraphValue, name: string): GraphValue {
  const { graph } = ctx;
  const base = `${ctx.layer.name}/${name}`;
  const x = value.name;
  const out = (output: string): GraphValue => ({ ...value, name: output });
  switch (name) {
    case 'linear':
      return value;
    case 'relu':
      return out(graph.node('Relu', [x], base));
    case 'relu6':
      return out(graph.node('Clip', [x, scalar(ctx, 'clip_min', 0), scalar(ctx, 'clip_max', 6)], base));
    case 'tanh':
      return out(graph.node('Tanh', [x], base));
    case 'sigmoid':
      return out(graph.node('Sigmoid', [x], base));
    case 'hardSigmoid':
    case 'hard_sigmoid':
      return out(
        graph.node('HardSigmoid', [x], base, [attribute.float('alpha', 0.2), attribute.float('beta', 0.5)]),
      );
    case 'elu':
      return out(graph.node('Elu', [x], base, [attribute.float('alpha', 1)]));
    case 'selu':
      return out(
        graph.node('Selu', [x], base, [
          attribute.float('alpha', SELU_ALPHA),
          attribute.float('gamma', SELU_SCALE),
        ]),
      );
    case 'softplus':
      return out(graph.node('Softplus', [x], base));
    case 'softsign':
      return out(graph.node('Softsign', [x], base));
    case 'swish':
      return out(graph.node('Mul', [graph.node('Sigmoid', [x], `${base}/sigmoid`), x], base));
    case 'mish': {
      const softplus = graph.node('Softplus', [x], `${base}/softplus`);
      return out(graph.node('Mul', [x, graph.node('Tanh', [softplus], `${base}/tanh`)], base));
    }
    case 'gelu': {
      // x · ½(1 + erf(x / √2)), the exact form tfjs uses.
      const scaled = graph.node('Div', [x, scalar(ctx, 'sqrt2', Math.SQRT2)], `${base}/div`);
      const erf = graph.node('Erf', [scaled], `${base}/erf`);
      const onePlus = graph.node('Add', [erf, scalar(ctx, 'one', 1)], `${base}/add`);
      const half = graph.node('Mul', [onePlus, scalar(ctx, 'half', 0.5)], `${base}/half`);
      return out(graph.node('Mul', [x, half], base));
    }
    case 'gelu_new': {
      // ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
      const cube = graph.node('Mul', [graph.node('Mul', [x, x], `${base}/square`), x], `${base}/cube`);
      const inner = graph.node(
        'Add',
        [x, graph.node('Mul', [cube, scalar(ctx, 'coefficient', 0.044715)], `${base}/scaled_cube`)],
        `${base}/inner`,
      );
      const tanh = graph.node(
        'Tanh',
        [graph.node('Mul', [inner, scalar(ctx, 'sqrt_2_over_pi', Math.sqrt(2 / Math.PI))], `${base}/scaled`)],
        `${base}/tanh`,
      );
      const onePlus = graph.node('Add', [tanh, scalar(ctx, 'one', 1)], `${base}/add`);
      const half = graph.node('Mul', [x, scalar(ctx, 'half', 0.5)], `${base}/half_x`);
      return out(graph.node('Mul', [half, onePlus], base));
    }
    case 'softmax':
      return out(graph.node('Softmax', [x], base, [attribute.int('axis', physicalAxis(value, -1))]));
    case 'logSoftmax':
    case 'log_softmax':
      return out(graph.node('LogSoftmax', [x], base, [attribute.int('axis', physicalAxis(value, -1))]));
    default:
      throw unsupported(ctx, `activation "${name}"`);
  }
}

/** TensorFlow's SAME padding of one spatial axis: [before, after], the odd pixel after. */
function samePadding(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max(0, (out - 1) * stride + effective - size);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

interface Window {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** ONNX pads: [top, left, bottom, right]. */
  pads: number[];
  outSize: [number, number];
}

/** The sliding window of a conv or pooling layer over a [null, h, w, c] input. */
function windowOf(
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

function windowAttributes(window: Window, withDilations: boolean): Attribute[] {
  return [
    attribute.ints('kernel_shape', window.kernel),
    attribute.ints('strides', window.strides),
    ...(withDilations ? [attribute.ints('dilations', window.dilations)] : []),
    attribute.ints('pads', window.pads),
  ];
}

function requireRank(ctx: ConvertContext, value: GraphValue, rank: number): void {
  if (rankOf(value) !== rank) {
    throw unsupported(ctx, `input of rank ${rankOf(value)}, expected rank ${rank}`);
  }
}

const channelsLastOnly = (config: Record<string, unknown>): string | undefined =>
  config.data_format === undefined || config.data_format === 'channels_last'
    ? undefined
    : `data_format ${shown(config.data_format)} (only channels_last)`;

const all =
  (...checks: Array<(config: Record<string, unknown>) => string | undefined>) =>
  (config: Record<string, unknown>): string | undefined => {
    for (const check of checks) {
      const problem = check(config);
      if (problem) return problem;
    }
    return undefined;
  };

const single = (ctx: ConvertContext, inputs: GraphValue[]): GraphValue => {
  if (inputs.length !== 1) throw unsupported(ctx, `${inputs.length} inputs, expected 1`);
  return inputs[0]!;
};

// ---------------------------------------------------------------------------------------------
// Converters

const identity: LayerConverter = { convert: (ctx, inputs) => single(ctx, inputs) };

const dense: LayerConverter = {
  check: checkActivation,
  convert(ctx, inputs) {
    const input = toChannelsLast(ctx, single(ctx, inputs));
    const kernel = ctx.weight('kernel');
    const [inUnits, units] = kernel.shape as [number, number];
    if (input.shape.at(-1) !== inUnits) {
      throw unsupported(ctx, `input with ${String(input.shape.at(-1))} features, kernel expects ${inUnits}`);
    }
    const weight = kernelInput(ctx, 'kernel', null, [inUnits, units], 1);
    let name = ctx.graph.node('MatMul', [input.name, weight], `${ctx.layer.name}/MatMul`);
    const bias = biasInput(ctx);
    if (bias) name = ctx.graph.node('Add', [name, bias], `${ctx.layer.name}/BiasAdd`);
    const value: GraphValue = { name, shape: [...input.shape.slice(0, -1), units], channelsFirst: false };
    return toChannelsFirst(ctx, applyActivation(ctx, value, activationName(ctx.layer.config)));
  },
};

const conv2d: LayerConverter = {
  check: all(checkActivation, channelsLastOnly, (config) =>
    config.groups !== undefined && config.groups !== 1 ? `groups ${shown(config.groups)}` : undefined,
  ),
  convert(ctx, inputs) {
    const input = single(ctx, inputs);
    requireRank(ctx, input, 4);
    const kernel = ctx.weight('kernel');
    const [kh, kw, inChannels, filters] = kernel.shape as [number, number, number, number];
    const window = windowOf(
      ctx,
      input,
      [kh, kw],
      pair(ctx.layer.config.strides, 1),
      pair(ctx.layer.config.dilation_rate, 1),
    );
    const weight = kernelInput(ctx, 'kernel', [3, 2, 0, 1], [filters, inChannels, kh, kw], 0);
    const bias = biasInput(ctx);
    const name = ctx.graph.node(
      'Conv',
      [input.name, weight, ...(bias ? [bias] : [])],
      `${ctx.layer.name}/Conv`,
      [...windowAttributes(window, true), attribute.int('group', 1)],
    );
    const value: GraphValue = { name, shape: [null, ...window.outSize, filters], channelsFirst: true };
    return applyActivation(ctx, value, activationName(ctx.layer.config));
  },
};

/** Depthwise convolution as a grouped Conv: channel c·m + j of the output is filter j of input channel c. */
function depthwise(ctx: ConvertContext, input: GraphValue, suffix: string, withBias: boolean): GraphValue {
  requireRank(ctx, input, 4);
  const kernel = ctx.weight(suffix);
  const [kh, kw, inChannels, multiplier] = kernel.shape as [number, number, number, number];
  const window = windowOf(
    ctx,
    input,
    [kh, kw],
    pair(ctx.layer.config.strides, 1),
    pair(ctx.layer.config.dilation_rate, 1),
  );
  const weight = kernelInput(ctx, suffix, [2, 3, 0, 1], [inChannels * multiplier, 1, kh, kw], 0);
  const bias = withBias ? biasInput(ctx) : undefined;
  const name = ctx.graph.node(
    'Conv',
    [input.name, weight, ...(bias ? [bias] : [])],
    `${ctx.layer.name}/DepthwiseConv`,
    [...windowAttributes(window, true), attribute.int('group', inChannels)],
  );
  return { name, shape: [null, ...window.outSize, inChannels * multiplier], channelsFirst: true };
}

const depthwiseConv2d: LayerConverter = {
  check: all(checkActivation, channelsLastOnly),
  convert(ctx, inputs) {
    const value = depthwise(ctx, single(ctx, inputs), 'depthwise_kernel', true);
    return applyActivation(ctx, value, activationName(ctx.layer.config));
  },
};

const separableConv2d: LayerConverter = {
  check: all(checkActivation, channelsLastOnly),
  convert(ctx, inputs) {
    const spatial = depthwise(ctx, single(ctx, inputs), 'depthwise_kernel', false);
    const pointwise = ctx.weight('pointwise_kernel');
    const [, , channels, filters] = pointwise.shape as [number, number, number, number];
    const weight = kernelInput(ctx, 'pointwise_kernel', [3, 2, 0, 1], [filters, channels, 1, 1], 0);
    const bias = biasInput(ctx);
    const name = ctx.graph.node(
      'Conv',
      [spatial.name, weight, ...(bias ? [bias] : [])],
      `${ctx.layer.name}/PointwiseConv`,
      [attribute.ints('kernel_shape', [1, 1])],
    );
    const value: GraphValue = {
      name,
      shape: [null, spatial.shape[1]!, spatial.shape[2]!, filters],
      channelsFirst: true,
    };
    return applyActivation(ctx, value, activationName(ctx.layer.config));
  },
};

function pooling(opType: 'MaxPool' | 'AveragePool'): LayerConverter {
  return {
    check: channelsLastOnly,
    convert(ctx, inputs) {
      const input = single(ctx, inputs);
      requireRank(ctx, input, 4);
      const size = pair(ctx.layer.config.pool_size, 2);
      const strides = ctx.layer.config.strides == null ? size : pair(ctx.layer.config.strides, 1);
      const window = windowOf(ctx, input, size, strides, [1, 1]);
      // TensorFlow's average pooling leaves SAME padding out of the mean (count_include_pad 0, the default).
      const name = ctx.graph.node(
        opType,
        [input.name],
        `${ctx.layer.name}/${opType}`,
        windowAttributes(window, false),
      );
      return { name, shape: [null, ...window.outSize, input.shape[3]!], channelsFirst: true };
    },
  };
}

function globalPooling(opType: 'ReduceMean' | 'ReduceMax'): LayerConverter {
  return {
    check: channelsLastOnly,
    convert(ctx, inputs) {
      const input = single(ctx, inputs);
      requireRank(ctx, input, 4);
      const keep = ctx.layer.config.keepdims === true;
      const name = ctx.graph.node(opType, [input.name], `${ctx.layer.name}/${opType}`, [
        attribute.ints('axes', [2, 3]),
        attribute.int('keepdims', keep ? 1 : 0),
      ]);
      const channels = input.shape[3]!;
      return keep
        ? { name, shape: [null, 1, 1, channels], channelsFirst: true }
        : { name, shape: [null, channels], channelsFirst: false };
    },
  };
}

const flatten: LayerConverter = {
  check: channelsLastOnly,
  convert(ctx, inputs) {
    const input = toChannelsLast(ctx, single(ctx, inputs));
    if (rankOf(input) <= 2) return input;
    const size = input.shape.slice(1).reduce<number>((a, b) => a * b!, 1);
    const name = ctx.graph.node('Flatten', [input.name], `${ctx.layer.name}/Flatten`, [
      attribute.int('axis', 1),
    ]);
    return { name, shape: [null, size], channelsFirst: false };
  },
};

const reshape: LayerConverter = {
  convert(ctx, inputs) {
    const input = toChannelsLast(ctx, single(ctx, inputs));
    const target = ctx.layer.config.target_shape;
    if (!Array.isArray(target) || !target.every((d) => Number.isInteger(d))) {
      throw unsupported(ctx, `target_shape ${JSON.stringify(target)}`);
    }
    const size = input.shape.slice(1).reduce<number>((a, b) => a * b!, 1);
    const known = (target as number[]).filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const resolved = (target as number[]).map((d) => (d === -1 ? size / known : d));
    if (
      resolved.reduce((a, b) => a * b, 1) !== size ||
      !resolved.every((d) => Number.isInteger(d) && d > 0)
    ) {
      throw unsupported(ctx, `target_shape ${JSON.stringify(target)} for ${size} values`);
    }
    // 0 copies the (symbolic) batch size from the input.
    const shape = ctx.graph.int64s(`${ctx.layer.name}/shape`, [0, ...resolved]);
    const name = ctx.graph.node('Reshape', [input.name, shape], `${ctx.layer.name}/Reshape`);
    return toChannelsFirst(ctx, { name, shape: [null, ...resolved], channelsFirst: false });
  },
};

const concatenate: LayerConverter = {
  convert(ctx, inputs) {
    const rank = rankOf(inputs[0]!);
    if (inputs.length < 2 || inputs.some((input) => rankOf(input) !== rank)) {
      throw unsupported(ctx, 'inputs of different ranks');
    }
    const axis = typeof ctx.layer.config.axis === 'number' ? ctx.layer.config.axis : -1;
    const logical = axis < 0 ? rank + axis : axis;
    const shape = [...inputs[0]!.shape];
    shape[logical] = inputs.reduce((sum, input) => sum + input.shape[logical]!, 0);
    const name = ctx.graph.node(
      'Concat',
      inputs.map((input) => input.name),
      `${ctx.layer.name}/Concat`,
      [attribute.int('axis', physicalAxis(inputs[0]!, axis))],
    );
    return { name, shape, channelsFirst: inputs[0]!.channelsFirst };
  },
};

/** Element-wise merge layers (inputs of one shape). */
function merge(kind: 'Add' | 'Multiply' | 'Average' | 'Maximum' | 'Minimum'): LayerConverter {
  return {
    convert(ctx, inputs) {
      const first = inputs[0]!;
      if (inputs.length < 2 || inputs.some((input) => input.shape.join() !== first.shape.join())) {
        throw unsupported(
          ctx,
          `inputs of shapes ${inputs.map((input) => `[${input.shape.join(', ')}]`).join(', ')} (expected equal)`,
        );
      }
      const names = inputs.map((input) => input.name);
      const base = `${ctx.layer.name}/${kind}`;
      let name: string;
      switch (kind) {
        case 'Add':
          name = ctx.graph.node('Sum', names, base);
          break;
        case 'Average':
          name = ctx.graph.node('Mean', names, base);
          break;
        case 'Maximum':
          name = ctx.graph.node('Max', names, base);
          break;
        case 'Minimum':
          name = ctx.graph.node('Min', names, base);
          break;
        case 'Multiply':
          name = names
            .slice(1)
            .reduce((product, next) => ctx.graph.node('Mul', [product, next], base), names[0]!);
          break;
      }
      return { ...first, name };
    },
  };
}

const upSampling2d: LayerConverter = {
  check: all(channelsLastOnly, (config) =>
    config.interpolation === undefined ||
    config.interpolation === 'nearest' ||
    config.interpolation === 'bilinear'
      ? undefined
      : `interpolation ${shown(config.interpolation)}`,
  ),
  convert(ctx, inputs) {
    const input = single(ctx, inputs);
    requireRank(ctx, input, 4);
    const [sh, sw] = pair(ctx.layer.config.size, 2);
    const scales = ctx.graph.floats(`${ctx.layer.name}/scales`, [4], [1, 1, sh, sw]);
    // tfjs resizes with alignCorners and halfPixelCenters false: source = floor(target / scale).
    const bilinear = ctx.layer.config.interpolation === 'bilinear';
    const name = ctx.graph.node('Resize', [input.name, '', scales], `${ctx.layer.name}/Resize`, [
      attribute.string('mode', bilinear ? 'linear' : 'nearest'),
      attribute.string('coordinate_transformation_mode', 'asymmetric'),
      ...(bilinear ? [] : [attribute.string('nearest_mode', 'floor')]),
    ]);
    return {
      name,
      shape: [null, input.shape[1]! * sh, input.shape[2]! * sw, input.shape[3]!],
      channelsFirst: true,
    };
  },
};

const zeroPadding2d: LayerConverter = {
  check: channelsLastOnly,
  convert(ctx, inputs) {
    const input = single(ctx, inputs);
    requireRank(ctx, input, 4);
    const padding = ctx.layer.config.padding;
    let rows: [number, number] = [1, 1];
    let columns: [number, number] = [1, 1];
    if (typeof padding === 'number') {
      rows = [padding, padding];
      columns = [padding, padding];
    } else if (Array.isArray(padding) && Array.isArray(padding[0])) {
      // [[top, bottom], [left, right]]
      rows = pair(padding[0], 0);
      columns = pair(padding[1], 0);
    } else if (Array.isArray(padding)) {
      // [rows, columns], each applied on both sides
      rows = [Number(padding[0]), Number(padding[0])];
      columns = [Number(padding[1]), Number(padding[1])];
    }
    const pads = ctx.graph.int64s(`${ctx.layer.name}/pads`, [
      0,
      0,
      rows[0],
      columns[0],
      0,
      0,
      rows[1],
      columns[1],
    ]);
    const name = ctx.graph.node('Pad', [input.name, pads], `${ctx.layer.name}/Pad`, [
      attribute.string('mode', 'constant'),
    ]);
    return {
      name,
      shape: [
        null,
        input.shape[1]! + rows[0] + rows[1],
        input.shape[2]! + columns[0] + columns[1],
        input.shape[3]!,
      ],
      channelsFirst: true,
    };
  },
};

const batchNormalization: LayerConverter = {
  check: (config) =>
    config.axis === undefined || config.axis === -1 || config.axis === 3
      ? undefined
      : `axis ${shown(config.axis)} (only the channel axis)`,
  convert(ctx, inputs) {
    const input = single(ctx, inputs);
    const rank = rankOf(input);
    if (rank !== 2 && rank !== 4) throw unsupported(ctx, `input of rank ${rank} (expected 2 or 4)`);
    const channels = input.shape.at(-1)!;
    const named = (suffix: string, fallback: number): string => {
      const weight = ctx.optionalWeight(suffix);
      return ctx.graph.floats(
        `${ctx.layer.name}/${suffix}`,
        [channels],
        weight ? weight.values : new Float32Array(channels).fill(fallback),
      );
    };
    const epsilon = typeof ctx.layer.config.epsilon === 'number' ? ctx.layer.config.epsilon : 1e-3;
    const name = ctx.graph.node(
      'BatchNormalization',
      [input.name, named('gamma', 1), named('beta', 0), named('moving_mean', 0), named('moving_variance', 1)],
      `${ctx.layer.name}/BatchNormalization`,
      [attribute.float('epsilon', epsilon)],
    );
    return { ...input, name };
  },
};

const activationLayer: LayerConverter = {
  check: checkActivation,
  convert: (ctx, inputs) => applyActivation(ctx, single(ctx, inputs), activationName(ctx.layer.config)),
};

const reluLayer: LayerConverter = {
  check: (config) => (config.threshold || config.negative_slope ? 'threshold or negative_slope' : undefined),
  convert(ctx, inputs) {
    const input = single(ctx, inputs);
    const max = ctx.layer.config.max_value;
    if (typeof max !== 'number') return applyActivation(ctx, input, 'relu');
    const name = ctx.graph.node(
      'Clip',
      [input.name, scalar(ctx, 'clip_min', 0), scalar(ctx, 'clip_max', max)],
      `${ctx.layer.name}/Clip`,
    );
    return { ...input, name };
  },
};

const leakyRelu: LayerConverter = {
  convert(ctx, inputs) {
    const input = single(ctx, inputs);
    const alpha = typeof ctx.layer.config.alpha === 'number' ? ctx.layer.config.alpha : 0.3;
    return {
      ...input,
      name: ctx.graph.node('LeakyRelu', [input.name], `${ctx.layer.name}/LeakyRelu`, [
        attribute.float('alpha', alpha),
      ]),
    };
  },
};

const eluLayer: LayerConverter = {
  convert(ctx, inputs) {
    const input = single(ctx, inputs);
    const alpha = typeof ctx.layer.config.alpha === 'number' ? ctx.layer.config.alpha : 1;
    return {
      ...input,
      name: ctx.graph.node('Elu', [input.name], `${ctx.layer.name}/Elu`, [attribute.float('alpha', alpha)]),
    };
  },
};

const softmaxLayer: LayerConverter = {
  check: (config) =>
    Array.isArray(config.axis) && config.axis.length > 1 ? 'softmax over several axes' : undefined,
  convert(ctx, inputs) {
    const input = single(ctx, inputs);
    const raw = ctx.layer.config.axis;
    const axis = Array.isArray(raw) ? Number(raw[0]) : typeof raw === 'number' ? raw : -1;
    return {
      ...input,
      name: ctx.graph.node('Softmax', [input.name], `${ctx.layer.name}/Softmax`, [
        attribute.int('axis', physicalAxis(input, axis)),
      ]),
    };
  },
};

/** Layer class names → their converters. Layers that only act in training export as identities. */
export const LAYER_CONVERTERS: Record<string, LayerConverter> = {
  Dense: dense,
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  MaxPooling2D: pooling('MaxPool'),
  AveragePooling2D: pooling('AveragePool'),
  GlobalAveragePooling2D: globalPooling('ReduceMean'),
  GlobalMaxPooling2D: globalPooling('ReduceMax'),
  Flatten: flatten,
  Reshape: reshape,
  Concatenate: concatenate,
  Add: merge('Add'),
  Multiply: merge('Multiply'),
  Average: merge('Average'),
  Maximum: merge('Maximum'),
  Minimum: merge('Minimum'),
  UpSampling2D: upSampling2d,
  ZeroPadding2D: zeroPadding2d,
  BatchNormalization: batchNormalization,
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyRelu,
  ELU: eluLayer,
  Softmax: softmaxLayer,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
};

/** Graph-level conversions the exporter applies at the inputs and outputs. */
export const layout = { toChannelsFirst, toChannelsLast };
