/**
 * Rewards of generated images, for DDPO and for evaluation (PAPERS.md, "DDPO"):
 * - `compressibility` / `incompressibility`: minus / plus the encoded size in kB of each image as
 *   an 8-bit PNG (png-grid.ts; the DDPO paper uses JPEG file size; PNG is the lossless analogue
 *   that pngjs writes here, deterministic for given pixels);
 * - `brightness`: the mean pixel value in [0, 1];
 * - `classifier`: the probability that a classifier assigns to a target class (the offline
 *   analogue of the paper's VLM prompt-alignment reward). Images are resized (bilinear) to the
 *   classifier's input size and fed in [0, 1], the range the dataset loaders give classifiers.
 */
import * as tf from '@tensorflow/tfjs';
import { encodePng, toBytes } from './png-grid';
import type { RewardName } from '../../nodes/diffusion-params';

/** A classifier loaded for scoring. */
export interface RewardClassifier {
  model: tf.LayersModel;
  numClasses: number;
}

/** Encoded PNG size in bytes of each image; `unit` holds values in [0, 1], [n, h, w, c] flattened. */
export function pngSizes(
  unit: Float32Array,
  count: number,
  shape: readonly [number, number, number],
): Float32Array {
  const [h, w, c] = shape;
  const size = h * w * c;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++)
    out[i] = encodePng(toBytes(unit.subarray(i * size, (i + 1) * size)), w, h, c).byteLength;
  return out;
}

/** Mean pixel value of each image in [0, 1]. */
export function brightness(unit: Float32Array, count: number): Float32Array {
  const size = unit.length / Math.max(1, count);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let j = 0; j < size; j++) sum += unit[i * size + j]!;
    out[i] = sum / size;
  }
  return out;
}

/**
 * Class probabilities [n, classes] of images in [0, 1] ([n, h, w, c] tensor) under a classifier,
 * resized and reshaped to what the classifier takes. Outputs that are not already a distribution
 * (logits) are passed through a softmax.
 */
export function classifierProbabilities(
  classifier: RewardClassifier,
  unit: tf.Tensor4D,
  batchSize = 256,
): Float32Array {
  const model = classifier.model;
  const inputShape = model.inputs[0]!.shape.slice(1).map((d) => d ?? 1);
  const n = unit.shape[0];
  const out = new Float32Array(n * classifier.numClasses);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const probs = tf.tidy(() => {
      let x: tf.Tensor = tf.slice(unit, [start, 0, 0, 0], [end - start, -1, -1, -1]);
      const [, h, w, c] = x.shape as [number, number, number, number];
      if (inputShape.length === 3) {
        const [ih, iw, ic] = inputShape as [number, number, number];
        if (ih !== h || iw !== w) x = tf.image.resizeBilinear(x as tf.Tensor4D, [ih, iw], false, true);
        if (ic !== c) x = ic === 1 ? tf.mean(x, -1, true) : tf.tile(x, [1, 1, 1, ic]);
      } else {
        const features = inputShape.reduce((a, b) => a * b, 1);
        if (features !== h * w * c) {
          const side = Math.round(Math.sqrt(features / c));
          x = tf.image.resizeBilinear(x as tf.Tensor4D, [side, side], false, true);
        }
        x = tf.reshape(x, [end - start, ...inputShape]);
      }
      let p = model.predict(x) as tf.Tensor2D;
      const sums = tf.sum(p, -1);
      const isDistribution =
        tf
          .all(tf.logicalAnd(tf.less(tf.abs(tf.sub(sums, 1)), 1e-3), tf.greaterEqual(tf.min(p, -1), 0)))
          .dataSync()[0] === 1;
      if (!isDistribution) p = tf.softmax(p);
      return p.dataSync() as Float32Array;
    });
    out.set(probs, start * classifier.numClasses);
  }
  return out;
}

export interface RewardOptions {
  classifier?: RewardClassifier;
  targetClass?: number;
}

/**
 * The reward of each image; `images` are model outputs in [−1, 1], [n, h, w, c]. Also returns the
 * images in [0, 1] so callers can reuse them (grids, further statistics).
 */
export function computeRewards(
  name: RewardName,
  images: tf.Tensor4D,
  options: RewardOptions = {},
): Float32Array {
  const [n, h, w, c] = images.shape;
  const unit = tf.tidy(() => tf.clipByValue(tf.div(tf.add(images, 1), 2), 0, 1)) as tf.Tensor4D;
  try {
    switch (name) {
      case 'brightness':
        return brightness(unit.dataSync() as Float32Array, n);
      case 'compressibility':
      case 'incompressibility': {
        const sizes = pngSizes(unit.dataSync() as Float32Array, n, [h, w, c]);
        const sign = name === 'compressibility' ? -1 : 1;
        return sizes.map((bytes) => (sign * bytes) / 1000);
      }
      case 'classifier': {
        const { classifier, targetClass = 0 } = options;
        if (!classifier) throw new Error('the classifier reward needs a classifier');
        const probs = classifierProbabilities(classifier, unit);
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = probs[i * classifier.numClasses + targetClass]!;
        return out;
      }
    }
  } finally {
    unit.dispose();
  }
}

/** mean, std (population), min, max. */
export function summarize(values: ArrayLike<number>): {
  mean: number;
  std: number;
  min: number;
  max: number;
} {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    sum += values[i]!;
    min = Math.min(min, values[i]!);
    max = Math.max(max, values[i]!);
  }
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (values[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(squares / n), min, max };
}
