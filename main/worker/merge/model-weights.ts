/**
 * Models as the merge functions see them: weights as Float32Arrays in model order, with the
 * signature the architecture check compares; and a model's weights set from such a list and scored
 * on a dataset split.
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { SplitData } from '../data/dataset-file';
import { sparseCrossEntropyLoss } from '../train/classifier-loss';
import { evaluateSplit, type LossFn } from '../train/batches';
import type { Weights } from './combine';
import type { ArchitectureSignature } from './compatibility';

/** The layers and weight shapes of a model, labelled for messages. */
export function architectureSignature(
  model: tf.LayersModel,
  label: string,
  port: string,
): ArchitectureSignature {
  return {
    label,
    port,
    layers: model.layers.map((layer) => {
      const activation = layer.getConfig().activation;
      return {
        name: layer.name,
        className: layer.getClassName(),
        ...(typeof activation === 'string' ? { activation } : {}),
      };
    }),
    weights: model.weights.map((weight) => ({ name: weight.originalName, shape: [...weight.read().shape] })),
  };
}

/** Every weight of the model (trainable or not), copied, in model order; float32 only. */
export function weightValues(model: tf.LayersModel, label: string, port: string): Float32Array[] {
  return model.weights.map((weight) => {
    if (weight.dtype !== 'float32') {
      throw new DistilleryError(
        'MODEL_INVALID',
        `${label}: weight "${weight.originalName}" is ${weight.dtype}; merging needs float32 weights`,
        { port, expected: 'float32', received: weight.dtype, weight: weight.originalName },
      );
    }
    return Float32Array.from(weight.read().dataSync() as Float32Array);
  });
}

/** Sets every weight of `model` from a list in model order (checked by size). */
export function setWeightValues(model: tf.LayersModel, weights: Weights): void {
  const targets = model.weights;
  if (targets.length !== weights.length) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `Cannot set ${weights.length} weights on a model with ${targets.length}`,
      { expected: `${targets.length} weights`, received: weights.length },
    );
  }
  const tensors = targets.map((target, i) => {
    const values = weights[i]!;
    const shape = target.read().shape;
    if (values.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new DistilleryError(
        'INCOMPATIBLE_INPUTS',
        `Weight "${target.originalName}" takes [${shape.join(', ')}], got ${values.length} values`,
        { expected: `[${shape.join(', ')}]`, received: values.length, weight: target.originalName },
      );
    }
    return tf.tensor(values, shape, 'float32');
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
}

/** What a held-out score is made of: accuracy (higher is better) or mean cross-entropy (lower). */
export type MergeMetric = 'accuracy' | 'loss';

export interface SplitScore {
  accuracy: number;
  loss: number;
}

/**
 * Scores weights on a split with one model whose weights it overwrites: accuracy and mean
 * cross-entropy, in evaluation mode.
 */
export class SplitScorer {
  private readonly lossFn: LossFn;

  constructor(
    private readonly model: tf.LayersModel,
    private readonly split: SplitData,
    private readonly inputShape: number[],
  ) {
    this.lossFn = sparseCrossEntropyLoss(model);
  }

  /** Examples scored. */
  get count(): number {
    return this.split.count;
  }

  score(weights: Weights): SplitScore {
    setWeightValues(this.model, weights);
    const result = evaluateSplit(this.model, this.lossFn, this.split, this.inputShape, 500);
    return { accuracy: result.accuracy ?? 0, loss: result.loss };
  }
}

/** The number a search maximises for a metric. */
export function objective(score: SplitScore, metric: MergeMetric): number {
  return metric === 'accuracy' ? score.accuracy : -score.loss;
}
