/**
 * The runner with real worker subprocesses on real MNIST subsets: parallel branches, a LeNet-5
 * that learns on wasm, cancel → resume ending with the same weights as an uninterrupted run, a
 * crashed worker keeping its metrics, and failures cascading to downstream tasks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Answer, MetricPointInfo, PipelineDoc, RunInfo, TaskInfo } from '../../preload/contract';
import { createHandlers } from '../../main/api/handlers';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { installProcessGuard } from '../../main/app/process-guard';
import { waitFor } from '../../main/base/event';
import { onUnexpectedError } from '../../main/base/unexpected-error';
import { EventFanout } from '../../main/jobs/event-fanout';
import { readMetricsFile } from '../../main/jobs/metrics-file';
import { ServeServer } from '../../main/serve/server';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';
import { missingFilesPipeline, mnistMlpPipeline } from '../helpers/pipelines';

function mnistPipeline(
  name: string,
  train: Record<string, unknown>,
  options: { model?: Record<string, unknown>; cnn?: boolean; trainLimit?: number } = {},
): PipelineDoc {
  return mnistMlpPipeline({
    name,
    seed: 11,
    data: { trainLimit: options.trainLimit ?? 1000, testLimit: 500 },
    netType: options.cnn ? 'model.cnn' : 'model.mlp',
    net: options.model ?? { hidden: [64] },
    fit: train,
    score: { latencySamples: 20 },
  });
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
    // One loss per step of the whole run: the steps the resumed attempt recorded again are not doubled.
    const losses = app.runs.getMetrics(fitId, { names: ['loss'] });
    expect(losses.map((p) => p.step)).toEqual(Array.from({ length: 3 * 20 }, (_, i) => i + 1));
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
    // Every point received live is stored, and so is every point the worker wrote but never sent:
    // settling the task back-fills its store from the metrics file.
    const stored = app.runs.getMetrics(fitId);
    expect(stored.length).toBeGreaterThanOrEqual(received);
    const onDisk = readMetricsFile(join(fit.taskDir, 'metrics.jsonl'));
    expect(onDisk.unreadable).toBe(0);
    const byKey = (points: MetricPointInfo[]) =>
      [...points].sort((a, b) => a.step - b.step || a.name.localeCompare(b.name));
    expect(byKey(stored)).toEqual(byKey(onDisk.points));
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
    const doc = missingFilesPipeline();
    doc.nodes.push({ id: 'net', type: 'model.mlp', params: {} });
    doc.edges.push({ from: 'data.dataset', to: 'net.dataset' });
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

describe('a failing task never takes the process down', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  let app: DistilleryApp;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeEach(() => {
    tmp = makeTempDir();
    app = createApp({ dataDir: tmp.dir, concurrency: 2, cancelGraceMs: 3000 });
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });

  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    app.dispose();
    tmp.cleanup();
  });

  it('a model the registry refuses fails its task with a coded error; the server and an unrelated run go on', async () => {
    // "clash/net" already holds a diffusion model, so the classifier the `net` node of a pipeline
    // named "clash" produces is refused at registration, after its worker has finished.
    const files = join(tmp.dir, 'diffusion-model');
    mkdirSync(files);
    writeFileSync(join(files, 'model.json'), '{}');
    await app.registry.registerVersion({
      name: 'clash/net',
      kind: 'diffusion',
      framework: 'tfjs-layers',
      backend: 'wasm',
      runId: null,
      taskId: null,
      nodeType: 'model.unet',
      artifactDir: files,
      paramCount: 1,
      nonZeroParams: 1,
      sizeBytes: 2,
      params: {},
      meta: {},
      parents: [],
    });
    const fanout = new EventFanout(app.runner);
    const server = await ServeServer.start(createHandlers(app), fanout, {
      port: 0,
      host: '127.0.0.1',
      token: 'a'.repeat(64),
      staticDir: tmp.dir,
      fileRoots: [app.layout.runs],
    });
    try {
      const call = async <T>(
        method: string,
        params: unknown,
      ): Promise<{ status: number; answer: Answer<T> }> => {
        const res = await fetch(`http://127.0.0.1:${server.port}/api/${method}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${'a'.repeat(64)}` },
          body: JSON.stringify(params),
        });
        return { status: res.status, answer: (await res.json()) as Answer<T> };
      };
      const unrelated = await call<RunInfo>('runs.start', {
        doc: mnistPipeline('unrelated', { epochs: 2, batchSize: 32 }),
      });
      const clash = await call<RunInfo>('runs.start', {
        doc: {
          format: 1,
          name: 'clash',
          seed: 1,
          nodes: [
            { id: 'data', type: 'dataset.mnist', params: { trainLimit: 200, testLimit: 100 } },
            { id: 'net', type: 'model.mlp', params: { hidden: [16] } },
          ],
          edges: [{ from: 'data.dataset', to: 'net.dataset' }],
        },
      });
      expect(unrelated.status).toBe(200);
      expect(clash.status).toBe(200);
      if (!unrelated.answer.ok || !clash.answer.ok) throw new Error('runs.start refused a valid pipeline');

      const failed = await app.runner.waitForRun(clash.answer.result.id);
      expect(failed.status).toBe('failed');
      const net = task(failed, 'net');
      expect(net.status).toBe('failed');
      expect(net.error).toMatchObject({
        code: 'MODEL_INVALID',
        details: { nodeId: 'net', taskId: net.id, port: 'model' },
      });
      expect(net.error?.message).toMatch(
        /^Node "net": its model \(output "model"\) could not be registered as "clash\/net"/,
      );
      expect(failed.error?.code).toBe('MODEL_INVALID');

      // The server still answers, and the unrelated run finishes with its models registered.
      const listed = await call<RunInfo[]>('runs.list', {});
      expect(listed.status).toBe(200);
      const finished = await app.runner.waitForRun(unrelated.answer.result.id);
      expect(finished.status, JSON.stringify(finished.error)).toBe('done');
      expect(app.registry.list({ name: 'unrelated/fit' })).toHaveLength(1);
      expect(unhandled).toEqual([]);
    } finally {
      server.dispose();
      fanout.dispose();
    }
  }, 180_000);

  it('an error with no caller goes to the process guard, which logs it into the active run; the run goes on', async () => {
    const written: string[] = [];
    const guard = installProcessGuard({ write: (text) => written.push(text) });
    const recording = guard.recordInto(app.runner);
    try {
      const started = app.runner.start(mnistPipeline('guarded', { epochs: 3, batchSize: 32 }));
      const fitId = `${started.id}-fit`;
      await waitFor(app.runner.onDidMetrics, (batch) => batch.taskId === fitId);
      onUnexpectedError(new Error('a listener exploded'));
      expect(guard.reported).toBe(1);
      expect(written.join('')).toMatch(/unexpected error \(unexpectedError\)[^]*a listener exploded\n\s+at /);
      const logged = app.runs.getLogs(fitId).filter((line) => line.level === 'error');
      expect(logged).toHaveLength(1);
      expect(logged[0]!.message).toMatch(/a listener exploded\n\s+at /);
      const run = await app.runner.waitForRun(started.id);
      expect(run.status).toBe('done');
    } finally {
      recording.dispose();
      guard.dispose();
    }
  }, 120_000);

  it('settles runs whose owner is gone (pid reused, pid dead, lease expired) and leaves a live one alone', async () => {
    const handlers = createHandlers(app);
    const doc: PipelineDoc = {
      format: 1,
      name: 'owners',
      seed: 1,
      nodes: [{ id: 'data', type: 'dataset.mnist', params: { trainLimit: 100, testLimit: 50 } }],
      edges: [],
    };
    const runsDir = app.layout.runs;
    /** A run recorded as running, its owner file holding `owner`. */
    const fake = (id: string, owner: Record<string, unknown>, touched = new Date()): void => {
      app.runs.createRun({
        id,
        name: 'owners',
        seed: 1,
        pipeline: doc,
        pipelineFile: null,
        status: 'running',
      });
      app.runs.createTask({
        id: `${id}-data`,
        runId: id,
        nodeId: 'data',
        nodeType: 'dataset.mnist',
        nodeVersion: 1,
        op: 'dataset.mnist',
        fingerprint: `fp-${id}`,
        params: {},
        taskDir: join(runsDir, id, 'data'),
        status: 'running',
      });
      mkdirSync(join(runsDir, id), { recursive: true });
      const file = join(runsDir, id, 'runner.pid');
      writeFileSync(file, JSON.stringify(owner));
      utimesSync(file, touched, touched);
    };
    const exited = spawnSync(process.execPath, ['-e', '']).pid;
    const host = hostname();
    // pid 1 is alive, but it is not the process that wrote this file: its start time differs.
    fake('r-reused', { pid: 1, startTime: '1', host, token: 'reused' });
    fake('r-dead', { pid: exited, startTime: '1', host, token: 'dead' });
    const minuteAgo = new Date(Date.now() - 60_000);
    fake('r-lease-expired', { pid: 1, host: 'another-host', token: 'expired' }, minuteAgo);
    fake('r-lease-fresh', { pid: 1, host: 'another-host', token: 'fresh' });

    const live = app.runner.start(mnistPipeline('live', { epochs: 20 }));
    await waitFor(app.runner.onDidChangeTask, (t) => t.id === `${live.id}-fit` && t.status === 'running');

    const byId = new Map((await handlers['runs.list']({})).map((run) => [run.id, run]));
    for (const id of ['r-reused', 'r-dead', 'r-lease-expired']) {
      expect(byId.get(id), id).toMatchObject({ status: 'failed', error: { code: 'RUN_INTERRUPTED' } });
      expect(task(byId.get(id)!, 'data'), id).toMatchObject({
        status: 'failed',
        error: { code: 'RUN_INTERRUPTED', details: { nodeId: 'data' } },
      });
      expect(existsSync(join(runsDir, id, 'runner.pid')), id).toBe(false);
    }
    expect(byId.get('r-lease-fresh')?.status).toBe('running');
    expect(byId.get(live.id)?.status).toBe('running');
    // A second runner in this process (another app on the same folder) leaves the live run alone too.
    const other = createApp({ dataDir: tmp.dir, concurrency: 1 });
    try {
      expect(other.runs.getRun(live.id).status).toBe('running');
    } finally {
      other.dispose();
    }
    app.runner.cancel(live.id);
    expect((await app.runner.waitForRun(live.id)).status).toBe('cancelled');
    // An interrupted run resumes like a failed one.
    app.runner.resume('r-dead');
    expect((await app.runner.waitForRun('r-dead')).status).toBe('done');
  }, 120_000);
});
