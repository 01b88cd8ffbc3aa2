/**
 * `npm run bench -- sweep-view`: the sweep view's data shaping in Node on a seeded 1,000-trial ASHA
 * sweep (27 epochs, η = 3, each trial's curve up to its rung): the trials best first, the
 * optimisation history, the comparison entries and parallel axes with the top 10%, the curves
 * (the best 60) and both chart options, the exploit graph, and one `trial.status` event merged.
 * Each is timed against two references measured here: parsing the `sweeps.get` answer as the
 * client does (JSON.parse of the record with curves), and a 60 Hz frame. The figures are medians.
 *
 * BENCH_TRIALS (default 1000) sets the number of trials.
 */
import type { SweepInfo, TrialInfo, TrialResultPoint } from '../../preload/contract';
import {
  parallelAxes,
  suggestLogColumns,
  topEntries,
  type ComparisonColumn,
} from '../../renderer/src/compare/comparison';
import { curvesOption, historyOption } from '../../renderer/src/sweep/charts';
import {
  exploitGraph,
  mergeTrial,
  objectiveKey,
  optimisationHistory,
  rungs,
  trialCurves,
  trialEntries,
  trialsBestFirst,
} from '../../renderer/src/sweep/view-data';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 1000);
const REPEATS = 15;
const FRAME_MS = 1000 / 60;
const colors = { text: '#000', muted: '#666', line: '#ccc', accent: '#00f', pruned: '#f00' };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(run: () => unknown): number {
  const samples: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const started = performance.now();
    run();
    samples.push(performance.now() - started);
  }
  return median(samples);
}

/** A seeded generator (mulberry32), so every invocation shapes the same sweep. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seededSweep(count: number): SweepInfo {
  const random = generator(1);
  const scheduler = { type: 'asha' as const, resource: 'fit.epochs', min: 1, max: 27, reductionFactor: 3 };
  const levels = rungs(scheduler);
  const trials: TrialInfo[] = Array.from({ length: count }, (_, index) => {
    const learningRate = 10 ** (-4 + 3 * random());
    const batchSize = [32, 64, 128][Math.floor(random() * 3)]!;
    const quality = 0.9 + 0.08 * random();
    // ASHA keeps a third at each rung: where this trial stops.
    let stop = 27;
    for (const rung of levels)
      if (random() < 2 / 3) {
        stop = rung;
        break;
      }
    const curve: TrialResultPoint[] = Array.from({ length: stop }, (_, epoch) => ({
      resource: epoch + 1,
      value: quality * (1 - Math.exp(-(epoch + 1) / 4)),
    }));
    const pruned = stop < 27;
    return {
      sweepId: 'bench',
      index,
      params: { 'fit.learningRate': learningRate, 'fit.batchSize': batchSize, 'net.hidden': [300, 100] },
      status: pruned ? 'pruned' : 'done',
      objective: pruned ? null : curve.at(-1)!.value,
      epochs: stop,
      epochsTrained: stop,
      runId: `run-${index}`,
      runs: [`run-${index}`],
      lastResult: curve.at(-1)!,
      stopped: pruned ? { rung: stop, reason: 'not in the top 1/3' } : null,
      exploits: [],
      error: null,
      startedAt: null,
      finishedAt: null,
      curve,
    };
  });
  return {
    id: 'bench',
    name: 'bench',
    status: 'done',
    pipelineFile: null,
    spec: {
      objective: { node: 'score', metric: 'accuracy', mode: 'max' },
      space: {
        'fit.learningRate': { logUniform: [0.0001, 0.1] },
        'fit.batchSize': { choice: [32, 64, 128] },
        'net.hidden': { choice: [[300, 100]] },
      },
      algorithm: 'random',
      scheduler,
      trials: count,
    },
    objective: { node: 'score', metric: 'accuracy', mode: 'max' },
    algorithm: 'random',
    scheduler: 'asha',
    resource: 'fit.epochs',
    trialCount: count,
    concurrency: 2,
    seed: 1,
    counts: { queued: 0, running: 0, done: 0, pruned: 0, failed: 0, cancelled: 0 },
    best: null,
    error: null,
    createdAt: new Date(0).toISOString(),
    startedAt: null,
    finishedAt: null,
    pipeline: { format: 1, name: 'bench', seed: 1, nodes: [], edges: [] },
    trials,
  };
}

const sweep = seededSweep(TRIALS);
const text = JSON.stringify(sweep);
const points = sweep.trials.reduce((sum, trial) => sum + (trial.curve?.length ?? 0), 0);
const parse = time(() => JSON.parse(text));
const mode = sweep.objective.mode;
const key = objectiveKey(sweep);
const entries = trialEntries(sweep);
const columns: ComparisonColumn[] = [
  ...Object.keys(sweep.spec.space).map((name) => ({ kind: 'param' as const, key: name })),
  { kind: 'metric', key },
];
const curves = trialCurves(sweep.trials, mode, 60);
const levels = rungs(sweep.spec.scheduler);
const update = { ...sweep.trials[500]!, curve: undefined, lastResult: { resource: 28, value: 0.95 } };

const figures: Array<[string, number]> = [
  ['trials best first', time(() => trialsBestFirst(sweep.trials, mode))],
  ['optimisation history', time(() => optimisationHistory(sweep.trials, mode))],
  ['history chart option', time(() => historyOption(optimisationHistory(sweep.trials, mode), key, colors))],
  [
    'parallel: entries, axes, log, top 10%',
    time(() => {
      const shaped = trialEntries(sweep);
      parallelAxes(shaped, columns, suggestLogColumns(shaped, columns));
      topEntries(shaped, key, mode, 10);
    }),
  ],
  [
    'curves (best 60) + chart option',
    time(() => curvesOption(trialCurves(sweep.trials, mode, 60), levels, 'val_accuracy', colors)),
  ],
  ['exploit graph', time(() => exploitGraph(sweep.trials))],
  ['one trial.status merged', time(() => mergeTrial(sweep.trials, update))],
];
const all = time(() => {
  const trials = mergeTrial(sweep.trials, update);
  trialsBestFirst(trials, mode);
  historyOption(optimisationHistory(trials, mode), key, colors);
  const shaped = trialEntries({ ...sweep, trials });
  parallelAxes(shaped, columns, suggestLogColumns(shaped, columns));
  topEntries(shaped, key, mode, 10);
  curvesOption(trialCurves(trials, mode, 60), levels, 'val_accuracy', colors);
});
figures.push(['everything after one event', all]);

process.stdout.write(
  `sweep view data shaping: ${TRIALS.toLocaleString('en-US')} trials, ${points.toLocaleString('en-US')} curve points ` +
    `(${(text.length / 1e6).toFixed(1)} MB record); curves drawn: ${curves.length}; entries: ${entries.length}\n`,
);
process.stdout.write(
  `reference: JSON.parse of the sweeps.get answer ${parse.toFixed(2)} ms; a 60 Hz frame ${FRAME_MS.toFixed(1)} ms\n\n`,
);
process.stdout.write(
  `${'step'.padEnd(40)} ${'ms'.padStart(8)} ${'× parse'.padStart(9)} ${'× frame'.padStart(9)}\n`,
);
for (const [name, ms] of figures)
  process.stdout.write(
    `${name.padEnd(40)} ${ms.toFixed(2).padStart(8)} ${(ms / parse).toFixed(2).padStart(9)} ${(ms / FRAME_MS).toFixed(3).padStart(9)}\n`,
  );
