/**
 * The records behind the runs table, the registered-model pages and the change feed, on real
 * SQLite files: migration 3 on a database written at schema 2, run summaries (shared and differing
 * params, figures), labels/tags/notes, deleting a run, registered models with descriptions and
 * aliases, metrics labelled by split, and another connection's writes seen through data_version.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  LogLine,
  MetricBatch,
  PipelineDoc,
  RegistryChange,
  RunInfo,
  TaskInfo,
} from '../../preload/contract';
import { DistilleryError } from '../../main/base/errors';
import { ExternalChangeWatcher } from '../../main/jobs/external-changes';
import {
  FsArtifactStore,
  MIGRATIONS,
  openDatabase,
  SqliteModelRegistry,
  SqliteRunStore,
  type Database,
  type RegisterVersionInput,
} from '../../main/registry';
import { ensureNoLeaks } from '../helpers/leak-check';

let dir: string;
let path: string;
let db: Database;
let runs: SqliteRunStore;
let registry: SqliteModelRegistry;
let modelCount = 0;

const pipeline: PipelineDoc = { format: 1, name: 'p', seed: 1, nodes: [], edges: [] };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'distillery-history-'));
  path = join(dir, 'registry.sqlite');
  db = openDatabase(path);
  runs = new SqliteRunStore(db);
  registry = new SqliteModelRegistry(db, new FsArtifactStore(join(dir, 'artifacts')));
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function modelDir(): string {
  modelCount += 1;
  const out = join(dir, 'src', `model-${modelCount}`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'model.json'), JSON.stringify({ n: modelCount }));
  return out;
}

function version(name: string, overrides: Partial<RegisterVersionInput> = {}): Promise<{ id: string }> {
  return registry.registerVersion({
    name,
    kind: 'classifier',
    framework: 'tfjs-layers',
    backend: 'wasm',
    runId: null,
    taskId: null,
    nodeType: 'train',
    artifactDir: modelDir(),
    paramCount: 10,
    nonZeroParams: 10,
    sizeBytes: 100,
    params: {},
    meta: {},
    parents: [],
    ...overrides,
  });
}

/** A finished run of a two-node pipeline (fit → score) with these train params and metrics. */
function finishedRun(
  store: SqliteRunStore,
  id: string,
  fit: Record<string, unknown>,
  points: { fit: Array<[string, number, number]>; score: Array<[string, number]> },
  createdAt: string,
): void {
  store.createRun({ id, name: 'mnist', seed: 1, pipeline, pipelineFile: null, createdAt });
  store.createTask({
    id: `${id}-fit`,
    runId: id,
    nodeId: 'fit',
    nodeType: 'train',
    nodeVersion: 1,
    op: 'train',
    fingerprint: `${id}-fp-fit`,
    params: fit,
    taskDir: join(dir, id, 'fit'),
  });
  store.createTask({
    id: `${id}-score`,
    runId: id,
    nodeId: 'score',
    nodeType: 'evaluate',
    nodeVersion: 1,
    op: 'evaluate',
    fingerprint: `${id}-fp-score`,
    params: { split: 'test' },
    taskDir: join(dir, id, 'score'),
  });
  store.appendMetrics(
    `${id}-fit`,
    points.fit.map(([name, step, value]) => ({ name, step, value, time: 1 })),
  );
  store.appendMetrics(
    `${id}-score`,
    points.score.map(([name, value]) => ({ name, step: 0, value, time: 1 })),
  );
  for (const task of [`${id}-fit`, `${id}-score`])
    store.updateTask(task, { status: 'done', figures: store.computeFigures(task) });
  store.updateRun(id, { status: 'done' });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof DistilleryError ? error.code : `not a DistilleryError: ${String(error)}`;
  }
  return undefined;
}

describe('run summaries', () => {
  it('computes figures: the best val_* value, the last value of the rest', () => {
    finishedRun(
      runs,
      'r1',
      { epochs: 2 },
      {
        fit: [
          ['loss', 1, 0.9],
          ['loss', 2, 0.4],
          ['val_loss', 1, 0.5],
          ['val_loss', 2, 0.6],
          ['val_accuracy', 1, 0.8],
          ['val_accuracy', 2, 0.85],
          ['loss', 3, Number.NaN],
        ],
        score: [['accuracy', 0.91]],
      },
      '2025-01-01T00:00:00.000Z',
    );
    expect(runs.getTask('r1-fit')?.figures).toEqual({ loss: 0.4, val_loss: 0.5, val_accuracy: 0.85 });
    expect(runs.getTask('r1-score')?.figures).toEqual({ accuracy: 0.91 });
  });

  it('lists params that differ per run and splits out the shared ones, with figures and counts', () => {
    for (const [index, epochs] of [2, 3, 2].entries()) {
      finishedRun(
        runs,
        `r${index}`,
        { epochs, optimizer: 'adam', hidden: [64, 32] },
        { fit: [['val_loss', 1, 0.5 - index / 10]], score: [['accuracy', 0.9 + index / 100]] },
        `2025-01-0${index + 1}T00:00:00.000Z`,
      );
    }
    runs.updateRunMetadata('r1', { label: 'three epochs', tags: ['baseline'], note: 'longer' });
    const result = runs.summaries({
      declaredMetrics: (type) => (type === 'evaluate' ? ['accuracy'] : undefined),
    });
    expect(result.total).toBe(3);
    expect(result.runs.map((run) => run.id)).toEqual(['r2', 'r1', 'r0']);
    expect(result.sharedParams).toEqual({
      'fit.optimizer': 'adam',
      'fit.hidden': [64, 32],
      'score.split': 'test',
    });
    expect(result.runs.map((run) => run.params)).toEqual([
      { 'fit.epochs': 2 },
      { 'fit.epochs': 3 },
      { 'fit.epochs': 2 },
    ]);
    expect(result.runs[1]).toMatchObject({
      label: 'three epochs',
      tags: ['baseline'],
      note: 'longer',
      status: 'done',
      tasks: { total: 2, done: 2, reused: 0, failed: 0, running: 0 },
      metrics: { 'fit.val_loss': 0.4, 'score.accuracy': 0.91 },
    });
    expect(runs.summaries({ limit: 1 }).runs).toHaveLength(1);
    expect(runs.summaries({ limit: 1 }).total).toBe(3);
  });

  it('checks labels, tags and notes, and normalises them', () => {
    finishedRun(runs, 'r', {}, { fit: [], score: [] }, '2025-01-01T00:00:00.000Z');
    const run = runs.updateRunMetadata('r', { label: '  best so far ', tags: ['b', ' a', 'b'] });
    expect(run).toMatchObject({ label: 'best so far', tags: ['a', 'b'], note: '' });
    expect(runs.updateRunMetadata('r', { label: null }).label).toBeNull();
    expect(runs.updateRunMetadata('r', { label: '' }).label).toBeNull();
    expect(codeOf(() => runs.updateRunMetadata('r', { tags: ['a,b'] }))).toBe('RUN_METADATA_INVALID');
    expect(codeOf(() => runs.updateRunMetadata('r', { tags: [' '] }))).toBe('RUN_METADATA_INVALID');
    expect(codeOf(() => runs.updateRunMetadata('r', { label: 'two\nlines' }))).toBe('RUN_METADATA_INVALID');
    expect(codeOf(() => runs.updateRunMetadata('r', { note: 'x'.repeat(20_001) }))).toBe(
      'RUN_METADATA_INVALID',
    );
    expect(codeOf(() => runs.updateRunMetadata('missing', { note: 'x' }))).toBe('RUN_NOT_FOUND');
    // Untouched fields stay.
    runs.updateRunMetadata('r', { note: 'kept' });
    expect(runs.updateRunMetadata('r', { tags: [] })).toMatchObject({ note: 'kept', tags: [] });
  });

  it('deletes a run with its tasks, metrics and logs; a task that reused one keeps its figures', () => {
    finishedRun(runs, 'r1', {}, { fit: [['loss', 1, 0.3]], score: [] }, '2025-01-01T00:00:00.000Z');
    runs.appendLog({ runId: 'r1', taskId: 'r1-fit', level: 'info', message: 'hello', time: 1 });
    runs.createRun({ id: 'r2', name: 'mnist', seed: 1, pipeline, pipelineFile: null });
    runs.createTask({
      id: 'r2-fit',
      runId: 'r2',
      nodeId: 'fit',
      nodeType: 'train',
      nodeVersion: 1,
      op: 'train',
      fingerprint: 'r1-fp-fit',
      params: {},
      taskDir: join(dir, 'r2', 'fit'),
      status: 'reused',
      reusedFrom: 'r1-fit',
    });
    runs.updateTask('r2-fit', { figures: runs.getTask('r1-fit')!.figures });
    // A reused task's points are those of the task it reused.
    expect(runs.metricsSourceOf('r2-fit')).toBe('r1-fit');
    expect(runs.getRun('r2').tasks[0]!.reusedFromRun).toBe('r1');
    runs.deleteRun('r1');
    expect(codeOf(() => runs.getRun('r1'))).toBe('RUN_NOT_FOUND');
    expect(runs.getMetrics('r1-fit')).toEqual([]);
    expect(runs.getLogs('r1-fit')).toEqual([]);
    expect(runs.getTask('r2-fit')).toMatchObject({ reusedFrom: null, figures: { loss: 0.3 } });
    expect(runs.metricsSourceOf('r2-fit')).toBe('r2-fit');
    expect(codeOf(() => runs.deleteRun('r1'))).toBe('RUN_NOT_FOUND');
  });
});

describe('migration 3', () => {
  it('adds the new columns to a database written at schema 2 and back-fills figures', () => {
    const old = join(dir, 'old.sqlite');
    const early = openDatabase(old, { migrations: MIGRATIONS.filter((migration) => migration.version <= 2) });
    early
      .prepare(
        `INSERT INTO runs (id, name, status, seed, pipeline_json, created_at) VALUES ('r', 'p', 'done', 1, '{}', '2025')`,
      )
      .run();
    const insertTask = early.prepare(
      `INSERT INTO tasks (id, run_id, node_id, node_type, node_version, op, fingerprint, status, params_json,
         task_dir, created_at, reused_from) VALUES (?, 'r', ?, 'train', 1, 'train', 'fp', ?, '{}', '/t', '2025', ?)`,
    );
    insertTask.run('t1', 'a', 'done', null);
    insertTask.run('t2', 'b', 'reused', 't1');
    const insertMetric = early.prepare(
      'INSERT INTO metrics (task_id, step, name, value, time) VALUES (?, ?, ?, ?, 1)',
    );
    insertMetric.run('t1', 1, 'val_loss', 0.7);
    insertMetric.run('t1', 2, 'val_loss', 0.2);
    insertMetric.run('t1', 1, 'accuracy', 0.5);
    insertMetric.run('t1', 2, 'accuracy', 0.6);
    early.close();

    const upgraded = openDatabase(old);
    try {
      const store = new SqliteRunStore(upgraded);
      expect(store.getTask('t1')?.figures).toEqual({ val_loss: 0.2, accuracy: 0.6 });
      expect(store.getTask('t2')?.figures).toEqual({ val_loss: 0.2, accuracy: 0.6 });
      expect(store.getRun('r')).toMatchObject({ label: null, tags: [], note: '' });
      expect(store.registryRevision()).toBe(0);
    } finally {
      upgraded.close();
    }
  });
});

describe('registered models', () => {
  it('groups versions by name with aliases and descriptions; untag removes an alias', async () => {
    const first = await version('mnist/fit');
    const second = await version('mnist/fit');
    await version('mnist/net', { nodeType: 'model.mlp' });
    registry.tag(first.id, 'production');
    registry.tag(second.id, 'best');
    let models = registry.registered();
    expect(models.map((model) => model.name)).toEqual(['mnist/fit', 'mnist/net']);
    expect(models[0]).toMatchObject({
      versionCount: 2,
      latestVersion: 2,
      latestId: second.id,
      aliases: { best: 2, production: 1 },
      description: '',
      nodeType: 'train',
    });
    expect(registry.describe('mnist/fit', 'LeNet-300-100 on MNIST').description).toBe(
      'LeNet-300-100 on MNIST',
    );
    expect(registry.untag(first.id, 'production').aliases).toEqual([]);
    models = registry.registered();
    expect(models[0]).toMatchObject({ aliases: { best: 2 }, description: 'LeNet-300-100 on MNIST' });
    expect(codeOf(() => registry.untag(first.id, 'production'))).toBe('ALIAS_INVALID');
    expect(codeOf(() => registry.describe('nope', 'x'))).toBe('MODEL_NOT_FOUND');
    expect(codeOf(() => registry.describe('mnist/fit', 'x'.repeat(20_001)))).toBe('MODEL_INVALID');
    // A model whose versions are all gone is no registered model.
    registry.delete('mnist/net:1');
    expect(registry.registered().map((model) => model.name)).toEqual(['mnist/fit']);
  });

  it('labels metrics by split and task; training figures stay out of `metrics`', async () => {
    finishedRun(runs, 'r', {}, { fit: [], score: [] }, '2025-01-01T00:00:00.000Z');
    const model = await version('mnist/fit', { runId: 'r', taskId: 'r-fit' });
    registry.addMetrics(model.id, { loss: 0.3, val_loss: 0.4 }, 'r-fit', {
      split: (name) => (name.startsWith('val_') ? 'validation' : 'train'),
      origin: 'training',
    });
    registry.addMetrics(model.id, { accuracy: 0.95, loss: 0.2 }, 'r-score', { split: 'test' });
    const info = registry.get(model.id);
    expect(info.metrics).toEqual({ accuracy: 0.95, loss: 0.2 });
    expect(
      info.metricRecords.map(({ name, value, split, taskId, runId }) => ({
        name,
        value,
        split,
        taskId,
        runId,
      })),
    ).toEqual([
      { name: 'loss', value: 0.3, split: 'train', taskId: 'r-fit', runId: 'r' },
      { name: 'val_loss', value: 0.4, split: 'validation', taskId: 'r-fit', runId: 'r' },
      { name: 'accuracy', value: 0.95, split: 'test', taskId: 'r-score', runId: 'r' },
      { name: 'loss', value: 0.2, split: 'test', taskId: 'r-score', runId: 'r' },
    ]);
    expect(registry.versionsOfRun('r')).toEqual([model.id]);
  });
});

describe('changes another process writes', () => {
  ensureNoLeaks();

  it('are seen through data_version: new runs, their tasks, metrics and logs, and the registry', async () => {
    // A second connection to the same file stands for another process: SQLite's data_version
    // changes for one connection when another commits.
    const other = openDatabase(path);
    const seen: {
      runs: RunInfo[];
      tasks: TaskInfo[];
      metrics: MetricBatch[];
      logs: LogLine[];
      registry: RegistryChange[];
    } = { runs: [], tasks: [], metrics: [], logs: [], registry: [] };
    const watcher = new ExternalChangeWatcher(
      runs,
      (runId) => runId === 'mine',
      {
        run: (info) => seen.runs.push(info),
        task: (info) => seen.tasks.push(info),
        metrics: (batch) => seen.metrics.push(batch),
        log: (line) => seen.logs.push(line),
        registry: (change) => seen.registry.push(change),
      },
      0,
    );
    try {
      const theirs = new SqliteRunStore(other);
      watcher.poll();
      expect(seen.runs).toEqual([]);
      theirs.createRun({ id: 'cli', name: 'p', seed: 1, pipeline, pipelineFile: null, status: 'running' });
      theirs.createTask({
        id: 'cli-fit',
        runId: 'cli',
        nodeId: 'fit',
        nodeType: 'train',
        nodeVersion: 1,
        op: 'train',
        fingerprint: 'fp',
        params: {},
        taskDir: '/t',
      });
      // This process's own runs are reported by its runner, not again by the watcher.
      runs.createRun({ id: 'mine', name: 'p', seed: 1, pipeline, pipelineFile: null, status: 'running' });
      watcher.poll();
      expect(seen.runs.map((run) => run.id)).toEqual(['cli']);
      expect(seen.runs[0]!.tasks.map((task) => task.id)).toEqual(['cli-fit']);

      theirs.updateTask('cli-fit', { status: 'running', progress: { done: 1, total: 4, etaSeconds: 3 } });
      theirs.appendMetrics('cli-fit', [{ name: 'loss', step: 1, value: 0.5, time: 1 }]);
      theirs.appendLog({ runId: 'cli', taskId: 'cli-fit', level: 'info', message: 'epoch 1', time: 2 });
      watcher.poll();
      expect(seen.tasks.at(-1)).toMatchObject({ id: 'cli-fit', status: 'running', progress: { done: 1 } });
      expect(seen.metrics).toEqual([
        { runId: 'cli', taskId: 'cli-fit', points: [{ name: 'loss', step: 1, value: 0.5, time: 1 }] },
      ]);
      expect(seen.logs.map((line) => line.message)).toEqual(['epoch 1']);

      // Nothing new: nothing reported.
      const counts = [seen.runs.length, seen.tasks.length, seen.metrics.length];
      watcher.poll();
      expect([seen.runs.length, seen.tasks.length, seen.metrics.length]).toEqual(counts);

      theirs.updateTask('cli-fit', { status: 'done' });
      theirs.updateRun('cli', { status: 'done' });
      const theirRegistry = new SqliteModelRegistry(other, new FsArtifactStore(join(dir, 'artifacts')));
      await theirRegistry.registerVersion({
        name: 'p/fit',
        kind: 'classifier',
        framework: 'tfjs-layers',
        backend: 'wasm',
        runId: 'cli',
        taskId: 'cli-fit',
        nodeType: 'train',
        artifactDir: modelDir(),
        paramCount: 1,
        nonZeroParams: 1,
        sizeBytes: 1,
        params: {},
        meta: {},
        parents: [],
      });
      watcher.poll();
      expect(seen.runs.at(-1)).toMatchObject({ id: 'cli', status: 'done' });
      expect(seen.registry).toEqual([{ versions: 1, models: 1 }]);
    } finally {
      watcher.dispose();
      other.close();
    }
  });
});
