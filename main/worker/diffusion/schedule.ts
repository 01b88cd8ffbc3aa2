/**
 * Noise schedules of denoising diffusion (PAPERS.md, "Diffusion"): the forward process
 * q(x_t | x_0) = N(√ᾱ_t·x_0, (1 − ᾱ_t)·I) with ᾱ_t = Π_{s≤t}(1 − β_s).
 *
 * Timesteps are 0-based here and in every file a model exports: index t ∈ [0, T) is the paper's
 * t + 1, so `alphasCumprod[0] = 1 − β_1` and `alphasCumprod[T − 1] = ᾱ_T`. The network's time input
 * is this 0-based index.
 * - linear (Ho et al.): β from `betaStart` to `betaEnd` in T equal steps (1e-4 → 0.02, T = 1000);
 * - cosine (Nichol & Dhariwal): ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s))·π/2), s = 0.008,
 *   each β clipped at 0.999 (ᾱ is then recomputed from the clipped β so the two always agree).
 * Values are float64; tensors built from them are float32.
 */
import * as tf from '@tensorflow/tfjs';
import type { NoiseScheduleKind } from '../../nodes/diffusion-params';

/** Largest β of the cosine schedule (Nichol & Dhariwal clip at 0.999 to avoid singularities at t = T). */
export const COSINE_MAX_BETA = 0.999;
/** The cosine schedule's offset s. */
export const COSINE_OFFSET = 0.008;

export interface NoiseScheduleConfig {
  kind: NoiseScheduleKind;
  /** T, the number of diffusion steps. */
  timesteps: number;
  /** linear: β_1 (default 1e-4). */
  betaStart?: number;
  /** linear: β_T (default 0.02). */
  betaEnd?: number;
}

export interface NoiseSchedule {
  config: Required<NoiseScheduleConfig>;
  timesteps: number;
  betas: Float64Array;
  /** ᾱ_t for t = 0..T−1. */
  alphasCumprod: Float64Array;
}

/** β and ᾱ of a linear or cosine schedule with T steps. */
export function createNoiseSchedule(config: NoiseScheduleConfig): NoiseSchedule {
  const T = config.timesteps;
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`timesteps must be a positive integer, got ${T}`);
  const full: Required<NoiseScheduleConfig> = {
    kind: config.kind,
    timesteps: T,
    betaStart: config.betaStart ?? 1e-4,
    betaEnd: config.betaEnd ?? 0.02,
  };
  const betas = new Float64Array(T);
  if (config.kind === 'linear') {
    for (let t = 0; t < T; t++)
      betas[t] = T === 1 ? full.betaStart : full.betaStart + ((full.betaEnd - full.betaStart) * t) / (T - 1);
  } else {
    const f = (t: number): number =>
      Math.cos(((t / T + COSINE_OFFSET) / (1 + COSINE_OFFSET)) * (Math.PI / 2)) ** 2;
    // Paper step t + 1 goes from ᾱ(t) to ᾱ(t + 1); ᾱ(t)/ᾱ(t+1) = f(t)/f(t+1).
    for (let t = 0; t < T; t++) betas[t] = Math.min(1 - f(t + 1) / f(t), COSINE_MAX_BETA);
  }
  const alphasCumprod = new Float64Array(T);
  let product = 1;
  for (let t = 0; t < T; t++) {
    product *= 1 - betas[t]!;
    alphasCumprod[t] = product;
  }
  return { config: full, timesteps: T, betas, alphasCumprod };
}

/** ᾱ at a 0-based timestep; t = −1 stands for the clean image (ᾱ = 1). */
export function alphaBar(schedule: NoiseSchedule, t: number): number {
  if (t < 0) return 1;
  const value = schedule.alphasCumprod[t];
  if (value === undefined) throw new RangeError(`timestep ${t} is outside [0, ${schedule.timesteps})`);
  return value;
}

/**
 * Forward noising in closed form: x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, with one timestep per example
 * (`t` holds batch int indices). Differentiable in x0 and noise.
 */
export function noisyImages(
  schedule: NoiseSchedule,
  x0: tf.Tensor4D,
  t: ArrayLike<number>,
  noise: tf.Tensor4D,
): tf.Tensor4D {
  return tf.tidy(() => {
    const n = x0.shape[0];
    const signal = new Float32Array(n);
    const sigma = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const a = alphaBar(schedule, t[i]!);
      signal[i] = Math.sqrt(a);
      sigma[i] = Math.sqrt(1 - a);
    }
    const s = tf.tensor4d(signal, [n, 1, 1, 1]);
    const q = tf.tensor4d(sigma, [n, 1, 1, 1]);
    return tf.add(tf.mul(x0, s), tf.mul(noise, q));
  });
}

/** What a model's `diffusion.json` records about its schedule (enough to rebuild it exactly). */
export function scheduleDescription(schedule: NoiseSchedule): Record<string, unknown> {
  const { kind, timesteps, betaStart, betaEnd } = schedule.config;
  return {
    kind,
    timesteps,
    ...(kind === 'linear' ? { betaStart, betaEnd } : { offset: COSINE_OFFSET, maxBeta: COSINE_MAX_BETA }),
    indexing: '0-based: alphasCumprod[t] = prod_{s<=t}(1 - betas[s]); the time input is t',
    betas: Array.from(schedule.betas),
    alphasCumprod: Array.from(schedule.alphasCumprod),
  };
}

/** Reads a schedule config back from model meta; undefined when the meta has none. */
export function readScheduleConfig(value: unknown): NoiseScheduleConfig | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const kind = record.kind;
  const timesteps = record.timesteps;
  if ((kind !== 'linear' && kind !== 'cosine') || typeof timesteps !== 'number') return undefined;
  const config: NoiseScheduleConfig = { kind, timesteps };
  if (typeof record.betaStart === 'number') config.betaStart = record.betaStart;
  if (typeof record.betaEnd === 'number') config.betaEnd = record.betaEnd;
  return config;
}
