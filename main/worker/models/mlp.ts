/**
 * Multi-layer perceptron: flatten → dense hidden layers (each optionally followed by dropout) →
 * a dense softmax output, so that every exported classifier gives probabilities. Also holds what
 * the other architectures share: activations, per-layer seeds, the dense head, param readers.
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';

/** Hidden-layer activations offered to users (all registered by tfjs-layers 4.x). */
export const ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'elu', 'selu', 'swish', 'gelu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export interface MlpOptions {
  /** Shape of one example: [h, w, c] for images, [features] for tables. */
  inputShape: number[];
  numClasses: number;
  /** Units of each hidden layer, input side first. */
  hidden: number[];
  activation: Activation;
  /** Dropout rate after each hidden layer; 0 adds no dropout layers. */
  dropout: number;
  seed: number;
}

/** The user-settable part of MlpOptions (what a `model.mlp` node's params hold). */
export type MlpParams = Pick<MlpOptions, 'hidden' | 'activation' | 'dropout'>;

export const MLP_DEFAULTS: MlpParams = { hidden: [300, 100], activation: 'relu', dropout: 0 };

/**
 * A well-mixed 32-bit seed for the layer at `index`, so that each layer gets its own stream and
 * neighbouring run seeds do not give shifted copies of the same weights.
 */
export function layerSeed(seed: number, index: number): number {
  let h = (Math.trunc(seed) ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hands out a fresh derived seed for each layer that draws random numbers, in build order. */
export function seedSequence(seed: number): () => number {
  let index = 0;
  return () => layerSeed(seed, index++);
}

function invalid(param: string, expected: string, received: unknown): DistilleryError {
  return new DistilleryError(
    'PARAM_INVALID',
    `${param} must be ${expected}, got ${JSON.stringify(received)}`,
    {
      param,
      expected,
      received,
    },
  );
}

/** Reads a list of positive integers; `undefined` gives the default. */
export function readPositiveIntList(
  params: Record<string, unknown>,
  param: string,
  fallback: number[],
): number[] {
  const value = params[param];
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v) && (v as number) > 0)) {
    throw invalid(param, 'a list of positive integers', value);
  }
  return [...(value as number[])];
}

export function readPositiveInt(params: Record<string, unknown>, param: string, fallback: number): number {
  const value = params[param];
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) throw invalid(param, 'a positive integer', value);
  return value as number;
}

export function readChoice<T extends string>(
  params: Record<string, unknown>,
  param: string,
  choices: readonly T[],
  fallback: T,
): T {
  const value = params[param];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new DistilleryError(
      'PARAM_INVALID_CHOICE',
      `${param} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`,
      { param, expected: choices.join(' | '), received: value },
    );
  }
  return value as T;
}

export function readDropout(params: Record<string, unknown>, fallback: number): number {
  const value = params.dropout;
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new DistilleryError(
      'PARAM_OUT_OF_RANGE',
      `dropout must be in [0, 1), got ${JSON.stringify(value)}`,
      {
        param: 'dropout',
        expected: '0 ≤ dropout < 1',
        received: value,
      },
    );
  }
  return value;
}

/** Validates a `model.mlp` node's params and fills in defaults. */
export function parseMlpParams(params: Record<string, unknown>): MlpParams {
  return {
    hidden: readPositiveIntList(params, 'hidden', MLP_DEFAULTS.hidden),
    activation: readChoice(params, 'activation', ACTIVATIONS, MLP_DEFAULTS.activation),
    dropout: readDropout(params, MLP_DEFAULTS.dropout),
  };
}

/** Checks the parts every classifier builder needs. */
export function checkClassifierShape(inputShape: number[], numClasses: number): void {
  if (inputShape.length === 0 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `inputShape must be positive integers, got ${JSON.stringify(inputShape)}`,
      {
        param: 'inputShape',
        expected: 'a non-empty list of positive integers',
        received: inputShape,
      },
    );
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new DistilleryError('INCOMPATIBLE_INPUTS', `numClasses must be an integer ≥ 2, got ${numClasses}`, {
      param: 'numClasses',
      expected: 'an integer ≥ 2',
      received: numClasses,
    });
  }
}

/**
 * Appends `hidden_i` dense layers (each followed by `dropout_i` when dropout > 0) and the softmax
 * `output` layer. The first added layer gets `inputShape` when the model is still empty.
 */
export function addDenseHead(
  model: tf.Sequential,
  options: {
    units: number[];
    numClasses: number;
    activation: Activation;
    dropout: number;
    nextSeed: () => number;
    inputShape?: number[];
  },
): void {
  let first = options.inputShape;
  const shape = (): { inputShape?: number[] } => {
    const out = first ? { inputShape: first } : {};
    first = undefined;
    return out;
  };
  options.units.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        ...shape(),
        name: `hidden_${i + 1}`,
        units,
        activation: options.activation,
        kernelInitializer: tf.initializers.glorotUniform({ seed: options.nextSeed() }),
        biasInitializer: 'zeros',
      }),
    );
    if (options.dropout > 0) {
      model.add(
        // No seed: a seeded tfjs Dropout draws the same mask at every step. The training loop seeds
        // Math.random per step, which is what unseeded dropout draws from, so runs stay repeatable.
        tf.layers.dropout({ name: `dropout_${i + 1}`, rate: options.dropout }),
      );
    }
  });
  model.add(
    tf.layers.dense({
      ...shape(),
      name: 'output',
      units: options.numClasses,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: options.nextSeed() }),
      biasInitializer: 'zeros',
    }),
  );
}

/**
 * Builds an MLP classifier. Images are flattened first (`flatten`); tabular inputs go straight
 * into `hidden_1`. Same options and seed → identical initial weights on every backend.
 */
export function buildMlp(options: MlpOptions): tf.LayersModel {
  checkClassifierShape(options.inputShape, options.numClasses);
  const params = parseMlpParams({ ...options });
  const model = tf.sequential({ name: 'mlp' });
  let inputShape: number[] | undefined = options.inputShape;
  if (options.inputShape.length > 1) {
    model.add(tf.layers.flatten({ name: 'flatten', inputShape: options.inputShape }));
    inputShape = undefined;
  }
  addDenseHead(model, {
    units: params.hidden,
    numClasses: options.numClasses,
    activation: params.activation,
    dropout: params.dropout,
    nextSeed: seedSequence(options.seed),
    ...(inputShape ? { inputShape } : {}),
  });
  return model;
}
