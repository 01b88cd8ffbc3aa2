import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, mixSeed, permutation, withSeededMathRandom } from '../../main/worker/train/rng';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('rng', () => {
  it('Rng state can be saved and restored mid-stream', () => {
    const a = new Rng(42);
    a.next();
    a.next();
    const saved = a.state();
    const next = [a.next(), a.next(), a.next()];
    const b = new Rng(7);
    b.restore(saved);
    expect([b.next(), b.next(), b.next()]).toEqual(next);
  });

  it('permutation is a seeded permutation', () => {
    const p = permutation(1000, 3);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(permutation(1000, 3)).toEqual(p);
    expect(permutation(1000, 4)).not.toEqual(p);
  });

  it('mixSeed separates nearby and large inputs', () => {
    const seeds = new Set([
      mixSeed(1, 0),
      mixSeed(1, 1),
      mixSeed(0, 1),
      mixSeed(2 ** 40, 0),
      mixSeed(2 ** 40 + 1, 0),
    ]);
    expect(seeds.size).toBe(5);
  });

  it('withSeededMathRandom makes unseeded tfjs random ops repeatable and restores Math.random', () => {
    const original = Math.random;
    const draw = (): number[] =>
      withSeededMathRandom(99, () =>
        tf.tidy(() =>
          Array.from(tf.dropout(tf.ones([64]), 0.5).dataSync()).concat(
            Array.from(tf.randomNormal([4]).dataSync()),
          ),
        ),
      );
    expect(draw()).toEqual(draw());
    expect(
      withSeededMathRandom(100, () => tf.tidy(() => Array.from(tf.randomUniform([8]).dataSync()))),
    ).not.toEqual(
      withSeededMathRandom(99, () => tf.tidy(() => Array.from(tf.randomUniform([8]).dataSync()))),
    );
    expect(Math.random).toBe(original);
    expect(() =>
      withSeededMathRandom(1, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(Math.random).toBe(original);
  });
});
