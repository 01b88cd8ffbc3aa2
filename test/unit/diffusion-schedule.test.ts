/**
 * Noise schedules: ᾱ_t at known timesteps for the linear (Ho et al.) and cosine (Nichol &
 * Dhariwal) schedules, and the forward process in closed form against iterated noising.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { alphaBar, createNoiseSchedule, noisyImages } from '../../main/worker/diffusion/schedule';
import { Rng } from '../../main/worker/train/rng';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A standard normal draw (Box–Muller) from a seeded uniform source. */
function normal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

describe('linear schedule', () => {
  const schedule = createNoiseSchedule({ kind: 'linear', timesteps: 1000 });

  it('has β from 1e-4 to 0.02 and the known ᾱ values', () => {
    expect(schedule.betas[0]).toBeCloseTo(1e-4, 12);
    expect(schedule.betas[999]).toBeCloseTo(0.02, 12);
    expect(schedule.betas[1]! - schedule.betas[0]!).toBeCloseTo((0.02 - 1e-4) / 999, 12);
    // Paper t = 1, 100, 500, 1000 (0-based 0, 99, 499, 999).
    expect(alphaBar(schedule, 0)).toBeCloseTo(0.9999, 12);
    expect(alphaBar(schedule, 99)).toBeCloseTo(0.897018, 5);
    expect(alphaBar(schedule, 499)).toBeCloseTo(0.0785872, 6);
    expect(alphaBar(schedule, 999) / 4.03583e-5).toBeCloseTo(1, 4);
    expect(alphaBar(schedule, -1)).toBe(1);
  });

  it('decreases strictly and agrees with Π(1 − β)', () => {
    let product = 1;
    for (let t = 0; t < 1000; t++) {
      product *= 1 - schedule.betas[t]!;
      expect(schedule.alphasCumprod[t]).toBeCloseTo(product, 14);
      if (t > 0) expect(schedule.alphasCumprod[t]!).toBeLessThan(schedule.alphasCumprod[t - 1]!);
    }
  });

  it('honours custom β bounds and T', () => {
    const short = createNoiseSchedule({ kind: 'linear', timesteps: 10, betaStart: 0.01, betaEnd: 0.1 });
    expect(Array.from(short.betas).map((b) => +b.toFixed(12))).toEqual([
      0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1,
    ]);
    expect(alphaBar(short, 9)).toBeCloseTo(
      [0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.9].reduce((a, b) => a * b, 1),
      12,
    );
  });
});

describe('cosine schedule', () => {
  const T = 1000;
  const schedule = createNoiseSchedule({ kind: 'cosine', timesteps: T });
  const f = (t: number) => Math.cos(((t / T + 0.008) / 1.008) * (Math.PI / 2)) ** 2;

  it('follows ᾱ_t = f(t)/f(0) where β is not clipped', () => {
    // 0-based index t is the paper's t + 1.
    expect(alphaBar(schedule, 99)).toBeCloseTo(f(100) / f(0), 10);
    expect(alphaBar(schedule, 499)).toBeCloseTo(0.4938436, 6);
    expect(alphaBar(schedule, 499)).toBeCloseTo(f(500) / f(0), 10);
    expect(alphaBar(schedule, 899)).toBeCloseTo(f(900) / f(0), 10);
  });

  it('clips β at 0.999 at the end', () => {
    expect(schedule.betas[T - 1]).toBe(0.999);
    expect(Math.max(...schedule.betas)).toBeLessThanOrEqual(0.999);
    expect(alphaBar(schedule, T - 1)).toBeGreaterThan(0);
    expect(alphaBar(schedule, T - 1)).toBeLessThan(1e-6);
  });
});

describe('forward process', () => {
  it('closed form matches iterated noising in mean and variance', () => {
    const schedule = createNoiseSchedule({ kind: 'linear', timesteps: 200, betaStart: 1e-3, betaEnd: 0.05 });
    const x0 = [-1, -0.5, 0.25, 0.9];
    const samples = 4000;
    const t = 59; // 60 forward steps
    const rng = new Rng(7);
    const sums = x0.map(() => ({ sum: 0, squares: 0 }));
    for (let s = 0; s < samples; s++) {
      x0.forEach((value, i) => {
        let x = value;
        for (let k = 0; k <= t; k++)
          x = Math.sqrt(1 - schedule.betas[k]!) * x + Math.sqrt(schedule.betas[k]!) * normal(rng);
        sums[i]!.sum += x;
        sums[i]!.squares += x * x;
      });
    }
    const a = alphaBar(schedule, t);
    // Closed form by the tensor op, on the same x0 with many draws of ε.
    const batch = samples;
    const images = tf.tidy(() => {
      const x = tf.tile<tf.Tensor4D>(tf.tensor4d(x0, [1, 2, 2, 1]), [batch, 1, 1, 1]);
      const eps = tf.randomNormal<tf.Rank.R4>([batch, 2, 2, 1], 0, 1, 'float32', 3);
      return noisyImages(schedule, x, new Array<number>(batch).fill(t), eps)
        .reshape([batch, 4])
        .arraySync() as number[][];
    });
    x0.forEach((value, i) => {
      const mean = sums[i]!.sum / samples;
      const variance = sums[i]!.squares / samples - mean * mean;
      // Standard error of the mean ≈ √((1 − ᾱ)/n) ≈ 0.015; of the variance ≈ (1 − ᾱ)·√(2/n) ≈ 0.02.
      expect(Math.abs(mean - Math.sqrt(a) * value)).toBeLessThan(0.05);
      expect(Math.abs(variance - (1 - a))).toBeLessThan(0.06);
      const column = images.map((row) => row[i]!);
      const closedMean = column.reduce((p, q) => p + q, 0) / batch;
      const closedVariance = column.reduce((p, q) => p + q * q, 0) / batch - closedMean ** 2;
      expect(Math.abs(closedMean - mean)).toBeLessThan(0.06);
      expect(Math.abs(closedVariance - variance)).toBeLessThan(0.08);
    });
  });
});
