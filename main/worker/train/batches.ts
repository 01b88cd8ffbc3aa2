/**
 * Batches for the training loop: the loss-function contract, gathering (optionally shuffled)
 * examples into a float batch, counting correct predictions, evaluating a whole split, and the
 * random translations of the `augment` option (a wrapper around the loss function, so any op that
 * trains with the loop can jitter its batches).
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
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

/**
 * Random translations (Hinton et al. 2015 jittered MNIST by up to 2 pixels): one (dy, dx) per
 * example, each a whole number in [−maxShift, maxShift], drawn from `random` (values in [0, 1)).
 * Returned as [dy₀, dx₀, dy₁, dx₁, …].
 */
export function drawShifts(count: number, maxShift: number, random: () => number): Int32Array {
  const shifts = new Int32Array(count * 2);
  const span = 2 * maxShift + 1;
  for (let i = 0; i < shifts.length; i++)
    shifts[i] = Math.min(span - 1, Math.floor(random() * span)) - maxShift;
  return shifts;
}

/**
 * For images [count, height, width, channels] flattened, the source position of every output
 * value when example i moves down by dy_i and right by dx_i; positions shifted in from outside the
 * image point at `count·height·width·channels`, one past the end, where the caller puts a zero.
 */
export function translationIndices(
  count: number,
  shape: readonly [number, number, number],
  shifts: Int32Array,
): Int32Array {
  const [height, width, channels] = shape;
  const size = height * width * channels;
  const outside = count * size;
  const indices = new Int32Array(count * size);
  for (let n = 0; n < count; n++) {
    const dy = shifts[2 * n]!;
    const dx = shifts[2 * n + 1]!;
    for (let r = 0; r < height; r++) {
      const from = r - dy;
      for (let c = 0; c < width; c++) {
        const fromColumn = c - dx;
        const inside = from >= 0 && from < height && fromColumn >= 0 && fromColumn < width;
        const out = n * size + (r * width + c) * channels;
        const source = n * size + (from * width + fromColumn) * channels;
        for (let k = 0; k < channels; k++) indices[out + k] = inside ? source + k : outside;
      }
    }
  }
  return indices;
}

/** Images [count, h, w, c] (flattened) translated by `shifts` with zero fill; the reference for the tensor path. */
export function translateImages(
  x: Float32Array,
  count: number,
  shape: readonly [number, number, number],
  shifts: Int32Array,
): Float32Array {
  const indices = translationIndices(count, shape, shifts);
  const out = new Float32Array(indices.length);
  for (let i = 0; i < out.length; i++) {
    const from = indices[i]!;
    out[i] = from < x.length ? x[from]! : 0;
  }
  return out;
}

/** `x` (any shape whose examples hold h·w·c values) with every example translated by `shifts`, zero-filled. */
export function translateBatch(
  x: tf.Tensor,
  shape: readonly [number, number, number],
  shifts: Int32Array,
): tf.Tensor {
  const count = x.shape[0];
  return tf.tidy(() => {
    const padded = tf.concat([tf.reshape(x, [-1]), tf.zeros([1], x.dtype)]);
    const indices = tf.tensor1d(translationIndices(count, shape, shifts), 'int32');
    return tf.reshape(tf.gather(padded, indices), x.shape);
  });
}

/**
 * `lossFn` with its training batches translated at random by up to `maxShift` pixels (see
 * `drawShifts`); evaluation batches pass unchanged. The shifts come from `Math.random`, which the
 * training loop seeds per step (rng.ts), so a run draws the same shifts whenever it is resumed.
 */
export function translatedLoss(
  lossFn: LossFn,
  shape: readonly [number, number, number],
  maxShift: number,
): LossFn {
  return (model, x, y, training) => {
    if (!training) return lossFn(model, x, y, training);
    const shifts = drawShifts(x.shape[0], maxShift, Math.random);
    return lossFn(model, translateBatch(x, shape, shifts), y, training);
  };
}

/**
 * The [height, width, channels] a translation moves, from a dataset's example shape ([h, w] is one
 * channel); INCOMPATIBLE_INPUTS naming the node and the `augment` param for data that is not images.
 */
export function translationShape(nodeId: string, inputShape: readonly number[]): [number, number, number] {
  if (inputShape.length === 3) return [inputShape[0]!, inputShape[1]!, inputShape[2]!];
  if (inputShape.length === 2) return [inputShape[0]!, inputShape[1]!, 1];
  throw new DistilleryError(
    'INCOMPATIBLE_INPUTS',
    `Node "${nodeId}": augment "translate" needs images of shape [height, width, channels], the dataset's examples are [${inputShape.join(', ')}]`,
    {
      nodeId,
      port: 'dataset',
      param: 'augment',
      expected: '[height, width, channels]',
      received: inputShape,
    },
  );
}
