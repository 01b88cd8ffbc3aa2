/**
 * Converters of the layers that reshape or combine values: Flatten, Reshape, Concatenate, the
 * merges (Add, Multiply, Average, Maximum, Minimum), UpSampling2D and ZeroPadding2D.
 */
import { attribute } from './onnx-graph';
import {
  all,
  channelsLastOnly,
  pair,
  physicalAxis,
  rankOf,
  requireRank,
  shown,
  single,
  toChannelsFirst,
  toChannelsLast,
  unsupported,
  type LayerConverter,
} from './onnx-layer-helpers';

/** Flatten, in tfjs's channels-last order. */
export const flatten: LayerConverter = {
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

/** Reshape, in tfjs's channels-last order. */
export const reshape: LayerConverter = {
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

/** Concatenate along its axis. */
export const concatenate: LayerConverter = {
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
export function merge(kind: 'Add' | 'Multiply' | 'Average' | 'Maximum' | 'Minimum'): LayerConverter {
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

/** UpSampling2D: a nearest or bilinear Resize. */
export const upSampling2d: LayerConverter = {
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

/** ZeroPadding2D: a Pad of the spatial axes. */
export const zeroPadding2d: LayerConverter = {
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
