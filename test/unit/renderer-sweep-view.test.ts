/**
 * The sweep view's data shaping (renderer/src/sweep/view-data.ts and charts.ts) on hand-built
 * trials: best-first order, the optimisation history's best-so-far line for both modes, ASHA's
 * rungs, a pruned trial's stop marker at its rung, the exploit graph's lanes and arrows, the
 * importance bars, and trial events merged into the held curves.
 */
import { describe, expect, it } from 'vitest';
import type { TrialInfo } from '../../preload/contract';
import { formatHash, parseHash } from '../../renderer/src/stores/navigation';
import { curvesOption, historyOption } from '../../renderer/src/sweep/charts';
import {
  exploitGraph,
  formatValue,
  importanceBars,
  logSpaceKeys,
  mergeTrial,
  optimisationHistory,
  rungs,
  trialCurves,
  trialEntries,
  trialsBestFirst,
} from '../../renderer/src/sweep/view-data';

function trial(index: number, fields: Partial<TrialInfo> = {}): TrialInfo {
  return {
    sweepId: 'sw1',
    index,
    params: { 'fit.learningRate': 0.001 * (index + 1) },
    status: 'done',
    objective: null,
    epochs: 3,
    epochsTrained: 3,
    runId: `run-${index}`,
    runs: [`run-${index}`],
    lastResult: null,
    stopped: null,
    exploits: [],
    error: null,
    startedAt: null,
    finishedAt: null,
    ...fields,
  };
}

const colors = { text: '#000', muted: '#666', line: '#ccc', accent: '#00f', pruned: '#f00' };

describe('optimisation history', () => {
  const trials = [
    trial(0, { objective: 0.8 }),
    trial(1, { objective: 0.7 }),
    trial(2, { status: 'pruned' }),
    trial(3, { objective: 0.9 }),
    trial(4, { status: 'running' }),
    trial(5, { objective: 0.85 }),
  ];

  it('plots the scored trials in index order with the best so far (max)', () => {
    expect(optimisationHistory(trials, 'max')).toEqual([
      { trial: 0, objective: 0.8, best: 0.8, improved: true },
      { trial: 1, objective: 0.7, best: 0.8, improved: false },
      { trial: 3, objective: 0.9, best: 0.9, improved: true },
      { trial: 5, objective: 0.85, best: 0.9, improved: false },
    ]);
  });

  it('follows the lowest value when minimising', () => {
    expect(optimisationHistory(trials, 'min').map((point) => point.best)).toEqual([0.8, 0.7, 0.7, 0.7]);
  });

  it('ranks trials best first, the unscored after them by index', () => {
    expect(trialsBestFirst(trials, 'max').map((item) => item.index)).toEqual([3, 5, 0, 1, 2, 4]);
    expect(trialsBestFirst(trials, 'min').map((item) => item.index)).toEqual([1, 0, 5, 3, 2, 4]);
  });

  it('draws a dot per scored trial and the step line in the chart option', () => {
    const option = historyOption(optimisationHistory(trials, 'max'), 'score.accuracy', colors);
    expect(option.series[0]!.data).toEqual([
      [0, 0.8],
      [1, 0.7],
      [3, 0.9],
      [5, 0.85],
    ]);
    expect(option.series[1]).toMatchObject({
      step: 'end',
      data: [
        [0, 0.8],
        [1, 0.8],
        [3, 0.9],
        [5, 0.9],
      ],
    });
  });
});

describe('rungs and intermediate curves', () => {
  it('places ASHA rungs at min·η^k below max, and Hyperband alike', () => {
    expect(rungs({ type: 'asha', resource: 'fit.epochs', min: 1, max: 27, reductionFactor: 3 })).toEqual([
      1, 3, 9,
    ]);
    expect(rungs({ type: 'hyperband', resource: 'fit.epochs', min: 2, max: 16, reductionFactor: 2 })).toEqual(
      [2, 4, 8],
    );
    // Defaults: min 1, η 3, max from the trials' budget.
    expect(rungs({ type: 'asha', resource: 'fit.epochs' }, 9)).toEqual([1, 3]);
    expect(rungs({ type: 'pbt', resource: 'fit.epochs', interval: 1 })).toEqual([]);
    expect(rungs(undefined)).toEqual([]);
  });

  it('marks a pruned trial at the reading of the rung where it was stopped', () => {
    const curve = [
      { resource: 1, value: 0.5 },
      { resource: 2, value: 0.55 },
      { resource: 3, value: 0.6 },
    ];
    const trials = [
      trial(0, {
        objective: 0.9,
        curve: [
          { resource: 1, value: 0.7 },
          { resource: 3, value: 0.9 },
        ],
      }),
      trial(1, { status: 'pruned', stopped: { rung: 3, reason: 'not in the top 1/3 at rung 3' }, curve }),
      trial(2, { status: 'queued', runId: null }),
    ];
    const curves = trialCurves(trials, 'max');
    expect(curves.map((item) => item.trial)).toEqual([0, 1]);
    expect(curves[0]!.stop).toBeNull();
    expect(curves[1]!.stop).toEqual({ resource: 3, value: 0.6 });
    const option = curvesOption(curves, [1, 3], 'val_accuracy', colors);
    const stops = option.series.at(-1) as { data: Array<{ value: number[] }>; markLine: { data: unknown[] } };
    expect(stops.data.map((item) => item.value)).toEqual([[3, 0.6]]);
    expect(stops.markLine.data).toEqual([{ xAxis: 1 }, { xAxis: 3 }]);
  });

  it('keeps the best curves when there are more than the limit', () => {
    const many = Array.from({ length: 10 }, (_, index) =>
      trial(index, { objective: index / 10, curve: [{ resource: 1, value: index / 10 }] }),
    );
    expect(trialCurves(many, 'max', 3).map((item) => item.trial)).toEqual([7, 8, 9]);
    expect(trialCurves(many, 'min', 3).map((item) => item.trial)).toEqual([0, 1, 2]);
  });

  it("appends a trial event's latest reading to the curve held, once", () => {
    const held = [trial(0, { status: 'running', curve: [{ resource: 1, value: 0.5 }] })];
    const update = trial(0, { status: 'running', lastResult: { resource: 2, value: 0.6 } });
    const once = mergeTrial(held, update);
    expect(once[0]!.curve).toEqual([
      { resource: 1, value: 0.5 },
      { resource: 2, value: 0.6 },
    ]);
    expect(mergeTrial(once, update)[0]!.curve).toHaveLength(2);
    // A trial not seen yet extends the list; the gap is filled with queued placeholders.
    const grown = mergeTrial(held, trial(2, { status: 'running' }));
    expect(grown.map((item) => [item.index, item.status])).toEqual([
      [0, 'running'],
      [1, 'queued'],
      [2, 'running'],
    ]);
  });
});

describe('exploit graph, importance and entries', () => {
  it('lays trials out as lanes with an arrow per exploit from source to target', () => {
    const exploit = {
      resource: 2,
      from: 0,
      atResource: 2,
      before: { 'fit.learningRate': 0.002 },
      after: { 'fit.learningRate': 0.0012 },
      changes: [{ key: 'fit.learningRate', from: 0.001, to: 0.0012, how: 'perturb' as const, factor: 1.2 }],
      runId: 'run-9',
    };
    const graph = exploitGraph([trial(1, { epochs: 4, exploits: [exploit] }), trial(0, { epochs: 4 })]);
    expect(graph.lanes).toEqual([0, 1]);
    expect(graph.maxResource).toBe(4);
    expect(graph.arrows).toEqual([
      { fromLane: 0, toLane: 1, from: 0, to: 1, atResource: 2, resource: 2, label: 'learningRate ×1.2' },
    ]);
  });

  it('shows importance as percentages of variance, widths relative to the largest', () => {
    const bars = importanceBars([
      { key: 'fit.batchSize', importance: 0.1, normalised: 0.2, groups: 3 },
      { key: 'fit.learningRate', importance: 0.4, normalised: 0.8, groups: 4 },
    ]);
    expect(bars).toEqual([
      { key: 'fit.learningRate', percent: 40, width: 1, groups: 4 },
      { key: 'fit.batchSize', percent: 10, width: 0.25, groups: 3 },
    ]);
    expect(importanceBars([{ key: 'a', importance: 0, normalised: 0, groups: 1 }])[0]!.width).toBe(0);
  });

  it('turns trials into comparison entries keyed by index, with the objective when scored', () => {
    const entries = trialEntries({
      objective: { node: 'score', metric: 'accuracy', mode: 'max' },
      trials: [trial(0, { objective: 0.9 }), trial(1)],
    });
    expect(entries[0]).toEqual({
      id: '0',
      label: 'trial 0',
      params: { 'fit.learningRate': 0.001 },
      metrics: { epochs: 3, 'score.accuracy': 0.9 },
    });
    expect(entries[1]!.metrics).toEqual({ epochs: 3 });
    const spec = {
      objective: { node: 'score', metric: 'accuracy', mode: 'max' as const },
      space: {
        'fit.learningRate': { logUniform: [0.0001, 0.01] as [number, number] },
        'fit.batchSize': { int: [32, 128] as [number, number], log: true },
        'fit.epochs': { int: [1, 3] as [number, number] },
        'fit.momentum': { uniform: [0.5, 0.9] as [number, number] },
      },
    };
    expect([...logSpaceKeys({ spec })]).toEqual(['fit.learningRate', 'fit.batchSize']);
    expect(formatValue([300, 100])).toBe('[300, 100]');
    expect(formatValue(0.00012345)).toBe('1.23e-4');
  });
});

describe('sweep routes', () => {
  it('round-trips the sweeps list and one sweep through the hash', () => {
    expect(parseHash(formatHash({ name: 'sweeps' }))).toEqual({ name: 'sweeps' });
    expect(parseHash(formatHash({ name: 'sweep', sweepId: 'sw 1/x' }))).toEqual({
      name: 'sweep',
      sweepId: 'sw 1/x',
    });
  });
});
