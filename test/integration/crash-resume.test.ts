/**
 * kill -9 trials: `distillery run` as a real subprocess, its training worker or the CLI itself
 * SIGKILLed at seeded points of a real MNIST training, then `distillery resume`. Each resumed run
 * ends with the uninterrupted run's final weights, bit for bit, and its stored metrics are its
 * metrics file's, one value per (metric, step): nothing lost by the crash, nothing doubled by the
 * resume. A run whose runner died is settled as interrupted by the next process that looks, and
 * one whose runner lives is left alone.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MetricPointInfo, PipelineDoc, RunInfo, TaskInfo } from '../../preload/contract';
import { createHandlers } from '../../main/api/handlers';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { cliJson, runCli, type CliResult } from '../helpers/cli';
import { ensureNoLeaks, liveDescendants } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';
import { mnistMlpPipeline } from '../helpers/pipelines';
import { seededRandom } from '../helpers/random';

const STEPS_PER_EPOCH = 100;
const EPOCHS = 4;

function pipeline(name: string, epochs = EPOCHS): PipelineDoc {
  return mnistMlpPipeline({
    name,
    seed: 5,
    data: { trainLimit: 20 * STEPS_PER_EPOCH, testLimit: 200 },
    net: { hidden: [64], dropout: 0.2 },
    fit: {
      epochs,
      batchSize: 20,
      optimizer: 'adamw',
      weightDecay: 0.01,
      schedule: 'cosine',
      checkpointEvery: 50,
    },
    score: false,
  });
}

// The kill points are drawn from a fixed seed, so every run of this test uses the same.
const random = seededRandom(20_241_201);
const TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH;
const TRIALS = (['worker', 'worker', 'runner', 'runner'] as const).map((kill) => ({
  kill,
  // Anywhere from the first steps (before the first checkpoint) to near the end.
  atStep: 3 + Math.floor(random() * (TOTAL_STEPS - 20)),
}));

interface FileLine extends MetricPointInfo {
  execution?: number;
}

/** The metrics file's lines, raw. */
function fileLines(path: string): FileLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  // Only whole lines: the worker may be writing the last one while this reads (or have died in
  // it), and the product's reader ignores such a tail too.
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as FileLine);
}

/**
 * The rule a reader of the metrics file follows, written out independently of the product's
 * reader: per (metric, step) the line of the latest execution, the last such line among equals.
 */
function dedupe(lines: FileLine[]): Map<string, FileLine> {
  const kept = new Map<string, FileLine>();
  for (const line of lines) {
    const key = `${line.name}@${line.step}`;
    const previous = kept.get(key);
    if (!previous || (line.execution ?? 0) >= (previous.execution ?? 0)) kept.set(key, line);
  }
  return kept;
}

type Row = { node: string; step: number; epoch?: number; name: string; value: number | null; time: number };

function rowKey(row: { name: string; step: number }): string {
  return `${row.name}@${row.step}`;
}

/** Stored metrics of the fit task (through the CLI) against its metrics file. */
async function expectStoredEqualsFile(dataDir: string, run: RunInfo): Promise<{ superseded: number }> {
  const fit = task(run, 'fit');
  const lines = fileLines(join(fit.taskDir, 'metrics.jsonl'));
  const kept = dedupe(lines);
  const { json: rows } = await cliJson<Row[]>(['runs', 'metrics', run.id, '--node', 'fit'], dataDir);
  const stored = new Map<string, Row>();
  for (const row of rows) {
    expect(stored.has(rowKey(row)), `duplicate stored point ${rowKey(row)}`).toBe(false);
    stored.set(rowKey(row), row);
  }
  expect(stored.size).toBe(kept.size);
  for (const [key, line] of kept) {
    const row = stored.get(key);
    expect(row, `stored metrics lack ${key}`).toBeDefined();
    // JSON writes NaN as null on both sides.
    expect({ epoch: row!.epoch, value: row!.value, time: row!.time }, key).toEqual({
      epoch: line.epoch,
      value: line.value,
      time: line.time,
    });
  }
  return { superseded: lines.length - kept.size };
}

function task(run: RunInfo, nodeId: string): TaskInfo {
  const found = run.tasks.find((t) => t.nodeId === nodeId);
  if (!found) throw new Error(`run ${run.id} has no task ${nodeId}`);
  return found;
}

/** Waits for `condition`, re-checking as the files it reads grow; fails once `settled` resolves first. */
async function waitUntil(what: string, condition: () => boolean, settled: Promise<unknown>): Promise<void> {
  let over = false;
  void settled.then(() => (over = true));
  while (!condition()) {
    if (over) throw new Error(`the run ended before ${what}`);
    await delay(10);
  }
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The training worker the CLI process `cliPid` forked. */
function workerOf(cliPid: number): number {
  const workers = (liveDescendants(cliPid) ?? []).filter((entry) =>
    readFileSync(`/proc/${entry.pid}/cmdline`, 'utf8').includes('worker/main'),
  );
  expect(workers, 'exactly one worker should be running').toHaveLength(1);
  return workers[0]!.pid;
}

/**
 * Starts `distillery run FILE --force`; `runId` resolves once the CLI has printed it, and rejects
 * if the CLI ends first.
 */
function startRun(
  file: string,
  dataDir: string,
): { result: Promise<CliResult>; pid: number; runId: Promise<string> } {
  let announce!: (id: string) => void;
  const announced = new Promise<string>((resolve) => (announce = resolve));
  let seen = '';
  const result = runCli(['run', file, '--force'], {
    dataDir,
    onStderr: (text) => {
      seen += text;
      const match = /Run (\S+) \(/.exec(seen);
      if (match) announce(match[1]!);
    },
  });
  const runId = Promise.race([
    announced,
    result.then((ended) => {
      throw new Error(`the CLI ended (code ${ended.code}) before announcing its run:\n${ended.stderr}`);
    }),
  ]);
  return { result, pid: result.pid()!, runId };
}

describe.skipIf(process.platform !== 'linux')('kill -9, then resume', () => {
  ensureNoLeaks();
  const tmp = makeTempDir();
  const dataDir = join(tmp.dir, 'data');
  const file = join(tmp.dir, 'crash.distillery.json');
  let reference: RunInfo;
  let supersededInAll = 0;
  let trialsPassed = 0;

  beforeAll(async () => {
    writeFileSync(file, JSON.stringify(pipeline('crash')));
    const ran = await cliJson<RunInfo>(['run', file], join(tmp.dir, 'reference'));
    expect(ran.code, ran.stderr).toBe(0);
    reference = ran.json;
    expect(
      fileLines(join(task(reference, 'fit').taskDir, 'metrics.jsonl')).filter((l) => l.name === 'loss'),
    ).toHaveLength(TOTAL_STEPS);
  }, 120_000);

  afterAll(() => {
    tmp.cleanup();
    // Over all trials the resumes re-recorded steps: the trials exercised the duplicate path.
    if (trialsPassed === TRIALS.length) expect(supersededInAll).toBeGreaterThan(0);
  });

  for (const trial of TRIALS) {
    it(`kill -9 of the ${trial.kill} at step ${trial.atStep}: resumed, the same weights and every metric once`, async () => {
      const started = startRun(file, dataDir);
      const runId = await started.runId;
      const metricsFile = join(dataDir, 'runs', runId, 'fit', 'metrics.jsonl');
      await waitUntil(
        `step ${trial.atStep}`,
        () => fileLines(metricsFile).some((line) => line.name === 'loss' && line.step >= trial.atStep),
        started.result,
      );
      const worker = workerOf(started.pid);
      process.kill(trial.kill === 'worker' ? worker : started.pid, 'SIGKILL');
      const ended = await started.result;
      if (trial.kill === 'worker') {
        // The CLI saw its worker die: it failed the task and ended like any failed run.
        expect(ended.code, ended.stderr).toBe(1);
      } else {
        expect(ended.signal).toBe('SIGKILL');
      }
      // The worker of a killed runner stops by itself (its IPC channel closed); wait for its last line.
      while (isRunning(worker)) await delay(10);

      const { json: crashed } = await cliJson<RunInfo>(['runs', 'show', runId], dataDir);
      expect(crashed.status).toBe('failed');
      expect(task(crashed, 'fit').error?.code).toBe(
        trial.kill === 'worker' ? 'WORKER_CRASHED' : 'RUN_INTERRUPTED',
      );
      expect(task(crashed, 'fit').error?.details).toMatchObject({ nodeId: 'fit' });
      // Nothing the worker wrote before it died is missing from the store.
      await expectStoredEqualsFile(dataDir, crashed);

      const resumed = await cliJson<RunInfo>(['resume', runId], dataDir);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.json.status).toBe('done');
      expect(task(resumed.json, 'fit').attempt).toBe(2);
      const weights = readFileSync(join(task(resumed.json, 'fit').taskDir, 'model', 'weights.bin'));
      const expected = readFileSync(join(task(reference, 'fit').taskDir, 'model', 'weights.bin'));
      expect(weights.equals(expected), 'final weights differ from the uninterrupted run').toBe(true);

      const { superseded } = await expectStoredEqualsFile(dataDir, resumed.json);
      supersededInAll += superseded;
      const { json: losses } = await cliJson<Row[]>(
        ['runs', 'metrics', runId, '--node', 'fit', '--name', 'loss'],
        dataDir,
      );
      expect(losses.map((row) => row.step)).toEqual(Array.from({ length: TOTAL_STEPS }, (_, i) => i + 1));
      // The resumed attempt recomputed the steps it re-recorded: the same losses as the uninterrupted run.
      const { json: referenceLosses } = await cliJson<Row[]>(
        ['runs', 'metrics', reference.id, '--node', 'fit', '--name', 'loss'],
        join(tmp.dir, 'reference'),
      );
      expect(losses.map((row) => row.value)).toEqual(referenceLosses.map((row) => row.value));
      trialsPassed += 1;
    }, 180_000);
  }
});

describe.skipIf(process.platform !== 'linux')('a run whose runner died', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  let app: DistilleryApp;

  beforeEach(() => {
    tmp = makeTempDir();
  });

  afterEach(() => {
    app?.dispose();
    tmp.cleanup();
  });

  it('is settled as interrupted when another process lists runs; while its runner lives, it is left alone', async () => {
    const dataDir = join(tmp.dir, 'data');
    // Opened first, as `distillery serve` or the desktop app would be while a CLI run starts.
    app = createApp({ dataDir, concurrency: 1 });
    const handlers = createHandlers(app);
    const file = join(tmp.dir, 'long.distillery.json');
    writeFileSync(file, JSON.stringify(pipeline('long', 50)));
    const started = startRun(file, dataDir);
    const runId = await started.runId;
    const metricsFile = join(dataDir, 'runs', runId, 'fit', 'metrics.jsonl');
    await waitUntil('fit started', () => fileLines(metricsFile).length > 0, started.result);

    // Another process opening the data directory, and this one listing, leave the live run alone.
    const { json: listedElsewhere } = await cliJson<RunInfo[]>(['runs', 'list'], dataDir);
    expect(listedElsewhere.find((run) => run.id === runId)?.status).toBe('running');
    expect((await handlers['runs.list']({})).find((run) => run.id === runId)?.status).toBe('running');

    const worker = workerOf(started.pid);
    process.kill(started.pid, 'SIGKILL');
    expect((await started.result).signal).toBe('SIGKILL');
    while (isRunning(worker)) await delay(10);

    const listed = (await handlers['runs.list']({})).find((run) => run.id === runId)!;
    expect(listed.status).toBe('failed');
    expect(listed.error).toMatchObject({ code: 'RUN_INTERRUPTED', details: { runId } });
    expect(task(listed, 'fit')).toMatchObject({ status: 'failed', error: { code: 'RUN_INTERRUPTED' } });
    expect(task(listed, 'data').status).toBe('done');
    // Settled means back-filled: what the worker wrote and the killed runner never stored is there.
    const stored = app.runs.getMetrics(task(listed, 'fit').id);
    expect(stored.map(rowKey).sort()).toEqual([...dedupe(fileLines(metricsFile)).keys()].sort());
  }, 120_000);
});
