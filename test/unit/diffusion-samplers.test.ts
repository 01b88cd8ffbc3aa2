/**
 * Samplers on a tiny random U-Net (wasm backend): timestep spacing, the DDPM step against the
 * paper's formula, DDIM with η = 0 being deterministic, shapes and value ranges, classifier-free
 * guidance, and the DDPO log-likelihoods of a sampled chain computed two ways.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gaussianLogProb,
  guidedNoise,
  modelNoiseFn,
  sampleImages,
  samplingTimesteps,
  stepDistribution,
  stepPlan,
  transitionLogProb,
  type NoiseFn,
  type SamplerConfig,
} from '../../main/worker/diffusion/samplers';
import { alphaBar, createNoiseSchedule } from '../../main/worker/diffusion/schedule';
import { unetSpecOf } from '../../main/worker/diffusion/unet';
import { randomUnet, useWasm } from '../helpers/diffusion-fixtures';

let model: tf.LayersModel;
let noise: NoiseFn;
const schedule = createNoiseSchedule({ kind: 'linear', timesteps: 100 });

beforeAll(async () => {
  await useWasm();
  model = randomUnet();
  noise = modelNoiseFn(model, unetSpecOf(model));
});

afterAll(() => {
  model.dispose();
});

const ddim = (eta: number, steps = 10): SamplerConfig => ({
  method: 'ddim',
  steps,
  eta,
  guidanceScale: 1,
  clipDenoised: false,
});

describe('timesteps', () => {
  it('are trailing: start at T − 1, strictly decrease, cover every step when steps = T', () => {
    expect(samplingTimesteps(1000, 4)).toEqual([999, 749, 499, 249]);
    expect(samplingTimesteps(10, 10)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(samplingTimesteps(10, 50)).toHaveLength(10);
    const plan = stepPlan(schedule, ddim(1, 5));
    expect(plan.map((s) => [s.t, s.tPrev])).toEqual([
      [99, 79],
      [79, 59],
      [59, 39],
      [39, 19],
      [19, -1],
    ]);
    expect(plan.map((s) => s.stochastic)).toEqual([true, true, true, true, false]);
    expect(stepPlan(schedule, ddim(0, 5)).every((s) => !s.stochastic)).toBe(true);
  });
});

describe('DDPM step', () => {
  it('equals x_{t−1} = (x_t − β_t/√(1−ᾱ_t)·ε)/√(1−β_t) with σ² = β_t', () => {
    const x = tf.randomNormal<tf.Rank.R4>([2, 8, 8, 1], 0, 1, 'float32', 1);
    const eps = tf.randomNormal<tf.Rank.R4>([2, 8, 8, 1], 0, 1, 'float32', 2);
    const t = 40;
    const { mean, std } = stepDistribution(
      schedule,
      { method: 'ddpm', eta: 0, clipDenoised: false },
      { t, tPrev: t - 1 },
      x,
      eps,
    );
    const beta = schedule.betas[t]!;
    const expected = tf.div(
      tf.sub(x, tf.mul(eps, beta / Math.sqrt(1 - alphaBar(schedule, t)))),
      Math.sqrt(1 - beta),
    );
    expect(tf.max(tf.abs(tf.sub(mean, expected))).dataSync()[0]).toBeLessThan(1e-5);
    expect(std).toBeCloseTo(Math.sqrt(beta), 10);
    tf.dispose([x, eps, mean, expected]);
  });
});

describe('sampling', () => {
  it('DDIM with η = 0 is deterministic: same seed, same images; other step noise changes nothing', () => {
    const labels = [0, 1, 2, -1];
    const a = sampleImages(noise, unetSpecOf(model), schedule, { ...ddim(0), labels, seed: 11 });
    const b = sampleImages(noise, unetSpecOf(model), schedule, { ...ddim(0), labels, seed: 11 });
    const c = sampleImages(noise, unetSpecOf(model), schedule, {
      ...ddim(0),
      labels,
      seed: 11,
      noiseSeed: 999,
    });
    expect(Array.from(a.images.dataSync())).toEqual(Array.from(b.images.dataSync()));
    expect(Array.from(a.images.dataSync())).toEqual(Array.from(c.images.dataSync()));
    // η = 1 does draw step noise, so another noise seed gives other images from the same x_T.
    const d = sampleImages(noise, unetSpecOf(model), schedule, { ...ddim(1), labels, seed: 11 });
    const e = sampleImages(noise, unetSpecOf(model), schedule, {
      ...ddim(1),
      labels,
      seed: 11,
      noiseSeed: 999,
    });
    expect(tf.max(tf.abs(tf.sub(d.images, e.images))).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose([a.images, b.images, c.images, d.images, e.images]);
  });

  it('returns [n, s, s, c] images within [−1, 1] for DDPM and DDIM', () => {
    for (const config of [
      ddim(0, 7),
      ddim(0.5, 3),
      { ...ddim(0, 100), method: 'ddpm' as const },
      { ...ddim(0, 6), method: 'ddpm' as const, clipDenoised: true },
    ]) {
      const { images } = sampleImages(noise, unetSpecOf(model), schedule, {
        ...config,
        labels: [0, 1, 2, -1, 0],
        seed: 3,
      });
      expect(images.shape).toEqual([5, 8, 8, 1]);
      const values = images.dataSync();
      expect(Math.min(...values)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...values)).toBeLessThanOrEqual(1);
      expect(values.every(Number.isFinite)).toBe(true);
      images.dispose();
    }
  });

  it('classifier-free guidance: w = 1 is the conditional prediction, w = 0 the unconditional, others extrapolate', () => {
    const x = tf.randomNormal<tf.Rank.R4>([3, 8, 8, 1], 0, 1, 'float32', 4);
    const labels = [0, 2, 1];
    const conditional = noise(x, 50, labels);
    const unconditional = noise(x, 50, [-1, -1, -1]);
    const diff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
    expect(diff(guidedNoise(noise, x, 50, labels, 1), conditional)).toBeLessThan(1e-5);
    expect(diff(guidedNoise(noise, x, 50, labels, 0), unconditional)).toBeLessThan(1e-5);
    const guided = guidedNoise(noise, x, 50, labels, 3);
    const expected = tf.add(unconditional, tf.mul(tf.sub(conditional, unconditional), 3));
    expect(diff(guided, expected)).toBeLessThan(1e-4);
    expect(diff(conditional, unconditional)).toBeGreaterThan(1e-3);
  });
});

describe('DDPO log-likelihoods', () => {
  it('log N(x; μ, σ²) per pixel matches a float64 evaluation', () => {
    const x = tf.randomNormal<tf.Rank.R4>([2, 4, 4, 1], 0, 1, 'float32', 5);
    const mean = tf.randomNormal<tf.Rank.R4>([2, 4, 4, 1], 0, 1, 'float32', 6);
    const std = 0.37;
    const got = gaussianLogProb(x, mean, std).dataSync();
    const xs = x.dataSync();
    const ms = mean.dataSync();
    for (let n = 0; n < 2; n++) {
      let sum = 0;
      for (let i = 0; i < 16; i++) {
        const z = (xs[n * 16 + i]! - ms[n * 16 + i]!) / std;
        sum += -0.5 * z * z - Math.log(std) - 0.5 * Math.log(2 * Math.PI);
      }
      expect(got[n]).toBeCloseTo(sum / 16, 4);
    }
  });

  it('recorded while sampling = recomputed from the stored chain in other batches and orders', () => {
    for (const config of [
      ddim(1, 8),
      { ...ddim(0, 8), method: 'ddpm' as const, clipDenoised: true },
      { ...ddim(1, 6), guidanceScale: 2.5 },
    ]) {
      const labels = [0, 1, 2, -1, 1, 0];
      const { images, chain } = sampleImages(noise, unetSpecOf(model), schedule, {
        ...config,
        labels,
        seed: 21,
        record: true,
      });
      images.dispose();
      expect(chain!.latents).toHaveLength(chain!.plan.length + 1);
      const stochastic = chain!.plan.map((s, i) => (s.stochastic ? i : -1)).filter((i) => i >= 0);
      expect(stochastic.length).toBe(chain!.plan.length - 1);
      const rows = [5, 3, 1, 0];
      for (const j of stochastic) {
        const recomputed = tf.tidy(() =>
          transitionLogProb(noise, unetSpecOf(model), schedule, config, chain!, j, rows).dataSync(),
        );
        rows.forEach((row, k) => {
          expect(Math.abs(recomputed[k]! - chain!.logProbs[j]![row]!)).toBeLessThan(2e-4);
        });
        // A log-likelihood of a draw from the step's own Gaussian: about −½ − log σ − ½ log 2π per pixel.
        expect(Number.isFinite(chain!.logProbs[j]![0]!)).toBe(true);
      }
      // The final step is deterministic and carries no likelihood.
      expect(() =>
        transitionLogProb(noise, unetSpecOf(model), schedule, config, chain!, chain!.plan.length - 1, rows),
      ).toThrow(RangeError);
    }
  });
});
