/**
 * Converters of the layers with kernels or a sliding window: Dense, Conv2D, DepthwiseConv2D,
 * SeparableConv2D, pooling, global pooling, and BatchNormalization.
 */
import { attribute, type GraphValue } from './onnx-graph';
import { activationName, applyActivation, checkActivation } from './onnx-activations';
import {
  all,
  biasInput,
  channelsLastOnly,
  kernelInput,
  pair,
  rankOf,
  requireRank,
  shown,
  single,
  toChannelsFirst,
  toChannelsLast,
  unsupported,
  windowAttributes,
  windowOf,
  type ConvertContext,
  type LayerConverter,
} from './onnx-layer-helpers';

/** Dense: MatMul, bias, activation, on the channels-last features. */
export const dense: LayerConverter = {
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

/** Conv2D: Conv on NCHW, bias, activation. */
export const conv2d: LayerConverter = {
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
export function depthwise(
  ctx: ConvertContext,
  input: GraphValue,
  suffix: string,
  withBias: boolean,
): GraphValue {
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

/** DepthwiseConv2D: a grouped Conv. */
export const depthwiseConv2d: LayerConverter = {
  check: all(checkActivation, channelsLastOnly),
  convert(ctx, inputs) {
    const value = depthwise(ctx, single(ctx, inputs), 'depthwise_kernel', true);
    return applyActivation(ctx, value, activationName(ctx.layer.config));
  },
};

/** SeparableConv2D: a depthwise Conv, then a pointwise one. */
export const separableConv2d: LayerConverter = {
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

/** MaxPooling2D / AveragePooling2D. */
export function pooling(opType: 'MaxPool' | 'AveragePool'): LayerConverter {
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

/** GlobalAveragePooling2D / GlobalMaxPooling2D. */
export function globalPooling(opType: 'ReduceMean' | 'ReduceMax'): LayerConverter {
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

/** BatchNormalization over the channel axis. */
export const batchNormalization: LayerConverter = {
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
