/**
 * Batches for the training loop: the loss-function contract, gathering (optionally shuffled)
 * examples into a float batch, counting correct predictions, and evaluating a whole split.
 */
import * as tf from '@tensorflow/tfjs';
import type { SplitData } from '../data/dataset-file';

export interface LossOutput {
  /** Mean loss over the batch. */
  loss: tf.Scalar;
  /** Class scores [batch, classes] (logits or probabilities): the loop counts argmax == y. */
  scores?: tf.Tensor;
}

/**
 * The loss of one batch. `y` is the batch's int32 labels [batch]. Called inside the loop's
 * gradient tape and tf.tidy: create tensors freely, do not dispose the ones returned.
 */
export type LossFn = (
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  training: boolean,
) => tf.Scalar | LossOutput;

/** A loss function's result in its long form. */
export function toLossOutput(result: tf.Scalar | LossOutput): LossOutput {
  return result instanceof tf.Tensor ? { loss: result } : result;
}

/** Number of rows whose argmax equals the label, as an int32 scalar. */
export function countCorrect(scores: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.sum<tf.Scalar>(tf.cast(tf.equal(tf.argMax(scores, -1), tf.cast(y, 'int32')), 'int32')),
  );
}

/** Examples `indices[start..end)` as a float batch (uint8 images scaled by 1/255) and labels. */
export function gatherBatch(
  split: SplitData,
  indices: ArrayLike<number> | null,
  start: number,
  end: number,
  size: number,
): { x: Float32Array; y: Int32Array } {
  const n = end - start;
  const x = new Float32Array(n * size);
  const y = new Int32Array(n);
  const bytes = split.x instanceof Uint8Array;
  for (let i = 0; i < n; i++) {
    const from = indices ? indices[start + i]! : start + i;
    const row = split.x.subarray(from * size, (from + 1) * size);
    if (bytes) {
      const offset = i * size;
      for (let j = 0; j < size; j++) x[offset + j] = row[j]! / 255;
    } else {
      x.set(row, i * size);
    }
    y[i] = split.y[from]!;
  }
  return { x, y };
}

/**
 * Mean loss (and accuracy, when the loss function returns scores) of `model` over a whole split,
 * in evaluation mode, `batchSize` examples at a time.
 */
export function evaluateSplit(
  model: tf.LayersModel,
  evaluateFn: LossFn,
  split: SplitData,
  inputShape: number[],
  batchSize: number,
): { loss: number; accuracy?: number } {
  const size = inputShape.reduce((a, b) => a * b, 1);
  let lossSum = 0;
  let correct = 0;
  let scored = 0;
  for (let start = 0; start < split.count; start += batchSize) {
    const end = Math.min(split.count, start + batchSize);
    const batch = gatherBatch(split, null, start, end, size);
    const [loss, right] = tf.tidy(() => {
      const x = tf.tensor(batch.x, [end - start, ...inputShape]);
      const y = tf.tensor1d(batch.y, 'int32');
      const out = toLossOutput(evaluateFn(model, x, y, false));
      return [out.loss, out.scores ? countCorrect(out.scores, y) : undefined] as const;
    });
    lossSum += loss.dataSync()[0]! * (end - start);
    if (right) {
      correct += right.dataSync()[0]!;
      scored += end - start;
    }
    tf.dispose([loss, right]);
  }
  const result: { loss: number; accuracy?: number } = { loss: lossSum / Math.max(1, split.count) };
  if (scored > 0) result.accuracy = correct / scored;
  return result;
}
