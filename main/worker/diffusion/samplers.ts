/**
 * Samplers of a trained ε-prediction model (PAPERS.md, "Diffusion"), written so that every
 * denoising step is an explicit Gaussian p_θ(x_{t'} | x_t, c) = N(μ_θ, σ²·I), because DDPO needs
 * its log-likelihood:
 * - DDPM (ancestral): x̂_0 = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t, μ = the posterior mean of q(x_{t'} | x_t, x̂_0),
 *   σ² = β = 1 − ᾱ_t/ᾱ_{t'} (Ho et al.'s σ_t² = β_t; with every step, t' = t − 1, this is the
 *   paper's x_{t−1} = (x_t − β_t/√(1−ᾱ_t)·ε̂)/√(1−β_t) + σ_t·z exactly; with fewer steps the
 *   respaced β of Nichol & Dhariwal).
 * - DDIM (Song et al.): μ = √ᾱ_{t'}·x̂_0 + √(1 − ᾱ_{t'} − σ²)·ε̂ with
 *   σ = η·√((1−ᾱ_{t'})/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_{t'}); η = 0 is deterministic.
 * - Classifier-free guidance: ε̂ = ε̂_∅ + w·(ε̂_c − ε̂_∅).
 * Steps are spaced "trailing" (Lin et al. 2024): the first is always t = T − 1, so sampling starts
 * from pure noise whatever the step count; the last goes to the clean image (t' = −1, ᾱ = 1) and
 * has σ = 0, so it is deterministic and carries no log-likelihood.
 * Optionally x̂_0 is clipped to [−1, 1] (the data range), as DDPM's reference sampler does; DDIM
 * then continues with the noise that the clipped x̂_0 implies, ε̃ = (x_t − √ᾱ_t·x̂_0)/√(1 − ᾱ_t).
 * All randomness comes from tf.randomNormal with explicit seeds derived from the caller's seed,
 * so a sample is a pure function of (weights, options) on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { mixSeed } from '../train/rng';
import { alphaBar, type NoiseSchedule } from './schedule';
import { predictNoise, type UnetSpec } from './unet';
import type { SamplerMethod } from '../../nodes/diffusion-params';

/** Salts of the sampler's random streams. */
const SALT_INITIAL_NOISE = 0x494e_4954;
const SALT_STEP_NOISE = 0x5354_4e5a;

const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

export interface SamplerConfig {
  method: SamplerMethod;
  /** Denoising steps (≤ T). */
  steps: number;
  /** DDIM's η (ignored by DDPM). */
  eta: number;
  /** w of classifier-free guidance; 1 = the conditional prediction alone, 0 = unconditional. */
  guidanceScale: number;
  /** Clip x̂_0 to [−1, 1] in every step. */
  clipDenoised: boolean;
}

/** One denoising step, from timestep t to t' (t' = −1: the clean image). */
export interface StepPlan {
  t: number;
  tPrev: number;
  /** σ > 0: the step draws noise and has a log-likelihood. */
  stochastic: boolean;
}

/**
 * ε̂(x_t, t, labels) of a model (without guidance); `t` is one timestep for the batch or one per
 * example. Called inside tf.tidy / gradient tapes.
 */
export type NoiseFn = (
  x: tf.Tensor4D,
  t: number | ArrayLike<number>,
  labels: ArrayLike<number>,
) => tf.Tensor4D;

/** The NoiseFn of a U-Net. */
export function modelNoiseFn(model: tf.LayersModel, spec: UnetSpec): NoiseFn {
  return (x, t, labels) => predictNoise(model, spec, x, t, labels);
}

/** Timesteps t_1 > … > t_S, "trailing": t_i = round(T − i·T/S) − 1, so t_1 = T − 1. */
export function samplingTimesteps(timesteps: number, steps: number): number[] {
  const count = Math.max(1, Math.min(timesteps, Math.floor(steps)));
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.round(timesteps - (i * timesteps) / count) - 1);
  return out;
}

/** σ of the step t → t' under a sampler. */
export function stepSigma(
  schedule: NoiseSchedule,
  method: SamplerMethod,
  eta: number,
  t: number,
  tPrev: number,
): number {
  if (tPrev < 0) return 0;
  const a = alphaBar(schedule, t);
  const ap = alphaBar(schedule, tPrev);
  const beta = 1 - a / ap;
  if (method === 'ddpm') return Math.sqrt(beta);
  return eta * Math.sqrt((1 - ap) / (1 - a)) * Math.sqrt(beta);
}

/** The steps of a sampler run. */
export function stepPlan(
  schedule: NoiseSchedule,
  config: Pick<SamplerConfig, 'method' | 'steps' | 'eta'>,
): StepPlan[] {
  const ts = samplingTimesteps(schedule.timesteps, config.steps);
  return ts.map((t, i) => {
    const tPrev = ts[i + 1] ?? -1;
    return { t, tPrev, stochastic: stepSigma(schedule, config.method, config.eta, t, tPrev) > 0 };
  });
}

/**
 * Mean and σ of p(x_{t'} | x_t) given the (guided) noise prediction. Differentiable in `x` and
 * `eps`; call inside tf.tidy.
 */
export function stepDistribution(
  schedule: NoiseSchedule,
  config: Pick<SamplerConfig, 'method' | 'eta' | 'clipDenoised'>,
  step: Pick<StepPlan, 't' | 'tPrev'>,
  x: tf.Tensor4D,
  eps: tf.Tensor4D,
): { mean: tf.Tensor4D; std: number } {
  const a = alphaBar(schedule, step.t);
  const ap = alphaBar(schedule, step.tPrev);
  const std = stepSigma(schedule, config.method, config.eta, step.t, step.tPrev);
  let x0 = tf.div<tf.Tensor4D>(tf.sub(x, tf.mul(eps, Math.sqrt(1 - a))), Math.sqrt(a));
  if (config.clipDenoised) x0 = tf.clipByValue(x0, -1, 1);
  let mean: tf.Tensor4D;
  if (config.method === 'ddpm') {
    const beta = 1 - a / ap;
    const c0 = (Math.sqrt(ap) * beta) / (1 - a);
    const ct = (Math.sqrt(1 - beta) * (1 - ap)) / (1 - a);
    mean = tf.add(tf.mul(x0, c0), tf.mul(x, ct));
  } else {
    const direction = Math.sqrt(Math.max(0, 1 - ap - std * std));
    // With clipping, use the noise that the clipped x̂_0 implies (as guided-diffusion's DDIM does):
    // the raw ε̂ no longer matches x̂_0, and where ᾱ_t ≈ 0 their mismatch is amplified by √(ᾱ_{t'}/ᾱ_t).
    const noise = config.clipDenoised ? tf.div(tf.sub(x, tf.mul(x0, Math.sqrt(a))), Math.sqrt(1 - a)) : eps;
    mean = tf.add(tf.mul(x0, Math.sqrt(ap)), tf.mul(noise, direction));
  }
  return { mean, std };
}

/**
 * log N(x; mean, std²·I) per example, averaged over pixels (as the DDPO reference implementation
 * does, so ratios stay in a numerically sane range whatever the image size). [batch].
 */
export function gaussianLogProb(x: tf.Tensor4D, mean: tf.Tensor4D, std: number): tf.Tensor1D {
  return tf.tidy(() => {
    const z = tf.div(tf.sub(x, mean), std);
    const perPixel = tf.sub(tf.mul(tf.square(z), -0.5), Math.log(std) + HALF_LOG_TWO_PI);
    return tf.mean<tf.Tensor1D>(perPixel, [1, 2, 3]);
  });
}

/**
 * The noise prediction with classifier-free guidance. Rows whose label is null need no guidance;
 * w = 1 (or no real label) costs one model call, any other w two (batched together).
 */
export function guidedNoise(
  noise: NoiseFn,
  x: tf.Tensor4D,
  t: number,
  labels: ArrayLike<number>,
  guidanceScale: number,
): tf.Tensor4D {
  const n = x.shape[0];
  const nulls = new Array<number>(n).fill(-1);
  const anyReal = Array.from(labels).some((label) => label >= 0);
  if (!anyReal || guidanceScale === 1) return noise(x, t, labels);
  if (guidanceScale === 0) return noise(x, t, nulls);
  const both = noise(tf.concat([x, x], 0), t, [...Array.from(labels), ...nulls]);
  const [conditional, unconditional] = tf.split(both, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
  return tf.add(unconditional, tf.mul(tf.sub(conditional, unconditional), guidanceScale));
}

export interface SampleOptions extends SamplerConfig {
  /** One class per image (−1 = unconditional); its length is the number of images. */
  labels: ArrayLike<number>;
  seed: number;
  /** x_T; drawn from the seed when absent. */
  initialNoise?: tf.Tensor4D;
  /** Seed of the per-step noise (default: `seed`). With η = 0 DDIM draws none. */
  noiseSeed?: number;
  /** Keep every latent and each step's log-likelihood (for DDPO). */
  record?: boolean;
  /** A second model (e.g. the weights before fine-tuning): report KL(p_θ ‖ p_ref) along the chain. */
  reference?: NoiseFn;
  /** Called after each step (progress, cancellation checks). */
  onStep?: (index: number, total: number) => void;
}

/** A recorded sampling chain: x_{t_1}, …, x_0 and the log-likelihood of each stochastic step. */
export interface SampleChain {
  plan: StepPlan[];
  labels: Int32Array;
  /** plan.length + 1 latents, each [n, s, s, c] flattened. */
  latents: Float32Array[];
  /** log p(x_{t'} | x_t) per step and example (0 for deterministic steps). */
  logProbs: Float32Array[];
}

export interface SampleResult {
  /** x_0 clipped to [−1, 1], [n, s, s, c]. The caller disposes it. */
  images: tf.Tensor4D;
  chain?: SampleChain;
  /** Σ over stochastic steps of the per-pixel mean KL(p_θ ‖ p_ref), per example. */
  klToReference?: Float32Array;
}

/** Draws images by running the reverse process from noise. */
export function sampleImages(
  noise: NoiseFn,
  spec: UnetSpec,
  schedule: NoiseSchedule,
  options: SampleOptions,
): SampleResult {
  const labels = Int32Array.from(options.labels);
  const n = labels.length;
  const shape: [number, number, number, number] = [n, spec.imageSize, spec.imageSize, spec.channels];
  const plan = stepPlan(schedule, options);
  const noiseSeed = options.noiseSeed ?? options.seed;
  let x: tf.Tensor4D = options.initialNoise
    ? tf.clone(options.initialNoise)
    : tf.randomNormal(shape, 0, 1, 'float32', mixSeed(options.seed, SALT_INITIAL_NOISE));
  const latents: Float32Array[] = [];
  const logProbs: Float32Array[] = [];
  const kl = options.reference ? new Float32Array(n) : undefined;
  if (options.record) latents.push(x.dataSync() as Float32Array);
  plan.forEach((step, index) => {
    const next = tf.tidy(() => {
      const eps = guidedNoise(noise, x, step.t, labels, options.guidanceScale);
      const { mean, std } = stepDistribution(schedule, options, step, x, eps);
      let out = mean;
      if (std > 0) {
        const z = tf.randomNormal(shape, 0, 1, 'float32', mixSeed(noiseSeed, SALT_STEP_NOISE, index));
        out = tf.add(mean, tf.mul(z, std));
        if (options.record) logProbs.push(gaussianLogProb(out, mean, std).dataSync() as Float32Array);
        if (kl && options.reference) {
          const refEps = guidedNoise(options.reference, x, step.t, labels, options.guidanceScale);
          const ref = stepDistribution(schedule, options, step, x, refEps).mean;
          const perExample = tf
            .div(tf.mean(tf.square(tf.sub(mean, ref)), [1, 2, 3]), 2 * std * std)
            .dataSync();
          for (let i = 0; i < n; i++) kl[i]! += perExample[i]!;
        }
      } else if (options.record) {
        logProbs.push(new Float32Array(n));
      }
      if (step.tPrev < 0) out = tf.clipByValue(out, -1, 1);
      return out;
    });
    x.dispose();
    x = next;
    if (options.record) latents.push(x.dataSync() as Float32Array);
    options.onStep?.(index + 1, plan.length);
  });
  const result: SampleResult = { images: x };
  if (options.record) result.chain = { plan, labels, latents, logProbs };
  if (kl) result.klToReference = kl;
  return result;
}

/**
 * Log-likelihoods of recorded transitions under a (possibly updated) model, recomputed from the
 * stored latents: the DDPO training path. `rows` selects examples of the chain; differentiable
 * in the model's weights; call inside tf.tidy or a gradient tape.
 */
export function transitionLogProb(
  noise: NoiseFn,
  spec: UnetSpec,
  schedule: NoiseSchedule,
  config: SamplerConfig,
  chain: SampleChain,
  stepIndex: number,
  rows: ArrayLike<number>,
): tf.Tensor1D {
  const step = chain.plan[stepIndex];
  if (!step || !step.stochastic)
    throw new RangeError(`step ${stepIndex} is not a stochastic step of the chain`);
  const size = spec.imageSize * spec.imageSize * spec.channels;
  const gather = (source: Float32Array): tf.Tensor4D => {
    const out = new Float32Array(rows.length * size);
    for (let i = 0; i < rows.length; i++)
      out.set(source.subarray(rows[i]! * size, (rows[i]! + 1) * size), i * size);
    return tf.tensor4d(out, [rows.length, spec.imageSize, spec.imageSize, spec.channels]);
  };
  const x = gather(chain.latents[stepIndex]!);
  const next = gather(chain.latents[stepIndex + 1]!);
  const labels = Array.from(rows, (row) => chain.labels[row]!);
  const eps = guidedNoise(noise, x, step.t, labels, config.guidanceScale);
  const { mean, std } = stepDistribution(schedule, config, step, x, eps);
  return gaussianLogProb(next, mean, std);
}

/** Images in [−1, 1] as values in [0, 1] (a new Float32Array). */
export function toUnitRange(images: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.clipByValue(tf.div(tf.add(images, 1), 2), 0, 1).dataSync() as Float32Array);
}
