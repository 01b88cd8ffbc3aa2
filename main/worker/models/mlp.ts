/**
 * Multi-layer perceptron: flatten → dense hidden layers (each optionally followed by dropout) →
 * a dense softmax output, so that every exported classifier gives probabilities. Also holds what
 * the other architectures share: per-layer seeds, the dense head, the shape checks.
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { ParamsOf } from '../../nodes/define';
import type { Activation, modelMlpNode } from '../../nodes/model-mlp';

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

/** The user-settable part of MlpOptions: a `model.mlp` node's params. */
export type MlpParams = ParamsOf<typeof modelMlpNode>;

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
  const model = tf.sequential({ name: 'mlp' });
  let inputShape: number[] | undefined = options.inputShape;
  if (options.inputShape.length > 1) {
    model.add(tf.layers.flatten({ name: 'flatten', inputShape: options.inputShape }));
    inputShape = undefined;
  }
  addDenseHead(model, {
    units: options.hidden,
    numClasses: options.numClasses,
    activation: options.activation,
    dropout: options.dropout,
    nextSeed: seedSequence(options.seed),
    ...(inputShape ? { inputShape } : {}),
  });
  return model;
}
