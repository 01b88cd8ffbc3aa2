/**
 * Convolutional classifier in the LeNet-5 mould: `conv_i` (+ `pool_i`) stages, `flatten`, the
 * dense head of mlp.ts (`hidden_i`, `dropout_i`) and a softmax `output`. Default: two stages of
 * 6 and 16 5×5 filters with 2×2 max pooling, then 120 and 84 units (LeCun et al. 1998).
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { ParamsOf } from '../../nodes/define';
import type { modelCnnNode } from '../../nodes/model-cnn';
import { addDenseHead, checkClassifierShape, seedSequence } from './mlp';

/** Window and stride of every pooling layer (the node's help promises 2×2). */
export const POOL_SIZE = 2;

/** A `model.cnn` node's params. */
export type CnnParams = ParamsOf<typeof modelCnnNode>;

/** What the builder needs: the node's params, the data's shape and the seed. */
export interface CnnOptions extends CnnParams {
  /** [height, width, channels]. */
  inputShape: number[];
  numClasses: number;
  /** Pool window and stride (POOL_SIZE unless a test says otherwise). */
  poolSize?: number;
  seed: number;
}

/** The parts of the options that decide the feature map sizes. */
type Layout = Pick<CnnOptions, 'filters' | 'kernelSize' | 'padding' | 'pooling'> & { poolSize: number };

/** Side length after every stage, or the name of the first layer that would shrink below 1. */
function trace(size: number, params: Layout): { size: number } | { failsAt: string } {
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
function minimumSide(params: Layout): number {
  let size = 1;
  while ('failsAt' in trace(size, params)) size++;
  return size;
}

/** Refuses inputs that are not images, or that valid convolutions / pooling would shrink to nothing. */
export function checkCnnInput(inputShape: number[], params: Layout): void {
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
  const params: CnnOptions & Layout = { ...options, poolSize: options.poolSize ?? POOL_SIZE };
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
