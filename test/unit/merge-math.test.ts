/**
 * The merge arithmetic on hand-made weights: averaging, task arithmetic, TIES (trimming, sign
 * election, disjoint mean), the greedy soup, λ selection, LCSC's evolutionary search and the
 * architecture check.
 */
import { describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import {
  linearCombination,
  taskArithmetic,
  taskVectors,
  uniformAverage,
  weightedAverage,
  type Weights,
} from '../../main/worker/merge/combine';
import { checkSameArchitecture, type ArchitectureSignature } from '../../main/worker/merge/compatibility';
import { LAMBDA_GRID, chooseLambda, greedySoup, rankByScore } from '../../main/worker/merge/greedy-soup';
import { projectToAffine, searchCoefficients } from '../../main/worker/merge/lcsc';
import { disjointMean, electSigns, keptCount, tiesMerge, trimTopK } from '../../main/worker/merge/ties';
import { Rng } from '../../main/worker/train/rng';

const f32 = (...values: number[]) => Float32Array.from(values);
const plain = (weights: Weights) => weights.map((values) => [...values]);

/** A model of `sizes` weights with seeded values in [-1, 1). */
function randomWeights(seed: number, sizes: number[] = [12, 4, 6]): Float32Array[] {
  const rng = new Rng(seed);
  return sizes.map((size) => Float32Array.from({ length: size }, () => rng.next() * 2 - 1));
}

function thrown(fn: () => unknown): DistilleryError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DistilleryError);
    return error as DistilleryError;
  }
  throw new Error('expected a DistilleryError');
}

describe('averaging', () => {
  it('returns the model itself, bit for bit, when averaging copies of it', () => {
    const model = randomWeights(1);
    for (const copies of [2, 3, 7]) {
      const average = uniformAverage(Array.from({ length: copies }, () => model));
      average.forEach((values, i) =>
        expect(Buffer.from(values.buffer).equals(Buffer.from(model[i]!.buffer))).toBe(true),
      );
    }
  });

  it('takes the element-wise mean of hand-made weights', () => {
    const a = [f32(1, 2, 3), f32(-1)];
    const b = [f32(3, 4, 5), f32(1)];
    const c = [f32(2, 0, 1), f32(3)];
    expect(plain(uniformAverage([a, b]))).toEqual([[2, 3, 4], [0]]);
    expect(plain(uniformAverage([a, b, c]))).toEqual([[2, 2, 3], [1]]);
  });

  it('weighs by normalised weights, and refuses a zero sum or a wrong count naming the param', () => {
    const a = [f32(0, 4)];
    const b = [f32(8, 0)];
    expect(plain(weightedAverage([a, b], [1, 3]))).toEqual([[6, 1]]);
    expect(plain(weightedAverage([a, b], [2, 2]))).toEqual(plain(uniformAverage([a, b])));
    expect(thrown(() => weightedAverage([a, b], [1, -1]))).toMatchObject({
      code: 'PARAM_INVALID',
      details: { param: 'weights' },
    });
    expect(thrown(() => weightedAverage([a, b], [1]))).toMatchObject({
      code: 'PARAM_INVALID',
      details: { param: 'weights', expected: '2 numbers' },
    });
  });

  it('a linear combination with a one-hot coefficient vector returns that model exactly', () => {
    const models = [randomWeights(1), randomWeights(2), randomWeights(3)];
    expect(plain(linearCombination(models, [0, 1, 0]))).toEqual(plain(models[1]!));
    expect(plain(linearCombination(models, [0.5, 0.5, 0]))).toEqual(
      plain(uniformAverage(models.slice(0, 2))),
    );
  });
});

describe('task arithmetic', () => {
  const base = randomWeights(10);
  const tuned = [randomWeights(11), randomWeights(12)];

  it('λ = 0 returns the base exactly', () => {
    expect(plain(taskArithmetic(base, tuned, 0))).toEqual(plain(base));
  });

  it('adds λ times the summed task vectors; λ < 0 (or a negative scale) subtracts them', () => {
    const [a, b] = [[f32(1, 1)], [f32(3, -1)]];
    const origin = [f32(1, 0)];
    // τ_a = (0, 1), τ_b = (2, -1): θ = (1, 0) + λ·(2, 0).
    expect(plain(taskArithmetic(origin, [a, b], 0.5))).toEqual([[2, 0]]);
    expect(plain(taskArithmetic(origin, [a], -1))).toEqual([[1, -1]]);
    // Adding a, removing b: (1, 0) + (0, 1) − (2, −1) = (−1, 2).
    expect(plain(taskArithmetic(origin, [a, b], 1, [1, -1]))).toEqual([[-1, 2]]);
    // λ = 1 with one task vector gives that model back.
    expect(plain(taskArithmetic(base, [tuned[0]!], 1))).toEqual(plain(tuned[0]!));
  });
});

describe('TIES-merging', () => {
  it('trimming keeps exactly the top-k% entries by magnitude, over all weights together', () => {
    const vector = [f32(0.5, -3, 1, 2, -0.1), f32(4, 0, -2.5, 0.2, 1.5)];
    expect(plain(trimTopK(vector, 30))).toEqual([
      [0, -3, 0, 0, 0],
      [4, 0, -2.5, 0, 0],
    ]);
    expect(plain(trimTopK(vector, 100))).toEqual(plain(vector));
    // Ties at the threshold: the earlier entries are kept, so the count is exact.
    expect(plain(trimTopK([f32(1, -1, 1, 1)], 50))).toEqual([[1, -1, 0, 0]]);
    for (const topK of [1, 5, 20, 37.5, 80]) {
      const random = randomWeights(5, [100, 33, 7]);
      const kept = trimTopK(random, topK).reduce(
        (sum, values) => sum + values.filter((v) => v !== 0).length,
        0,
      );
      expect(kept).toBe(keptCount(140, topK));
      expect(kept).toBe(Math.round(1.4 * topK));
    }
    expect(thrown(() => trimTopK(vector, 0))).toMatchObject({
      code: 'PARAM_OUT_OF_RANGE',
      details: { param: 'topK' },
    });
  });

  it('elects the sign with the larger total magnitude and averages only the agreeing entries', () => {
    const trimmed = [[f32(2, -1, 0.5, 1)], [f32(-1, -1, -3, -1)], [f32(0.5, 3, 1, 0)]];
    const signs = electSigns(trimmed);
    // Sums: 1.5, 1, −1.5, 0.
    expect([...signs[0]!]).toEqual([1, 1, -1, 0]);
    // Entry 0: mean of 2 and 0.5; entry 1: only 3 agrees; entry 2: only −3; entry 3: no sign.
    expect(plain(disjointMean(trimmed, signs))).toEqual([[1.25, 3, -3, 0]]);
    const base = [f32(10, 10, 10, 10)];
    const models = trimmed.map(([values]) => [Float32Array.from(values!, (v, i) => v + base[0]![i]!)]);
    const merged = tiesMerge(base, models, { topK: 100, lambda: 2 });
    expect(plain(merged.merged)).toEqual([[1.25, 3, -3, 0]]);
    expect(plain(merged.weights)).toEqual([[12.5, 16, 4, 10]]);
  });

  it('trims before electing: small entries do not vote', () => {
    // Untrimmed, entry 1 elects − (3 × −0.2 outweigh 0.3). Trimmed to each vector's top 50% (one
    // entry each), the −0.2s are gone and the 0.3 of the last model is all that votes.
    const base = [f32(0, 0)];
    const models = [[f32(1, -0.2)], [f32(1, -0.2)], [f32(1, -0.2)], [f32(0.05, 0.3)]];
    const untrimmed = plain(tiesMerge(base, models, { topK: 100, lambda: 1 }).merged)[0]!;
    expect(untrimmed[0]).toBeCloseTo(0.7625, 6);
    expect(untrimmed[1]).toBeCloseTo(-0.2, 6);
    const trimmed = plain(tiesMerge(base, models, { topK: 50, lambda: 1 }).merged)[0]!;
    expect(trimmed[0]).toBe(1);
    expect(trimmed[1]).toBeCloseTo(0.3, 6);
  });
});

describe('greedy soup', () => {
  // Held-out score: closeness to a target the ingredients scatter around.
  const target = randomWeights(100);
  const score = (weights: Weights): number =>
    -weights.reduce(
      (sum, values, w) => sum + values.reduce((s, v, i) => s + (v - target[w]![i]!) ** 2, 0),
      0,
    );
  const near = (seed: number, spread: number) =>
    target.map((values, w) => {
      const noise = randomWeights(seed)[w]!;
      return Float32Array.from(values, (v, i) => v + spread * noise[i]!);
    });

  it('never scores below its best ingredient, and leaves out an ingredient that hurts', () => {
    const good = [near(1, 0.3), near(2, 0.3), near(3, 0.3)];
    const bad = near(4, 5);
    const models = [bad, ...good];
    const soup = greedySoup(models, score);
    const best = Math.max(...models.map(score));
    expect(soup.score).toBeGreaterThanOrEqual(best);
    expect(score(soup.weights)).toBe(soup.score);
    expect(soup.ingredients).not.toContain(0);
    expect(soup.ingredients.length).toBeGreaterThan(1);
    expect(soup.ingredients[0]).toBe(rankByScore(models.map(score))[0]);
    for (let seed = 10; seed < 30; seed++) {
      const random = [near(seed, 1), near(seed + 100, 2), near(seed + 200, 0.5), near(seed + 300, 3)];
      expect(greedySoup(random, score).score).toBeGreaterThanOrEqual(Math.max(...random.map(score)));
    }
  });

  it('chooses λ from 0.1 … 1.0 by held-out score', () => {
    expect(LAMBDA_GRID).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    const choice = chooseLambda(
      (lambda) => [f32(lambda)],
      (weights) => -Math.abs(weights[0]![0]! - 0.3),
    );
    expect(choice.lambda).toBe(0.3);
    expect(choice.scores).toHaveLength(10);
  });
});

describe('LCSC search', () => {
  const checkpoints = [randomWeights(1), randomWeights(2), randomWeights(3), randomWeights(4)];
  // The best combination is a known affine mix the search has to find.
  const goal = linearCombination(checkpoints, [0.1, 0.5, 0.6, -0.2]);
  const evaluate = (coefficients: readonly number[]) => {
    const weights = linearCombination(checkpoints, coefficients);
    return -weights.reduce(
      (sum, values, w) => sum + values.reduce((s, v, i) => s + (v - goal[w]![i]!) ** 2, 0),
      0,
    );
  };

  it('is deterministic for a seed, and never worse than the best single checkpoint', () => {
    const options = { population: 8, generations: 15, seed: 42 };
    const first = searchCoefficients(4, evaluate, options);
    const again = searchCoefficients(4, evaluate, options);
    expect(again).toEqual(first);
    const singles = checkpoints.map((_, k) => evaluate(checkpoints.map((_, j) => (j === k ? 1 : 0))));
    expect(first.bestSingle.score).toBe(Math.max(...singles));
    expect(first.score).toBeGreaterThanOrEqual(first.bestSingle.score);
    expect(first.score).toBeGreaterThan(first.bestSingle.score);
    // Elitism: the best score never goes down from one generation to the next.
    for (let g = 1; g < first.history.length; g++)
      expect(first.history[g]!).toBeGreaterThanOrEqual(first.history[g - 1]!);
    expect(first.coefficients.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    const other = searchCoefficients(4, evaluate, { ...options, seed: 43 });
    expect(other.coefficients).not.toEqual(first.coefficients);
    expect(other.score).toBeGreaterThanOrEqual(other.bestSingle.score);
  });

  it('with no generations returns the best of the initial candidates, singles included', () => {
    // A metric where one checkpoint alone beats every mix: the search must keep it.
    const lonely = (coefficients: readonly number[]) => (coefficients[2] === 1 ? 1 : 0);
    const result = searchCoefficients(4, lonely, { population: 3, generations: 5, seed: 1 });
    expect(result.coefficients).toEqual([0, 0, 1, 0]);
    expect(result.score).toBe(1);
    expect(projectToAffine([1, 1, 1, 1])).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
});

describe('architecture check', () => {
  const mlp = (label: string, hidden: number, activation = 'relu'): ArchitectureSignature => ({
    label,
    port: 'models',
    layers: [
      { name: 'flatten', className: 'Flatten' },
      { name: 'hidden_1', className: 'Dense', activation },
      { name: 'output', className: 'Dense', activation: 'softmax' },
    ],
    weights: [
      { name: 'hidden_1/kernel', shape: [784, hidden] },
      { name: 'hidden_1/bias', shape: [hidden] },
      { name: 'output/kernel', shape: [hidden, 10] },
      { name: 'output/bias', shape: [10] },
    ],
  });

  it('passes models of one architecture', () => {
    expect(() =>
      checkSameArchitecture('m', [mlp('models[1]', 32), mlp('models[2]', 32), mlp('base', 32)]),
    ).not.toThrow();
  });

  it('names the first weight whose shape differs', () => {
    const error = thrown(() =>
      checkSameArchitecture('merge-1', [mlp('models[1]', 32), mlp('models[2]', 32), mlp('models[3]', 64)]),
    );
    expect(error.code).toBe('INCOMPATIBLE_INPUTS');
    expect(error.message).toContain('models[3]');
    expect(error.message).toContain('"hidden_1/kernel"');
    expect(error.details).toMatchObject({
      nodeId: 'merge-1',
      port: 'models',
      weight: 'hidden_1/kernel',
      layer: 'hidden_1',
      expected: '[784, 32]',
      received: '[784, 64]',
    });
  });

  it('names the first layer whose type or activation differs, or that is missing', () => {
    const tanh = thrown(() =>
      checkSameArchitecture('m', [mlp('models[1]', 32), mlp('models[2]', 32, 'tanh')]),
    );
    expect(tanh.details).toMatchObject({
      layer: 'hidden_1',
      layerIndex: 1,
      expected: 'Dense (relu)',
      received: 'Dense (tanh)',
    });
    const shorter = mlp('base', 32);
    const missing = thrown(() =>
      checkSameArchitecture('m', [
        mlp('models[1]', 32),
        { ...shorter, port: 'base', layers: shorter.layers.slice(0, 2) },
      ]),
    );
    expect(missing.details).toMatchObject({
      port: 'base',
      layer: 'output',
      layerIndex: 2,
      received: 'no layer',
    });
  });

  it('task vectors are the differences from the base', () => {
    expect(plain(taskVectors([f32(1, 2)], [[f32(2, 0)], [f32(1, 5)]])[1]!)).toEqual([[0, 3]]);
  });
});
