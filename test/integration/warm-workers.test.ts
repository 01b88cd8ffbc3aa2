/**
 * The local executor's warm pool with real worker subprocesses on real MNIST: the tasks of a
 * pipeline after the first run on a worker that was already running (the same process, recorded
 * as warm); a worker whose task failed or was cancelled is replaced by a fresh process and never
 * takes another task; no worker outlives the runner; and the weights a seed gives are the same, bit
 * for bit, with and without the pool.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo, TaskInfo } from '../../preload/contract';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { waitFor } from '../../main/base/event';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';
import { missingFilesPipeline, mnistMlpPipeline } from '../helpers/pipelines';

function mlpDoc(name: string, train: Record<string, unknown> = {}): PipelineDoc {
  return mnistMlpPipeline({
    name,
    seed: 23,
    data: { trainLimit: 800, testLimit: 300 },
    net: { hidden: [32], dropout: 0.1 },
    fit: { epochs: 2, batchSize: 40, optimizer: 'adam', ...train },
    score: { latencySamples: 10 },
  });
}

const failingDoc: PipelineDoc = missingFilesPipeline();

function task(run: RunInfo, nodeId: string): TaskInfo {
  return run.tasks.find((candidate) => candidate.nodeId === nodeId)!;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every file of a task's saved model, by name: what "the same weights" compares. */
function modelFiles(run: RunInfo, nodeId: string): Record<string, Buffer> {
  const dir = join(task(run, nodeId).taskDir, 'model');
  return Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
}

describe('warm workers', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  const apps: DistilleryApp[] = [];

  beforeEach(() => {
    tmp = makeTempDir();
  });

  afterEach(() => {
    for (const app of apps.splice(0)) app.dispose();
    tmp.cleanup();
  });

  function open(name: string, warmWorkers?: number): DistilleryApp {
    const app = createApp({
      dataDir: join(tmp.dir, name),
      concurrency: 2,
      cancelGraceMs: 3000,
      ...(warmWorkers !== undefined ? { executors: { warmWorkers } } : {}),
    });
    apps.push(app);
    return app;
  }

  it('runs the tasks after the first on the worker that ran the first, recorded as warm', async () => {
    const app = open('pool');
    const run = await app.runner.waitForRun(app.runner.start(mlpDoc('warm')).id);
    expect(run.status, JSON.stringify(run.error)).toBe('done');
    const first = task(run, 'data');
    expect(first).toMatchObject({ executor: 'local', warm: false, executorState: 'succeeded' });
    expect(first.jobId).toMatch(/^\d+$/);
    for (const nodeId of ['net', 'fit', 'score']) {
      expect(task(run, nodeId)).toMatchObject({ executor: 'local', warm: true, jobId: first.jobId });
    }
    expect(app.runner.executorSet.local.pool.started).toBe(1);
    // It stays ready for the next run.
    expect(app.runner.executorSet.local.pool.idleCount).toBe(1);
    expect(alive(Number(first.jobId))).toBe(true);
  }, 120_000);

  it('replaces a worker whose task failed, and never hands it out again', async () => {
    const app = open('failed');
    const good = await app.runner.waitForRun(app.runner.start(mlpDoc('before')).id);
    expect(good.status).toBe('done');
    const warmPid = task(good, 'score').jobId!;

    const failed = await app.runner.waitForRun(app.runner.start(failingDoc).id);
    expect(failed.status).toBe('failed');
    expect(task(failed, 'data')).toMatchObject({ warm: true, jobId: warmPid, executorState: 'failed' });
    expect(task(failed, 'data').error).toMatchObject({ code: 'DATASET_NOT_FOUND' });
    // Not kept: the task ended with its process, and the pool holds nothing.
    expect(alive(Number(warmPid))).toBe(false);
    expect(app.runner.executorSet.local.pool.idleCount).toBe(0);

    // Forced: the same tasks finished before, and would be reused instead of run.
    const after = await app.runner.waitForRun(app.runner.start(mlpDoc('after'), { force: true }).id);
    expect(after.status).toBe('done');
    expect(task(after, 'data')).toMatchObject({ warm: false });
    expect(task(after, 'data').jobId).not.toBe(warmPid);
    expect(alive(Number(warmPid))).toBe(false);
  }, 120_000);

  it('replaces a worker whose task was cancelled; the resumed task runs on a fresh process', async () => {
    const app = open('cancelled');
    const started = app.runner.start(mlpDoc('cancel', { epochs: 6, checkpointEvery: 5 }));
    const fitId = `${started.id}-fit`;
    const checkpointed = await waitFor(
      app.runner.onDidChangeTask,
      (info) => info.id === fitId && info.checkpoint !== null && info.status === 'running',
    );
    const cancelledPid = checkpointed.jobId!;
    expect(checkpointed.warm).toBe(true);
    app.runner.cancel(started.id);
    const cancelled = await app.runner.waitForRun(started.id);
    expect(cancelled.status).toBe('cancelled');
    expect(task(cancelled, 'fit').executorState).toBe('cancelled');
    expect(app.runner.executorSet.local.pool.idleCount).toBe(0);

    const resumed = await app.runner.waitForRun(app.runner.resume(started.id).id);
    expect(resumed.status, JSON.stringify(resumed.error)).toBe('done');
    expect(task(resumed, 'fit').jobId).not.toBe(cancelledPid);
    expect(task(resumed, 'fit').warm).toBe(false);
    expect(alive(Number(cancelledPid))).toBe(false);
  }, 180_000);

  it('gives the same weights, bit for bit, with and without the pool', async () => {
    const cold = open('cold', 0);
    const warm = open('warm', 2);
    const [coldRun, warmRun] = [
      await cold.runner.waitForRun(cold.runner.start(mlpDoc('same')).id),
      await warm.runner.waitForRun(warm.runner.start(mlpDoc('same')).id),
    ];
    expect(coldRun.status).toBe('done');
    expect(warmRun.status).toBe('done');
    expect(task(coldRun, 'fit').warm).toBe(false);
    expect(task(warmRun, 'fit').warm).toBe(true);
    // Without a pool every task has a process of its own.
    expect(new Set(coldRun.tasks.map((candidate) => candidate.jobId)).size).toBe(4);
    expect(cold.runner.executorSet.local.pool.idleCount).toBe(0);
    const coldFiles = modelFiles(coldRun, 'fit');
    const warmFiles = modelFiles(warmRun, 'fit');
    expect(Object.keys(warmFiles).sort()).toEqual(Object.keys(coldFiles).sort());
    for (const [name, bytes] of Object.entries(coldFiles))
      expect(warmFiles[name]!.equals(bytes), name).toBe(true);
    expect(task(warmRun, 'score').summary!.accuracy).toBe(task(coldRun, 'score').summary!.accuracy);
  }, 180_000);
});
