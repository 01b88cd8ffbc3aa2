/**
 * The runner with real worker subprocesses on real MNIST subsets: parallel branches, a LeNet-5
 * that learns on wasm, cancel → resume ending with the same weights as an uninterrupted run, a
 * crashed worker keeping its metrics, and failures cascading to downstream tasks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo, TaskInfo } from '../../preload/contract';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { waitFor } from '../../main/base/event';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

function mnistPipeline(
  name: string,
  train: Record<string, unknown>,
  options: { model?: Record<string, unknown>; cnn?: boolean; trainLimit?: number } = {},
): PipelineDoc {
  return {
    format: 1,
    name,
    seed: 11,
    nodes: [
      {
        id: 'data',
        type: 'dataset.mnist',
        params: { trainLimit: options.trainLimit ?? 1000, testLimit: 500 },
      },
      { id: 'net', type: options.cnn ? 'model.cnn' : 'model.mlp', params: options.model ?? { hidden: [64] } },
      { id: 'fit', type: 'train', params: train },
      { id: 'score', type: 'evaluate', params: { latencySamples: 20 } },
    ],
    edges: [
      { from: 'data.dataset', to: 'net.dataset' },
      { from: 'data.dataset', to: 'fit.dataset' },
      { from: 'net.model', to: 'fit.model' },
      { from: 'fit.model', to: 'score.model' },
      { from: 'data.dataset', to: 'score.dataset' },
    ],
  };
}

function task(run: RunInfo, nodeId: string): TaskInfo {
  return run.tasks.find((t) => t.nodeId === nodeId)!;
}

describe('runner with real workers', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  let app: DistilleryApp;

  beforeEach(() => {
    tmp = makeTempDir();
    app = createApp({ dataDir: tmp.dir, concurrency: 2, cancelGraceMs: 3000 });
  });

  afterEach(() => {
    app.dispose();
    tmp.cleanup();
  });

  it('trains a LeNet-5 on wasm that learns (accuracy far above chance)', async () => {
    const doc = mnistPipeline(
      'lenet5',
      { epochs: 2, batchSize: 32, optimizer: 'adam', learningRate: 0.002 },
      { cnn: true, model: {} },
    );
    const run = await app.runner.waitForRun(app.runner.start(doc).id);
    expect(run.status, JSON.stringify(run.error)).toBe('done');
    expect(task(run, 'fit').backend?.name).toBe('wasm');
    expect(task(run, 'score').summary!.accuracy as number).toBeGreaterThan(0.7);
  }, 120_000);

  it('runs independent branches in parallel and records both', async () => {
    const doc: PipelineDoc = {
      format: 1,
      name: 'branches',
      seed: 3,
      nodes: [
        { id: 'data', type: 'dataset.mnist', params: { trainLimit: 1500, testLimit: 200 } },
        { id: 'a', type: 'model.mlp', params: { hidden: [32] } },
        { id: 'b', type: 'model.mlp', params: { hidden: [48] } },
        { id: 'fit-a', type: 'train', params: { epochs: 2 } },
        { id: 'fit-b', type: 'train', params: { epochs: 2 } },
      ],
      edges: [
        { from: 'data.dataset', to: 'a.dataset' },
        { from: 'data.dataset', to: 'b.dataset' },
        { from: 'a.model', to: 'fit-a.model' },
        { from: 'b.model', to: 'fit-b.model' },
        { from: 'data.dataset', to: 'fit-a.dataset' },
        { from: 'data.dataset', to: 'fit-b.dataset' },
      ],
    };
    let maxRunning = 0;
    const running = new Set<string>();
    const subscription = app.runner.onDidChangeTask((t) => {
      if (t.status === 'running') running.add(t.id);
      else running.delete(t.id);
      maxRunning = Math.max(maxRunning, running.size);
    });
    const run = await app.runner.waitForRun(app.runner.start(doc).id);
    subscription.dispose();
    expect(run.status).toBe('done');
    expect(maxRunning).toBe(2);
    const registry = app.registry.list();
    expect(registry.map((m) => m.name).sort()).toEqual([
      'branches/a',
      'branches/b',
      'branches/fit-a',
      'branches/fit-b',
    ]);
  }, 120_000);

  it('cancel → resume ends with the same weights as an uninterrupted run', async () => {
    const train = {
      epochs: 3,
      batchSize: 50,
      optimizer: 'adamw',
      weightDecay: 0.01,
      schedule: 'cosine',
      checkpointEvery: 7,
    };
    const doc = mnistPipeline('resume', train, { model: { hidden: [64], dropout: 0.2 } });

    const reference = await app.runner.waitForRun(app.runner.start(doc, { force: true }).id);
    expect(reference.status).toBe('done');

    const started = app.runner.start(doc, { force: true });
    const fitId = `${started.id}-fit`;
    // Whichever comes first: a checkpoint far enough in, or the run ending (then the test fails below).
    await Promise.race([
      waitFor(app.runner.onDidChangeTask, (t) => t.id === fitId && (t.checkpoint?.step ?? 0) >= 14),
      app.runner.waitForRun(started.id),
    ]);
    expect(app.runner.isActive(started.id)).toBe(true);
    app.runner.cancel(started.id);
    const cancelled = await app.runner.waitForRun(started.id);
    expect(cancelled.status).toBe('cancelled');
    const fit = task(cancelled, 'fit');
    expect(fit.status).toBe('cancelled');
    expect(fit.checkpoint!.step).toBeGreaterThanOrEqual(14);
    expect(fit.checkpoint!.step).toBeLessThan(60);
    expect(task(cancelled, 'score').status).toBe('cancelled');
    const metricsBefore = app.runs.getMetrics(fitId, { names: ['loss'] });
    expect(metricsBefore.length).toBeGreaterThanOrEqual(14);

    app.runner.resume(started.id);
    const resumed = await app.runner.waitForRun(started.id);
    expect(resumed.status).toBe('done');
    expect(task(resumed, 'fit').attempt).toBe(2);
    const weightsA = readFileSync(join(task(reference, 'fit').taskDir, 'model', 'weights.bin'));
    const weightsB = readFileSync(join(task(resumed, 'fit').taskDir, 'model', 'weights.bin'));
    expect(weightsB.equals(weightsA)).toBe(true);
    // Metrics of both attempts are kept: one loss per step of the whole run.
    const losses = app.runs.getMetrics(fitId, { names: ['loss'] });
    expect(new Set(losses.map((p) => p.step)).size).toBe(3 * 20);
  }, 180_000);

  it('a crashed worker fails its task with the cause and keeps every metric received', async () => {
    const doc = mnistPipeline('crash', { epochs: 50, batchSize: 32 }, { trainLimit: 2000 });
    const started = app.runner.start(doc);
    const fitId = `${started.id}-fit`;
    let received = 0;
    const subscription = app.runner.onDidMetrics((batch) => {
      if (batch.taskId === fitId) received += batch.points.length;
    });
    await Promise.race([
      waitFor(app.runner.onDidMetrics, (batch) => batch.taskId === fitId && received >= 30),
      app.runner.waitForRun(started.id),
    ]);
    const pid = app.runner.workerPid(fitId);
    expect(pid, 'the fit task should still be running').toBeDefined();
    process.kill(pid!, 'SIGKILL');
    const run = await app.runner.waitForRun(started.id);
    subscription.dispose();
    expect(run.status).toBe('failed');
    const fit = task(run, 'fit');
    expect(fit.status).toBe('failed');
    expect(fit.error).toMatchObject({ code: 'WORKER_CRASHED', details: { signal: 'SIGKILL' } });
    expect(task(run, 'score')).toMatchObject({ status: 'skipped', error: { code: 'UPSTREAM_FAILED' } });
    expect(run.error?.code).toBe('WORKER_CRASHED');
    const stored = app.runs.getMetrics(fitId);
    expect(stored.length).toBe(received);
    const onDisk = readFileSync(join(fit.taskDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(onDisk.length).toBeGreaterThanOrEqual(received);
  }, 120_000);

  it('disposing the runner while a worker is still starting leaves no worker running', async () => {
    // A task's first running status comes just before its worker is forked, long before `ready`.
    const running = waitFor(app.runner.onDidChangeTask, (t) => t.status === 'running');
    app.runner.start(mnistPipeline('dispose-early', { epochs: 50 }));
    await running;
    app.dispose();
    // The leak check fails this test if that worker outlives the dispose.
  }, 60_000);

  it('an op error fails the task with its code and place; downstream tasks are skipped', async () => {
    const doc: PipelineDoc = {
      format: 1,
      name: 'missing-files',
      seed: 1,
      nodes: [
        {
          id: 'data',
          type: 'dataset.idx',
          params: {
            trainImages: '/nonexistent/train-images.gz',
            trainLabels: '/nonexistent/train-labels.gz',
          },
        },
        { id: 'net', type: 'model.mlp', params: {} },
      ],
      edges: [{ from: 'data.dataset', to: 'net.dataset' }],
    };
    const run = await app.runner.waitForRun(app.runner.start(doc).id);
    expect(run.status).toBe('failed');
    expect(task(run, 'data').error).toMatchObject({
      code: 'DATASET_NOT_FOUND',
      details: { nodeId: 'data', param: 'trainImages' },
    });
    expect(task(run, 'net').status).toBe('skipped');
    expect(existsSync(join(tmp.dir, 'runs', run.id, 'runner.pid'))).toBe(false);
  }, 60_000);
});
