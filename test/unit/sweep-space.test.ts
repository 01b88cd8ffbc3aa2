/**
 * The search space and the grid and random samplers: draws stay inside their domains with the
 * distributions they promise (checked with KS and chi-square tests at fixed seeds), grids
 * enumerate exactly, `when` conditions switch params on and off, proposals are reproducible, and a
 * trial's values land in its pipeline without touching the original.
 */
import { describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import {
  applyTrialParams,
  enumerateGrid,
  GridSampler,
  RandomSampler,
  randomConfiguration,
  SearchSpace,
  type Domain,
  type SpaceParam,
  type TrialParams,
} from '../../main/pipeline/sweep/index';
import { DistilleryError } from '../../main/base/errors';

function param(key: string, domain: Domain, when: SpaceParam['when'] = []): SpaceParam {
  const [nodeId, name] = key.split('.') as [string, string];
  return { key, nodeId, param: name, domain, when };
}

/** `count` draws of one param, one trial each. */
function draws(domain: Domain, count: number, seed = 7): number[] {
  const space = new SearchSpace([param('fit.x', domain)]);
  const sampler = new RandomSampler(space, seed);
  return Array.from({ length: count }, (_, i) => sampler.propose(i)['fit.x'] as number);
}

/** Kolmogorov–Smirnov distance between samples in [0, 1] and the uniform distribution. */
function ksUniform(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  let distance = 0;
  sorted.forEach((value, i) => {
    distance = Math.max(distance, (i + 1) / sorted.length - value, value - i / sorted.length);
  });
  return distance;
}

/** Pearson's chi-square statistic of observed counts against expected probabilities. */
function chiSquare(counts: readonly number[], probabilities: readonly number[]): number {
  const total = counts.reduce((sum, count) => sum + count, 0);
  return counts.reduce(
    (sum, count, i) => sum + (count - total * probabilities[i]!) ** 2 / (total * probabilities[i]!),
    0,
  );
}

describe('random sampling', () => {
  it('keeps every kind inside its bounds', () => {
    const range = (values: number[]) => ({
      min: Math.min(...values),
      max: Math.max(...values),
      integers: values.every(Number.isInteger),
    });
    const uniform = range(draws({ kind: 'uniform', low: 0.5, high: 0.99 }, 5000));
    expect(uniform.min).toBeGreaterThanOrEqual(0.5);
    expect(uniform.max).toBeLessThan(0.99);
    const logUniform = range(draws({ kind: 'logUniform', low: 1e-4, high: 0.1 }, 5000));
    expect(logUniform.min).toBeGreaterThanOrEqual(1e-4);
    expect(logUniform.max).toBeLessThanOrEqual(0.1);
    // Both ends of an integer range are reached.
    expect(range(draws({ kind: 'int', low: 3, high: 9, log: false }, 5000))).toEqual({
      min: 3,
      max: 9,
      integers: true,
    });
    expect(range(draws({ kind: 'int', low: 1, high: 64, log: true }, 5000))).toEqual({
      min: 1,
      max: 64,
      integers: true,
    });
  });

  it('draws log-uniform values uniformly in log space (KS), which a linear draw would fail', () => {
    const low = 1e-4;
    const high = 0.1;
    const toUnit = (value: number) => (Math.log(value) - Math.log(low)) / (Math.log(high) - Math.log(low));
    const n = 5000;
    // Critical KS distance for α = 0.001 is 1.95/√n ≈ 0.028.
    const critical = 1.95 / Math.sqrt(n);
    const logDraws = draws({ kind: 'logUniform', low, high }, n).map(toUnit);
    expect(ksUniform(logDraws)).toBeLessThan(critical);
    const linearDraws = draws({ kind: 'uniform', low, high }, n).map(toUnit);
    expect(ksUniform(linearDraws)).toBeGreaterThan(10 * critical);
  });

  it('draws uniform values uniformly (KS)', () => {
    const n = 5000;
    const unit = draws({ kind: 'uniform', low: -5, high: 10 }, n).map((value) => (value + 5) / 15);
    expect(ksUniform(unit)).toBeLessThan(1.95 / Math.sqrt(n));
  });

  it('gives every integer the same chance, ends included (chi-square)', () => {
    const n = 30_000;
    const counts = new Array<number>(6).fill(0);
    for (const value of draws({ kind: 'int', low: 1, high: 6, log: false }, n)) counts[value - 1]! += 1;
    // 5 degrees of freedom: 20.5 is the α = 0.001 critical value.
    expect(chiSquare(counts, new Array<number>(6).fill(1 / 6))).toBeLessThan(20.5);
    // Rounding a uniform draw on [1, 6] would give the ends half the mass; that is far off.
    const rounded = [n / 10, n / 5, n / 5, n / 5, n / 5, n / 10];
    expect(chiSquare(rounded, new Array<number>(6).fill(1 / 6))).toBeGreaterThan(1000);
  });

  it('weighs log integers by log((k + ½) / (k − ½)) (chi-square)', () => {
    const n = 30_000;
    const counts = new Array<number>(8).fill(0);
    for (const value of draws({ kind: 'int', low: 1, high: 8, log: true }, n)) counts[value - 1]! += 1;
    const total = Math.log(8.5 / 0.5);
    const expected = counts.map((_, i) => Math.log((i + 1.5) / (i + 0.5)) / total);
    expect(chiSquare(counts, expected)).toBeLessThan(24.3); // 7 dof, α = 0.001
  });

  it('picks each choice equally often, any JSON values, copied', () => {
    const values = [[128], [300, 100], [512, 256]];
    const space = new SearchSpace([param('net.hidden', { kind: 'choice', values })]);
    const sampler = new RandomSampler(space, 3);
    const counts = [0, 0, 0];
    for (let i = 0; i < 9000; i++) {
      const drawn = sampler.propose(i)['net.hidden'];
      const at = values.findIndex((value) => JSON.stringify(value) === JSON.stringify(drawn));
      expect(at).toBeGreaterThanOrEqual(0);
      counts[at]! += 1;
      if (i === 0) {
        (drawn as number[]).push(1);
        expect(values[at]).toHaveLength(at === 0 ? 1 : 2);
      }
    }
    expect(chiSquare(counts, [1 / 3, 1 / 3, 1 / 3])).toBeLessThan(13.8); // 2 dof, α = 0.001
  });

  it('is a pure function of seed and trial index, with one stream per param', () => {
    const space = new SearchSpace([
      param('fit.learningRate', { kind: 'logUniform', low: 1e-4, high: 0.1 }),
      param('fit.batchSize', { kind: 'choice', values: [32, 64, 128] }),
    ]);
    const a = new RandomSampler(space, 11);
    const b = new RandomSampler(space, 11);
    const first = [5, 0, 3].map((i) => a.propose(i));
    expect([5, 0, 3].map((i) => b.propose(i))).toEqual(first);
    expect(new RandomSampler(space, 12).propose(5)).not.toEqual(first[0]);
    expect(a.propose(6)).not.toEqual(first[0]);
    // Adding a param leaves the existing params' draws unchanged.
    const wider = new SearchSpace([
      ...space.params,
      param('net.dropout', { kind: 'uniform', low: 0, high: 0.5 }),
    ]);
    const widened = randomConfiguration(wider, 11, 5);
    expect(widened['fit.learningRate']).toBe(first[0]!['fit.learningRate']);
    expect(widened['fit.batchSize']).toBe(first[0]!['fit.batchSize']);
  });
});

describe('when conditions', () => {
  const space = new SearchSpace(
    [
      // Written before the param it depends on: the space orders it after.
      param('fit.momentum', { kind: 'uniform', low: 0.5, high: 0.99 }, [
        { key: 'fit.optimizer', value: 'momentum' },
      ]),
      param('fit.optimizer', { kind: 'choice', values: ['sgd', 'momentum', 'adam'] }),
      param('fit.beta1', { kind: 'uniform', low: 0.8, high: 0.99 }, [
        { key: 'fit.optimizer', value: 'adam' },
      ]),
      param('fit.weightDecay', { kind: 'uniform', low: 0, high: 0.1 }, [
        { key: 'fit.schedule', value: 'cosine' },
      ]),
    ],
    { 'fit.schedule': 'constant' },
  );

  it('orders a param after the params its conditions name', () => {
    expect(space.keys).toEqual(['fit.optimizer', 'fit.momentum', 'fit.beta1', 'fit.weightDecay']);
  });

  it('includes a conditional param exactly when its condition holds', () => {
    const sampler = new RandomSampler(space, 5);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const trial = sampler.propose(i);
      seen.add(trial['fit.optimizer'] as string);
      expect('fit.momentum' in trial).toBe(trial['fit.optimizer'] === 'momentum');
      expect('fit.beta1' in trial).toBe(trial['fit.optimizer'] === 'adam');
      // The pipeline's schedule is "constant" and not swept: weight decay never applies.
      expect('fit.weightDecay' in trial).toBe(false);
    }
    expect(seen).toEqual(new Set(['sgd', 'momentum', 'adam']));
  });

  it('lets the grid branch only where a condition holds', () => {
    const grid = new SearchSpace([
      param('fit.optimizer', { kind: 'grid', values: ['sgd', 'momentum'] }),
      param('fit.momentum', { kind: 'grid', values: [0.8, 0.9, 0.99] }, [
        { key: 'fit.optimizer', value: 'momentum' },
      ]),
      param('fit.batchSize', { kind: 'choice', values: [32, 64] }),
    ]);
    expect(enumerateGrid(grid)).toEqual([
      { 'fit.optimizer': 'sgd', 'fit.batchSize': 32 },
      { 'fit.optimizer': 'sgd', 'fit.batchSize': 64 },
      { 'fit.optimizer': 'momentum', 'fit.momentum': 0.8, 'fit.batchSize': 32 },
      { 'fit.optimizer': 'momentum', 'fit.momentum': 0.8, 'fit.batchSize': 64 },
      { 'fit.optimizer': 'momentum', 'fit.momentum': 0.9, 'fit.batchSize': 32 },
      { 'fit.optimizer': 'momentum', 'fit.momentum': 0.9, 'fit.batchSize': 64 },
      { 'fit.optimizer': 'momentum', 'fit.momentum': 0.99, 'fit.batchSize': 32 },
      { 'fit.optimizer': 'momentum', 'fit.momentum': 0.99, 'fit.batchSize': 64 },
    ]);
  });

  it('completes a configuration after a change: drops what no longer applies, draws what now does', () => {
    const before: TrialParams = { 'fit.optimizer': 'momentum', 'fit.momentum': 0.9 };
    const after = space.complete({ ...before, 'fit.optimizer': 'adam' }, () => 0.95);
    expect(after).toEqual({ 'fit.optimizer': 'adam', 'fit.beta1': 0.95 });
  });

  it('refuses conditions that form a cycle', () => {
    expect(
      () =>
        new SearchSpace([
          param('a.x', { kind: 'choice', values: [1, 2] }, [{ key: 'a.y', value: 1 }]),
          param('a.y', { kind: 'choice', values: [1, 2] }, [{ key: 'a.x', value: 1 }]),
        ]),
    ).toThrow(DistilleryError);
  });
});

describe('grid search', () => {
  it('enumerates every combination exactly once, the last param fastest', () => {
    const space = new SearchSpace([
      param('fit.learningRate', { kind: 'grid', values: [0.1, 0.01, 0.001] }),
      param('net.hidden', { kind: 'grid', values: [[64], [128, 64]] }),
      param('fit.optimizer', { kind: 'choice', values: ['sgd', 'adam'] }),
    ]);
    const sampler = new GridSampler(space);
    expect(sampler.size).toBe(12);
    const points = Array.from({ length: 12 }, (_, i) => sampler.propose(i));
    expect(new Set(points.map((point) => JSON.stringify(point))).size).toBe(12);
    expect(points[0]).toEqual({ 'fit.learningRate': 0.1, 'net.hidden': [64], 'fit.optimizer': 'sgd' });
    expect(points[1]).toEqual({ 'fit.learningRate': 0.1, 'net.hidden': [64], 'fit.optimizer': 'adam' });
    expect(points[2]).toEqual({ 'fit.learningRate': 0.1, 'net.hidden': [128, 64], 'fit.optimizer': 'sgd' });
    expect(points[11]).toEqual({
      'fit.learningRate': 0.001,
      'net.hidden': [128, 64],
      'fit.optimizer': 'adam',
    });
    for (const lr of [0.1, 0.01, 0.001]) {
      expect(points.filter((point) => point['fit.learningRate'] === lr)).toHaveLength(4);
    }
    expect(() => sampler.propose(12)).toThrow(/has 12 points/);
  });

  it('reports a grid too large to enumerate instead of building it', () => {
    const values = Array.from({ length: 50 }, (_, i) => i);
    const space = new SearchSpace(['a.p', 'a.q', 'a.r'].map((key) => param(key, { kind: 'grid', values })));
    expect(enumerateGrid(space, 100_000)).toBeUndefined();
    expect(enumerateGrid(space, 200_000)).toHaveLength(125_000);
  });
});

describe('applyTrialParams', () => {
  const doc: PipelineDoc & { sweep?: unknown } = {
    format: 1,
    name: 'mnist-mlp',
    seed: 42,
    nodes: [
      { id: 'data', type: 'dataset.mnist', params: { trainLimit: 2000 } },
      { id: 'net', type: 'model.mlp', params: { hidden: [300, 100] } },
      { id: 'fit', type: 'train', params: { epochs: 3, learningRate: 0.001 } },
    ],
    edges: [{ from: 'net.model', to: 'fit.model' }],
    sweep: { objective: { node: 'fit', metric: 'accuracy', mode: 'max' }, space: {} },
  };

  it('substitutes values and the resource into a copy without the sweep block', () => {
    const original = structuredClone(doc);
    const trial = applyTrialParams(
      doc,
      { 'fit.learningRate': 0.03, 'net.hidden': [128] },
      { key: 'fit.epochs', value: 27 },
    );
    expect(trial.nodes[2]!.params).toEqual({ epochs: 27, learningRate: 0.03 });
    expect(trial.nodes[1]!.params).toEqual({ hidden: [128] });
    expect(trial.nodes[0]).toEqual(doc.nodes[0]);
    expect('sweep' in trial).toBe(false);
    expect(doc).toEqual(original);
    (trial.nodes[1]!.params.hidden as number[]).push(1);
    expect(doc.nodes[1]!.params.hidden).toEqual([300, 100]);
  });

  it('refuses a key that names no node', () => {
    let error: unknown;
    try {
      applyTrialParams(doc, { 'nope.learningRate': 1 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DistilleryError);
    expect(error).toMatchObject({ code: 'SWEEP_UNKNOWN_PARAM', details: { received: 'nope.learningRate' } });
  });
});
