/**
 * Param importance (ε² of binned marginal means) on synthetic sweeps whose answer is known: the
 * param that drives the objective ranks first, a param with no effect scores about 0.
 */
import { describe, expect, it } from 'vitest';
import {
  paramImportance,
  RandomSampler,
  SearchSpace,
  type ImportanceTrial,
  type SpaceParam,
} from '../../main/pipeline/sweep/index';
import { Rng } from '../../main/pipeline/sweep/random';

function param(key: string, domain: SpaceParam['domain'], when: SpaceParam['when'] = []): SpaceParam {
  const [nodeId, name] = key.split('.') as [string, string];
  return { key, nodeId, param: name, domain, when };
}

const space = new SearchSpace([
  param('fit.x', { kind: 'uniform', low: 0, high: 1 }),
  param('fit.learningRate', { kind: 'logUniform', low: 1e-4, high: 0.1 }),
  param('fit.optimizer', { kind: 'choice', values: ['sgd', 'adam', 'lion'] }),
  param('fit.momentum', { kind: 'uniform', low: 0.5, high: 0.99 }, [{ key: 'fit.optimizer', value: 'sgd' }]),
]);

/** `count` random trials scored by `objective` plus a little seeded noise. */
function trials(count: number, objective: (params: ImportanceTrial['params']) => number): ImportanceTrial[] {
  const sampler = new RandomSampler(space, 3);
  const noise = new Rng(99);
  return Array.from({ length: count }, (_, i) => {
    const params = sampler.propose(i);
    return { params, objective: objective(params) + 0.05 * (noise.next() - 0.5) };
  });
}

describe('paramImportance', () => {
  it('ranks params by how much of the objective they explain', () => {
    const result = paramImportance(
      space,
      trials(300, (p) => 5 * (p['fit.x'] as number) + Math.log10(p['fit.learningRate'] as number)),
    );
    // Variances: 25/12 ≈ 2.08 from x, 9/12 = 0.75 from log10(lr), nothing from the rest.
    expect(result.map((entry) => entry.key)).toEqual([
      'fit.x',
      'fit.learningRate',
      'fit.momentum',
      'fit.optimizer',
    ]);
    const byKey = Object.fromEntries(result.map((entry) => [entry.key, entry]));
    expect(byKey['fit.x']!.importance).toBeGreaterThan(0.6);
    expect(byKey['fit.learningRate']!.importance).toBeGreaterThan(0.15);
    expect(byKey['fit.optimizer']!.importance).toBeLessThan(0.02);
    expect(byKey['fit.momentum']!.importance).toBeLessThan(0.03);
    expect(byKey['fit.x']!.groups).toBe(10);
    expect(result.reduce((sum, entry) => sum + entry.normalised, 0)).toBeCloseTo(1, 12);
  });

  it('scores a choice that decides the objective near 1, and gives its dependants the credit of their group', () => {
    const penalty: Record<string, number> = { sgd: 0, adam: 1, lion: 2 };
    const result = paramImportance(
      space,
      trials(150, (p) => penalty[p['fit.optimizer'] as string]!),
    );
    expect(result[0]!.key).toBe('fit.optimizer');
    expect(result[0]!.importance).toBeGreaterThan(0.99);
    expect(result[0]!.groups).toBe(3);
    // Momentum is present only with sgd (the best group), so its inactive group explains much too.
    expect(result.find((entry) => entry.key === 'fit.momentum')!.importance).toBeGreaterThan(0.3);
  });

  it('ignores trials without an objective and needs three scored trials', () => {
    const scored = trials(3, (p) => p['fit.x'] as number);
    expect(
      paramImportance(space, [...scored.slice(0, 2), { params: {}, objective: null }]).every(
        (e) => e.importance === 0,
      ),
    ).toBe(true);
    const withFailures = [
      ...trials(100, (p) => p['fit.x'] as number),
      { params: {}, objective: null },
      { params: {}, objective: Number.NaN },
    ];
    expect(paramImportance(space, withFailures)[0]!.key).toBe('fit.x');
  });
});
