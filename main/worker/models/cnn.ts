/**
 * Convolutional classifier in the LeNet-5 mould: `conv_i` (+ `pool_i`) stages, `flatten`, the
 * dense head of mlp.ts (`hidden_i`, `dropout_i`) and a softmax `output`. Default: two stages of
 * 6 and 16 5×5 filters with 2×2 max pooling, then 120 and 84 units (LeCun et al. 1998).
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import {
  ACTIVATIONS,
  addDenseHead,
  checkClassifierShape,
  readChoice,
  readDropout,
  readPositiveInt,
  readPositiveIntList,
  seedSequence,
  type Activation,
} from './mlp';

export const PADDINGS = ['same', 'valid'] as const;
export const POOLINGS = ['max', 'avg', 'none'] as const;
export type Padding = (typeof PADDINGS)[number];
export type Pooling = (typeof POOLINGS)[number];

export interface CnnOptions {
  /** [height, width, channels]. */
  inputShape: number[];
  numClasses: number;
  /** Filters of each conv stage, input side first. */
  filters: number[];
  kernelSize: number;
  padding: Padding;
  /** Pooling after each conv stage ('none' keeps the resolution). */
  pooling: Pooling;
  /** Pool window and stride. */
  poolSize: number;
  /** Units of the dense layers between `flatten` and `output`. */
  dense: number[];
  activation: Activation;
  /** Dropout rate after each dense hidden layer; 0 adds no dropout layers. */
  dropout: number;
  seed: number;
}

/** The user-settable part of CnnOptions (what a `model.cnn` node's params hold). */
export type CnnParams = Omit<CnnOptions, 'inputShape' | 'numClasses' | 'seed'>;

export const CNN_DEFAULTS: CnnParams = {
  filters: [6, 16],
  kernelSize: 5,
  padding: 'same',
  pooling: 'max',
  poolSize: 2,
  dense: [120, 84],
  activation: 'relu',
  dropout: 0,
};

/** Validates a `model.cnn` node's params and fills in defaults. */
export function parseCnnParams(params: Record<string, unknown>): CnnParams {
  return {
    filters: readPositiveIntList(params, 'filters', CNN_DEFAULTS.filters),
    kernelSize: readPositiveInt(params, 'kernelSize', CNN_DEFAULTS.kernelSize),
    padding: readChoice(params, 'padding', PADDINGS, CNN_DEFAULTS.padding),
    pooling: readChoice(params, 'pooling', POOLINGS, CNN_DEFAULTS.pooling),
    poolSize: readPositiveInt(params, 'poolSize', CNN_DEFAULTS.poolSize),
    dense: readPositiveIntList(params, 'dense', CNN_DEFAULTS.dense),
    activation: readChoice(params, 'activation', ACTIVATIONS, CNN_DEFAULTS.activation),
    dropout: readDropout(params, CNN_DEFAULTS.dropout),
  };
}

/** Side length after every stage, or the name of the first layer that would shrink below 1. */
function trace(size: number, params: CnnParams): { size: number } | { failsAt: string } {
  for (let i = 0; i < params.filters.length; i++) {
    if (params.padding === 'valid') {
      size = size - params.kernelSize + 1;
      if (size < 1) return { failsAt: `conv_${i + 1}` };
    }
    if (params.pooling !== 'none') {
      size = Math.floor(size / params.poolSize);
      if (size < 1) return { failsAt: `pool_${i + 1}` };
    }
  }
  return { size };
}

/** Smallest side length that survives every stage. */
function minimumSide(params: CnnParams): number {
  let size = 1;
  while ('failsAt' in trace(size, params)) size++;
  return size;
}

/** Refuses inputs that are not images, or that valid convolutions / pooling would shrink to nothing. */
export function checkCnnInput(inputShape: number[], params: CnnParams): void {
  if (inputShape.length !== 3) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `A CNN needs image inputs of shape [height, width, channels], got ${JSON.stringify(inputShape)}`,
      { param: 'inputShape', expected: '[height, width, channels]', received: inputShape },
    );
  }
  const [height, width] = inputShape as [number, number, number];
  for (const side of [height, width]) {
    const result = trace(side, params);
    if ('failsAt' in result) {
      const min = minimumSide(params);
      const expected =
        `height and width of at least ${min} for ${params.filters.length} conv stage(s) with ` +
        `kernelSize ${params.kernelSize}, padding '${params.padding}' and pooling '${params.pooling}'` +
        (params.pooling === 'none' ? '' : ` ${params.poolSize}×${params.poolSize}`);
      throw new DistilleryError(
        'INCOMPATIBLE_INPUTS',
        `Input ${height}×${width} shrinks below 1×1 at ${result.failsAt}: expected ${expected}`,
        { param: 'inputShape', expected, received: inputShape, layer: result.failsAt },
      );
    }
  }
}

/** Builds a CNN classifier. Same options and seed → identical initial weights on every backend. */
export function buildCnn(options: CnnOptions): tf.LayersModel {
  checkClassifierShape(options.inputShape, options.numClasses);
  const params = parseCnnParams({ ...options });
  checkCnnInput(options.inputShape, params);
  const nextSeed = seedSequence(options.seed);
  const model = tf.sequential({ name: 'cnn' });
  params.filters.forEach((filters, i) => {
    model.add(
      tf.layers.conv2d({
        ...(i === 0 ? { inputShape: options.inputShape } : {}),
        name: `conv_${i + 1}`,
        filters,
        kernelSize: params.kernelSize,
        padding: params.padding,
        activation: params.activation,
        kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
        biasInitializer: 'zeros',
      }),
    );
    if (params.pooling !== 'none') {
      const pool = params.pooling === 'max' ? tf.layers.maxPooling2d : tf.layers.averagePooling2d;
      model.add(
        pool({
          name: `pool_${i + 1}`,
          poolSize: params.poolSize,
          strides: params.poolSize,
          padding: 'valid',
        }),
      );
    }
  });
  model.add(
    tf.layers.flatten({
      name: 'flatten',
      ...(params.filters.length === 0 ? { inputShape: options.inputShape } : {}),
    }),
  );
  addDenseHead(model, {
    units: params.dense,
    numClasses: options.numClasses,
    activation: params.activation,
    dropout: params.dropout,
    nextSeed,
  });
  return model;
}
