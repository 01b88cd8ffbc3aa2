/**
 * Activations: the names this exporter writes, each as ONNX nodes formula for formula, and the
 * activation layers (Activation, ReLU, LeakyReLU, ELU, Softmax).
 */
import { attribute, type GraphValue } from './onnx-graph';
import {
  physicalAxis,
  scalar,
  single,
  unsupported,
  type ConvertContext,
  type LayerConverter,
} from './onnx-layer-helpers';

const SELU_SCALE = 1.0507009873554805;
/** tfjs-core's selu uses scale·alpha; ONNX takes alpha and gamma = scale. */
const SELU_ALPHA = 1.7580993408473768 / SELU_SCALE;

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

/** The activation a layer's config names; `linear` when none. */
export function activationName(config: Record<string, unknown>): string {
  return typeof config.activation === 'string' ? config.activation : 'linear';
}

/** Why the config's activation cannot be exported, or undefined when it can. */
export function checkActivation(config: Record<string, unknown>): string | undefined {
  const name = activationName(config);
  return (EXPORTABLE_ACTIVATIONS as readonly string[]).includes(name)
    ? undefined
    : `activation "${name}" (exportable: ${EXPORTABLE_ACTIVATIONS.join(', ')})`;
}

/** Applies a tfjs activation by name (tfjs-layers activations.js, formula for formula). */
export function applyActivation(ctx: ConvertContext, value: GraphValue, name: string): GraphValue {
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

/** Activation: the activation its config names. */
export const activationLayer: LayerConverter = {
  check: checkActivation,
  convert: (ctx, inputs) => applyActivation(ctx, single(ctx, inputs), activationName(ctx.layer.config)),
};

/** ReLU: a Relu, or a Clip when it has a max value. */
export const reluLayer: LayerConverter = {
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

/** LeakyReLU. */
export const leakyRelu: LayerConverter = {
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

/** ELU. */
export const eluLayer: LayerConverter = {
  convert(ctx, inputs) {
    const input = single(ctx, inputs);
    const alpha = typeof ctx.layer.config.alpha === 'number' ? ctx.layer.config.alpha : 1;
    return {
      ...input,
      name: ctx.graph.node('Elu', [input.name], `${ctx.layer.name}/Elu`, [attribute.float('alpha', alpha)]),
    };
  },
};

/** Softmax along its axis. */
export const softmaxLayer: LayerConverter = {
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
