/**
 * Pieces of diffusion training that plug into the shared training loop (train/loop.ts):
 * - the DDPM objective as a LossFn: x_0 = 2·x − 1 from the loop's [0, 1] batch, t uniform in
 *   [0, T), ε ~ N(0, I), x_t in closed form, loss = mean ‖ε − ε_θ(x_t, t, c)‖², with the class
 *   replaced by the null class for a fraction of examples (classifier-free guidance training).
 *   In training steps the draws come from Math.random, which the loop seeds per step (exact resume);
 *   in evaluation from a fixed seed, so validation losses are comparable between epochs;
 * - an exponential moving average of weights (with the usual warm-up min(decay, (1+n)/(10+n)));
 * - sample grids written as PNGs for the run view.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import type { OpContext } from '../context';
import type { LossFn } from '../train/loop';
import type { NamedArrays } from '../train/optimizers';
import { Rng } from '../train/rng';
import { writeSampleGrid } from './png-grid';
import { sampleImages, toUnitRange, type NoiseFn, type SamplerConfig } from './samplers';
import { noisyImages, type NoiseSchedule } from './schedule';
import type { UnetSpec } from './unet';

/** Seed of the evaluation draws (timesteps, noise, class dropout). */
const EVALUATION_SEED = 0x4556_414c;

export interface DiffusionLossOptions {
  schedule: NoiseSchedule;
  spec: UnetSpec;
  /** Probability that an example is trained with the null class. */
  classDropout: number;
  /** The model's prediction; LoRA wraps the forward pass here. */
  noise: NoiseFn;
}

/** ε-prediction MSE for one batch, given the random source. Inside tf.tidy / a gradient tape. */
export function diffusionLoss(
  options: DiffusionLossOptions,
  x: tf.Tensor,
  y: tf.Tensor,
  random: () => number,
): tf.Scalar {
  const { schedule, spec, classDropout } = options;
  const n = x.shape[0];
  const t = new Int32Array(n);
  for (let i = 0; i < n; i++)
    t[i] = Math.min(schedule.timesteps - 1, Math.floor(random() * schedule.timesteps));
  const given = y.dataSync();
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = spec.numClasses > 0 && random() >= classDropout ? given[i]! : -1;
  const x0 = tf.sub<tf.Tensor4D>(tf.mul(x.reshape([n, spec.imageSize, spec.imageSize, spec.channels]), 2), 1);
  const eps = tf.randomNormal<tf.Rank.R4>(x0.shape, 0, 1, 'float32', Math.floor(random() * 0x1_0000_0000));
  const xt = noisyImages(schedule, x0, t, eps);
  const predicted = options.noise(xt, t, labels);
  return tf.mean(tf.square(tf.sub(predicted, eps)));
}

/** The LossFn for runTrainingLoop. */
export function diffusionLossFn(options: DiffusionLossOptions): LossFn {
  return (_model, x, y, training) => {
    if (training) return diffusionLoss(options, x, y, Math.random);
    const rng = new Rng(EVALUATION_SEED);
    return diffusionLoss(options, x, y, () => rng.next());
  };
}

/** Exponential moving average of a list of variables. */
export class WeightAverage {
  private readonly shadow: tf.Variable[];

  constructor(
    private readonly variables: tf.Variable[],
    readonly decay: number,
  ) {
    this.shadow = variables.map((v) => tf.variable(v.clone(), false));
  }

  /** Decay used at update `step` (0-based): min(decay, (1 + step)/(10 + step)). */
  decayAt(step: number): number {
    return Math.min(this.decay, (1 + step) / (10 + step));
  }

  update(step: number): void {
    const d = this.decayAt(step);
    tf.tidy(() => {
      this.variables.forEach((v, i) => {
        const s = this.shadow[i]!;
        s.assign(tf.add(tf.mul(s, d), tf.mul(v, 1 - d)));
      });
    });
  }

  /** Runs `fn` with the averaged weights in place, then restores the live ones. */
  withAverage<T>(fn: () => T): T {
    const live = this.variables.map((v) => v.clone());
    try {
      this.variables.forEach((v, i) => v.assign(this.shadow[i]!));
      return fn();
    } finally {
      this.variables.forEach((v, i) => v.assign(live[i]!));
      tf.dispose(live);
    }
  }

  /** Replaces the live weights with the averaged ones (at the end of training). */
  copyToVariables(): void {
    this.variables.forEach((v, i) => v.assign(this.shadow[i]!));
  }

  state(): NamedArrays {
    const arrays: NamedArrays = {};
    this.shadow.forEach((s, i) => {
      arrays[`ema/${i}`] = { shape: [...s.shape], values: Float32Array.from(s.dataSync() as Float32Array) };
    });
    return arrays;
  }

  load(arrays: NamedArrays): void {
    this.shadow.forEach((s, i) => {
      const array = arrays[`ema/${i}`];
      if (array && tf.util.arraysEqual(array.shape, s.shape))
        s.assign(tf.tensor(array.values, array.shape, 'float32'));
    });
  }

  dispose(): void {
    tf.dispose(this.shadow);
  }
}

/** Labels for a preview grid: each class in turn (or the null class for unconditional models). */
export function previewLabels(count: number, numClasses: number, classes: number[] = []): number[] {
  const pool = classes.length > 0 ? classes : Array.from({ length: numClasses }, (_, i) => i);
  if (pool.length === 0) return new Array<number>(count).fill(-1);
  return Array.from({ length: count }, (_, i) => pool[i % pool.length]!);
}

/**
 * Samples `labels.length` images and writes them as `samples/<name>.png` in the task directory;
 * sends the `sample` event. Returns the path.
 */
export function writePreview(
  ctx: OpContext,
  name: string,
  step: number,
  noise: NoiseFn,
  spec: UnetSpec,
  schedule: NoiseSchedule,
  sampler: SamplerConfig,
  labels: number[],
  seed: number,
): string {
  const { images } = sampleImages(noise, spec, schedule, { ...sampler, labels, seed });
  const unit = toUnitRange(images);
  images.dispose();
  const columns = labels.length >= 10 && labels.length % 10 === 0 ? 10 : 0;
  const path = writeSampleGrid(
    join(ctx.taskDir, 'samples', `${name}.png`),
    unit,
    labels.length,
    [spec.imageSize, spec.imageSize, spec.channels],
    {
      columns,
      scale: spec.imageSize <= 32 ? 3 : 1,
    },
  );
  ctx.sample(path, step);
  return path;
}
