/**
 * The trial schedulers' decisions on synthetic learning curves, against rungs, brackets and
 * quantiles computed by hand: ASHA (Li et al. 2020), Hyperband's brackets (the table of Li et al.
 * 2017 for R = 81, η = 3) and their asynchronous halving, and PBT's exploit and explore steps.
 */
import { describe, expect, it } from 'vitest';
import {
  ashaRungs,
  AshaScheduler,
  assignBracket,
  hyperbandBrackets,
  hyperbandIterationSize,
  HyperbandScheduler,
  NoScheduler,
  PbtScheduler,
  SearchSpace,
  type PbtConfig,
  type SchedulerDecision,
  type SpaceParam,
  type TrialParams,
} from '../../main/pipeline/sweep/index';
import { Rng } from '../../main/pipeline/sweep/random';

const CONTINUE: SchedulerDecision = { kind: 'continue' };

/** The decision's kind and, for a stop, its rung: what the hand computation predicts. */
function outcome(decision: SchedulerDecision): string {
  return decision.kind === 'stop' ? `stop@${decision.rung}` : decision.kind;
}

describe('ASHA', () => {
  it('puts rungs at min·η^k below max', () => {
    expect(ashaRungs(1, 27, 3)).toEqual([1, 3, 9]);
    expect(ashaRungs(1, 100, 4)).toEqual([1, 4, 16, 64]); // Ray's defaults
    expect(ashaRungs(2, 20, 3)).toEqual([2, 6, 18]);
    expect(ashaRungs(5, 5, 3)).toEqual([]);
  });

  it('keeps a trial only if it is in the top ⌊n/η⌋ (at least 1) of those that reached its rung', () => {
    const asha = new AshaScheduler({
      min: 1,
      max: 9,
      reductionFactor: 3,
      mode: 'max',
      metric: 'val_accuracy',
    });
    expect(asha.targetFor()).toBe(9);
    const steps: Array<[trial: number, epoch: number, value: number, expected: string]> = [
      [0, 1, 0.5, 'continue'], // rung 1: [0.5], keep 1
      [1, 1, 0.4, 'stop@1'], // [0.5, 0.4], keep 1: 0.4 < 0.5
      [2, 1, 0.6, 'continue'], // [0.6, 0.5, 0.4], keep 1
      [3, 1, 0.55, 'stop@1'], // 4 trials, keep 1: threshold 0.6
      [0, 2, 0.6, 'continue'], // epoch 2 is no rung
      [0, 3, 0.7, 'continue'], // rung 3: [0.7]
      [4, 1, 0.58, 'stop@1'], // 5 trials, keep ⌊5/3⌋ = 1: threshold 0.6
      [5, 1, 0.59, 'continue'], // 6 trials, keep 2: threshold 0.59, ties go on
      [2, 3, 0.65, 'stop@3'], // rung 3: [0.7, 0.65], keep 1
      [5, 3, 0.72, 'continue'], // rung 3: [0.72, 0.7, 0.65], keep 1
      [0, 9, 0.1, 'continue'], // max is no rung: the trial is done
      [1, 2, 0.99, 'stop@1'], // a stopped trial stays stopped
      [6, 1, Number.NaN, 'stop@1'], // a diverged trial is stopped
    ];
    for (const [trial, epoch, value, expected] of steps) {
      expect(`${trial}@${epoch}: ${outcome(asha.onResult(trial, epoch, value))}`).toBe(
        `${trial}@${epoch}: ${expected}`,
      );
    }
    expect(asha.recordsOf(5)).toEqual([
      { rung: 1, value: 0.59, reached: 6, kept: 2, continued: true },
      { rung: 3, value: 0.72, reached: 3, kept: 1, continued: true },
    ]);
    const stop = asha.onResult(3, 1, 0.55);
    expect(stop).toMatchObject({ kind: 'stop', rung: 1 });
    expect(stop.kind === 'stop' && stop.reason).toMatch(/val_accuracy 0\.55.* top 1 of the 4/);
  });

  it('minimises when the metric is a loss', () => {
    const asha = new AshaScheduler({ min: 1, max: 9, reductionFactor: 3, mode: 'min' });
    expect(outcome(asha.onResult(0, 1, 0.5))).toBe('continue');
    expect(outcome(asha.onResult(1, 1, 0.4))).toBe('continue');
    expect(outcome(asha.onResult(2, 1, 0.6))).toBe('stop@1');
  });

  it('judges a report that skips rungs at the highest rung it reached', () => {
    const asha = new AshaScheduler({ min: 1, max: 27, reductionFactor: 3, mode: 'max' });
    asha.onResult(0, 3, 0.9);
    expect(outcome(asha.onResult(1, 4, 0.8))).toBe('stop@3');
    expect(asha.recordsOf(1).map((record) => record.rung)).toEqual([3]);
  });
});

describe('Hyperband', () => {
  it('builds the brackets of Li et al. (R = 81, η = 3)', () => {
    const brackets = hyperbandBrackets(1, 81, 3);
    expect(brackets.map(({ s, configurations, rungs }) => ({ s, configurations, rungs }))).toEqual([
      { s: 4, configurations: 81, rungs: [1, 3, 9, 27] },
      { s: 3, configurations: 34, rungs: [3, 9, 27] },
      { s: 2, configurations: 15, rungs: [9, 27] },
      { s: 1, configurations: 8, rungs: [27] },
      { s: 0, configurations: 5, rungs: [] },
    ]);
    expect(hyperbandIterationSize(1, 81, 3)).toBe(143);
    expect(hyperbandBrackets(1, 27, 3).map((bracket) => bracket.configurations)).toEqual([27, 12, 6, 4]);
  });

  it('hands out trials iteration by iteration, shrinking a partial last iteration in proportion', () => {
    const brackets = hyperbandBrackets(1, 27, 3); // 27 + 12 + 6 + 4 = 49 per iteration
    const sOf = (trials: number) =>
      Array.from({ length: trials }, (_, i) => assignBracket(brackets, trials, i));
    const count = (assigned: ReturnType<typeof sOf>, iteration: number, s: number) =>
      assigned.filter((a) => a.iteration === iteration && a.s === s).length;
    // 32 of 49: 32·27/49 = 17.6, 32·12/49 = 7.8, 32·6/49 = 3.9, 32·4/49 = 2.6 → 18, 8, 4, 2.
    const small = sOf(32);
    expect([3, 2, 1, 0].map((s) => count(small, 0, s))).toEqual([18, 8, 4, 2]);
    expect(small.slice(0, 18).every((a) => a.s === 3)).toBe(true);
    expect(small.slice(30).every((a) => a.s === 0)).toBe(true);
    // 60: one full iteration, then 11: 6.06, 2.69, 1.35, 0.90 → 6, 3, 1, 1.
    const large = sOf(60);
    expect([3, 2, 1, 0].map((s) => count(large, 0, s))).toEqual([27, 12, 6, 4]);
    expect([3, 2, 1, 0].map((s) => count(large, 1, s))).toEqual([6, 3, 1, 1]);
    expect(large[49]).toEqual({ iteration: 1, s: 3 });
  });

  it('halves within each bracket only, at that bracket’s rungs', () => {
    const hyperband = new HyperbandScheduler({
      min: 1,
      max: 27,
      reductionFactor: 3,
      mode: 'max',
      trials: 32,
    });
    expect(hyperband.bracketOf(0)).toMatchObject({ s: 3, rungs: [1, 3, 9] });
    expect(hyperband.bracketOf(18)).toMatchObject({ s: 2, rungs: [3, 9] });
    expect(hyperband.bracketOf(26)).toMatchObject({ s: 1, rungs: [9] });
    expect(hyperband.bracketOf(30)).toMatchObject({ s: 0, rungs: [] });
    const steps: Array<[trial: number, epoch: number, value: number, expected: string]> = [
      [0, 1, 0.5, 'continue'],
      [1, 1, 0.3, 'stop@1'], // bracket 3, rung 1: [0.5, 0.3]
      [18, 1, 0.1, 'continue'], // bracket 2 has no rung at 1
      [18, 3, 0.2, 'continue'], // bracket 2, rung 3: [0.2]
      [19, 3, 0.15, 'stop@3'], // bracket 2, rung 3: [0.2, 0.15]
      [0, 3, 0.1, 'continue'], // bracket 3, rung 3: [0.1] — bracket 2's 0.2 does not count
      [26, 3, 0.01, 'continue'], // bracket 1 has no rung at 3
      [26, 9, 0.01, 'continue'],
      [27, 9, 0.001, 'stop@9'],
    ];
    for (const [trial, epoch, value, expected] of steps) {
      expect(`${trial}@${epoch}: ${outcome(hyperband.onResult(trial, epoch, value))}`).toBe(
        `${trial}@${epoch}: ${expected}`,
      );
    }
    // Bracket 0 runs its configurations to the full budget.
    for (let epoch = 1; epoch <= 27; epoch++) expect(hyperband.onResult(30, epoch, 0)).toEqual(CONTINUE);
    expect(hyperband.targetFor()).toBe(27);
  });
});

function param(key: string, domain: SpaceParam['domain'], when: SpaceParam['when'] = []): SpaceParam {
  const [nodeId, name] = key.split('.') as [string, string];
  return { key, nodeId, param: name, domain, when };
}

describe('PBT', () => {
  const space = new SearchSpace([
    param('fit.learningRate', { kind: 'logUniform', low: 1e-4, high: 0.1 }),
    param('fit.batchSize', { kind: 'int', low: 16, high: 256, log: false }),
    param('fit.optimizer', { kind: 'choice', values: ['sgd', 'momentum', 'adam'] }),
    param('fit.momentum', { kind: 'uniform', low: 0.5, high: 0.99 }, [
      { key: 'fit.optimizer', value: 'momentum' },
    ]),
  ]);
  const config: PbtConfig = {
    max: 8,
    interval: 2,
    quantile: 0.25,
    resampleProbability: 0.25,
    perturbation: [0.8, 1.2],
    mutable: ['fit.learningRate', 'fit.optimizer', 'fit.momentum'],
    mode: 'max',
    seed: 1,
  };
  const paramsOf = (i: number): TrialParams => ({
    'fit.learningRate': 0.001 * (i + 1),
    'fit.batchSize': 32 + i,
    'fit.optimizer': 'adam',
  });

  /** A population of 8 trials with the params of {@link paramsOf}. */
  function population(): PbtScheduler {
    const pbt = new PbtScheduler(config, space);
    for (let i = 0; i < 8; i++) pbt.addTrial(i, paramsOf(i));
    return pbt;
  }

  it('runs trials in segments of `interval` epochs up to max', () => {
    const pbt = population();
    expect(pbt.targetFor(3)).toBe(2);
    pbt.onResult(3, 1, 0.1);
    expect(pbt.targetFor(3)).toBe(2);
    pbt.onResult(3, 2, 0.3);
    expect(pbt.targetFor(3)).toBe(4);
    const short = new PbtScheduler({ ...config, max: 5 }, space);
    short.addTrial(0, paramsOf(0));
    short.onResult(0, 4, 0.2);
    expect(short.targetFor(0)).toBe(5);
  });

  it('makes a bottom-quantile trial copy a top-quantile trial’s checkpoint and params, then explore', () => {
    const pbt = population();
    // Trial i scores i/10 at epoch 2; each is the best so far when it reports, so none exploits.
    for (let i = 0; i < 8; i++) expect(pbt.onResult(i, 2, i / 10)).toEqual(CONTINUE);
    // 8 trials: q = ⌈8·0.25⌉ = 2; bottom = trials 1 and 0, top = trials 7 and 6.
    expect(pbt.quantiles()).toEqual({ bottom: [1, 0], top: [7, 6] });
    // Trial 0 ends its second segment still worst: it takes a top trial's epoch-2 checkpoint.
    const decision = pbt.onResult(0, 4, 0);
    expect(decision.kind).toBe('exploit');
    if (decision.kind !== 'exploit') return;
    expect([6, 7]).toContain(decision.from);
    expect(decision.atResource).toBe(2);
    const source = paramsOf(decision.from);
    // The batch size is not mutable: it is the source's.
    expect(decision.params['fit.batchSize']).toBe(source['fit.batchSize']);
    const change = decision.changes.find((c) => c.key === 'fit.learningRate')!;
    expect(change.from).toBe(source['fit.learningRate']);
    if (change.how === 'perturb')
      expect(decision.params['fit.learningRate']).toBe(
        (source['fit.learningRate'] as number) * change.factor!,
      );
    else expect(change.how).toBe('resample');
    expect(pbt.history).toEqual([
      {
        trial: 0,
        resource: 4,
        from: decision.from,
        atResource: 2,
        before: paramsOf(0),
        after: decision.params,
        changes: decision.changes,
      },
    ]);
    expect(pbt.paramsOf(0)).toEqual(decision.params);
    expect(pbt.targetFor(0)).toBe(4);
    // A top-quantile trial reporting at a segment end carries on with its own checkpoint.
    expect(pbt.onResult(7, 4, 0.9)).toEqual(CONTINUE);
  });

  it('sizes the quantiles as Ray does: ⌈n·q⌉, at most ⌊n/2⌋', () => {
    const sizes = (n: number, quantile: number) => {
      const pbt = new PbtScheduler({ ...config, quantile }, space);
      for (let i = 0; i < n; i++) {
        pbt.addTrial(i, paramsOf(i));
        pbt.onResult(i, 2, i);
      }
      return pbt.quantiles().top.length;
    };
    expect(sizes(1, 0.25)).toBe(0);
    expect(sizes(2, 0.25)).toBe(1);
    expect(sizes(3, 0.25)).toBe(1);
    expect(sizes(8, 0.25)).toBe(2);
    expect(sizes(9, 0.25)).toBe(3);
    expect(sizes(5, 0.5)).toBe(2);
  });

  it('ignores mid-segment reports, finished, failed and cancelled trials, and minimises a loss', () => {
    const pbt = new PbtScheduler({ ...config, mode: 'min' }, space);
    for (let i = 0; i < 4; i++) pbt.addTrial(i, paramsOf(i));
    pbt.onResult(0, 2, 0.1);
    pbt.onResult(1, 2, 0.2);
    pbt.onResult(2, 2, 0.3);
    expect(pbt.onResult(3, 1, 9)).toEqual(CONTINUE);
    // Loss: trial 2 (0.3) is the worst of three, trial 0 the best.
    expect(pbt.quantiles()).toEqual({ bottom: [2], top: [0] });
    // Trial 0 finishes its budget and leaves the population.
    pbt.onResult(0, 8, 0.05);
    expect(pbt.quantiles()).toEqual({ bottom: [2], top: [1] });
    pbt.onTrialEnd(2, 'failed');
    // Trial 3 is now worst of two: it exploits trial 1 and takes its score.
    expect(pbt.onResult(3, 2, 0.25)).toMatchObject({ kind: 'exploit', from: 1, atResource: 2 });
    expect(pbt.quantiles()).toEqual({ bottom: [3], top: [1] });
    expect(pbt.retainedCheckpoints()).toEqual([
      { trial: 1, resource: 2 },
      { trial: 3, resource: 2 },
    ]);
  });

  it('perturbs by ×0.8 or ×1.2 and resamples with probability 0.25, over many draws', () => {
    const pbt = new PbtScheduler({ ...config, mutable: ['fit.learningRate', 'fit.batchSize'] }, space);
    const source: TrialParams = { 'fit.learningRate': 0.01, 'fit.batchSize': 100, 'fit.optimizer': 'adam' };
    const counts = { resample: 0, up: 0, down: 0 };
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const { params, changes } = pbt.explore(source, new Rng(1000 + i));
      const change = changes.find((c) => c.key === 'fit.learningRate')!;
      if (change.how === 'resample') {
        counts.resample += 1;
        const value = params['fit.learningRate'] as number;
        expect(value >= 1e-4 && value <= 0.1).toBe(true);
      } else {
        expect(change.how).toBe('perturb');
        expect(params['fit.learningRate']).toBe(0.01 * change.factor!);
        counts[change.factor === 1.2 ? 'up' : 'down'] += 1;
      }
      const batch = changes.find((c) => c.key === 'fit.batchSize')!;
      if (batch.how === 'perturb') expect(params['fit.batchSize']).toBe(batch.factor === 1.2 ? 120 : 80);
      expect(params['fit.optimizer']).toBe('adam');
    }
    // Binomial standard deviations: √(n·0.25·0.75) ≈ 27, so ±5σ ≈ ±140.
    expect(Math.abs(counts.resample - n * 0.25)).toBeLessThan(140);
    expect(Math.abs(counts.up - counts.down)).toBeLessThan(300);
    expect(counts.up + counts.down + counts.resample).toBe(n);
  });

  it('clamps a perturbation to the space and shifts a choice to a neighbour, switching conditions', () => {
    const pbt = new PbtScheduler({ ...config, resampleProbability: 0 }, space);
    const atEdge: TrialParams = { 'fit.learningRate': 0.1, 'fit.batchSize': 64, 'fit.optimizer': 'sgd' };
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { params, changes } = pbt.explore(atEdge, new Rng(i));
      expect(params['fit.learningRate']).toBeCloseTo(
        changes.find((c) => c.key === 'fit.learningRate')!.factor === 1.2 ? 0.1 : 0.08,
        12,
      );
      const optimizer = params['fit.optimizer'] as string;
      seen.add(optimizer);
      expect(['sgd', 'momentum']).toContain(optimizer);
      if (optimizer === 'momentum') {
        const momentum = params['fit.momentum'] as number;
        expect(momentum >= 0.5 && momentum < 0.99).toBe(true);
        expect(changes).toContainEqual({
          key: 'fit.momentum',
          from: undefined,
          to: momentum,
          how: 'activated',
        });
      } else expect('fit.momentum' in params).toBe(false);
    }
    expect(seen).toEqual(new Set(['sgd', 'momentum']));
  });

  it('gives the same decisions when the same results are replayed', () => {
    const run = () => {
      const pbt = population();
      const decisions: SchedulerDecision[] = [];
      for (const epoch of [2, 4, 6]) {
        for (let i = 7; i >= 0; i--) decisions.push(pbt.onResult(i, epoch, ((i * 7 + epoch * 3) % 10) / 10));
      }
      return { decisions, history: pbt.history };
    };
    const first = run();
    expect(first.decisions.some((decision) => decision.kind === 'exploit')).toBe(true);
    expect(run()).toEqual(first);
  });
});

describe('no scheduler', () => {
  it('lets every trial run its budget', () => {
    const none = new NoScheduler(5);
    expect(none.targetFor()).toBe(5);
    expect(none.onResult()).toEqual(CONTINUE);
    expect(none.retainedCheckpoints()).toEqual([]);
  });
});
