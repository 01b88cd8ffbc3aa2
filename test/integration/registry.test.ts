import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { DistilleryError } from '../../main/base/errors';
import { readMetricsFile } from '../../main/jobs/metrics-file';
import {
  FsArtifactStore,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  openDatabase,
  SqliteModelRegistry,
  SqliteRunStore,
  type Database,
  type RegisterVersionInput,
} from '../../main/registry';

let dir: string;
let db: Database;
let store: FsArtifactStore;
let registry: SqliteModelRegistry;
let modelCount = 0;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'distillery-registry-'));
  db = openDatabase(join(dir, 'registry.sqlite'));
  store = new FsArtifactStore(join(dir, 'artifacts'));
  registry = new SqliteModelRegistry(db, store);
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A model directory with the given files (default: unique content). */
function modelDir(files?: Record<string, string | Buffer>): string {
  modelCount += 1;
  const out = join(dir, 'src', `model-${modelCount}`);
  const content = files ?? {
    'model.json': JSON.stringify({ n: modelCount }),
    'weights.bin': Buffer.alloc(4096, modelCount),
  };
  for (const [path, data] of Object.entries(content)) {
    mkdirSync(join(out, path, '..'), { recursive: true });
    writeFileSync(join(out, path), data);
  }
  return out;
}

function input(name: string, overrides: Partial<RegisterVersionInput> = {}): RegisterVersionInput {
  return {
    name,
    kind: 'classifier',
    framework: 'tfjs-layers',
    backend: 'wasm',
    runId: null,
    taskId: null,
    nodeType: 'train',
    artifactDir: overrides.artifactDir ?? modelDir(),
    paramCount: 1000,
    nonZeroParams: 900,
    sizeBytes: 4096,
    params: { epochs: 2 },
    meta: { architecture: 'mlp' },
    parents: [],
    ...overrides,
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof DistilleryError ? error.code : `not a DistilleryError: ${String(error)}`;
  }
  return undefined;
}

async function asyncCodeOf(fn: () => Promise<unknown>): Promise<DistilleryError | undefined> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof DistilleryError) return error;
    throw error;
  }
  return undefined;
}

describe('openDatabase', () => {
  it('applies migrations and turns on WAL and foreign keys', () => {
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => row.name);
    expect(tables).toEqual(
      expect.arrayContaining([
        'aliases',
        'artifacts',
        'lineage',
        'logs',
        'metrics',
        'model_versions',
        'models',
        'runs',
        'tasks',
        'version_artifacts',
        'version_metrics',
      ]),
    );
  });

  it('reopens an up-to-date database without re-applying migrations', () => {
    const again = openDatabase(join(dir, 'registry.sqlite'));
    expect(again.pragma('user_version', { simple: true })).toBe(LATEST_SCHEMA_VERSION);
    again.close();
  });

  it('applies later migrations in order, each in its own transaction', () => {
    const path = join(dir, 'registry.sqlite');
    db.close();
    const extra = {
      version: LATEST_SCHEMA_VERSION + 1,
      name: 'extra',
      sql: 'CREATE TABLE extra (x INTEGER) STRICT;',
    };
    const broken = {
      version: LATEST_SCHEMA_VERSION + 2,
      name: 'broken',
      sql: 'CREATE TABLE extra (y INTEGER);',
    };
    expect(() => openDatabase(path, { migrations: [...MIGRATIONS, broken, extra] })).toThrow(
      /already exists/,
    );
    db = openDatabase(path, { migrations: [...MIGRATIONS, extra] });
    // The good migration committed; the broken one left nothing behind.
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_SCHEMA_VERSION + 1);
    expect(db.prepare('SELECT count(*) AS n FROM extra').get()).toEqual({ n: 0 });
  });

  it('refuses a database from a newer schema with a clear error', () => {
    const path = join(dir, 'newer.sqlite');
    const newer = openDatabase(path);
    newer.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    newer.close();
    expect(() => openDatabase(path)).toThrow(
      `has schema version ${LATEST_SCHEMA_VERSION + 1}, but this Distillery knows versions up to ${LATEST_SCHEMA_VERSION}`,
    );
  });
});

describe('SqliteModelRegistry', () => {
  it('registers versions and resolves them by id, name:version, name@alias and bare name', async () => {
    const first = await registry.registerVersion(input('mnist-mlp/fit', { metrics: { accuracy: 0.9 } }));
    const second = await registry.registerVersion(input('mnist-mlp/fit'));
    const other = await registry.registerVersion(input('mnist-cnn/fit'));
    expect(first.id).toMatch(/^mv_[0-9a-z]{10}$/);
    expect([first.version, second.version, other.version]).toEqual([1, 2, 1]);
    expect(first).toMatchObject({ name: 'mnist-mlp/fit', kind: 'classifier', metrics: { accuracy: 0.9 } });

    expect(registry.resolve(first.id).id).toBe(first.id);
    expect(registry.resolve('mnist-mlp/fit:1').id).toBe(first.id);
    expect(registry.resolve('mnist-mlp/fit:2').id).toBe(second.id);
    expect(registry.resolve('mnist-mlp/fit').id).toBe(second.id);
    registry.tag(first.id, 'prod');
    expect(registry.resolve('mnist-mlp/fit@prod').id).toBe(first.id);
    expect(registry.get(first.id).aliases).toEqual(['prod']);

    expect(registry.list().map((v) => v.id)).toEqual([other.id, second.id, first.id]);
    expect(registry.list({ name: 'mnist-mlp/fit' }).map((v) => v.id)).toEqual([second.id, first.id]);
  });

  it('never reuses a deleted version number', async () => {
    await registry.registerVersion(input('m'));
    const second = await registry.registerVersion(input('m'));
    registry.delete(second.id);
    expect((await registry.registerVersion(input('m'))).version).toBe(3);
    expect(codeOf(() => registry.resolve('m:2'))).toBe('MODEL_NOT_FOUND');
  });

  it('gives MODEL_REF_INVALID, MODEL_NOT_FOUND and ALIAS_INVALID for bad refs and aliases', async () => {
    const version = await registry.registerVersion(input('a.b/c_d-e'));
    for (const ref of [
      '',
      'a:b',
      'a:0',
      'a:-1',
      'a@1x',
      'a@',
      'a:1@x',
      '/a',
      'a//b',
      'a b',
      '../x',
      'a/.hidden',
    ]) {
      expect(
        codeOf(() => registry.resolve(ref)),
        ref,
      ).toBe('MODEL_REF_INVALID');
    }
    for (const ref of ['nope', 'a.b/c_d-e:9', 'a.b/c_d-e@missing', 'mv_0000000000']) {
      expect(
        codeOf(() => registry.resolve(ref)),
        ref,
      ).toBe('MODEL_NOT_FOUND');
    }
    for (const alias of ['', '1', '123', '9lives', 'has space', 'a@b', 'a:b', 'x'.repeat(101)]) {
      expect(
        codeOf(() => registry.tag(version.id, alias)),
        alias,
      ).toBe('ALIAS_INVALID');
    }
    expect(codeOf(() => registry.untag(version.id, 'never-set'))).toBe('ALIAS_INVALID');
    const error = await asyncCodeOf(() => registry.registerVersion(input('bad:name')));
    expect(error?.code).toBe('MODEL_REF_INVALID');
  });

  it('moves an alias between versions of one model and keeps aliases per model', async () => {
    const v1 = await registry.registerVersion(input('m'));
    const v2 = await registry.registerVersion(input('m'));
    const n1 = await registry.registerVersion(input('n'));
    registry.tag(v1.id, 'prod');
    registry.tag(n1.id, 'prod');
    expect(registry.tag('m:2', 'prod').aliases).toEqual(['prod']);
    expect(registry.get(v1.id).aliases).toEqual([]);
    expect(registry.resolve('m@prod').id).toBe(v2.id);
    expect(registry.resolve('n@prod').id).toBe(n1.id);
    expect(registry.untag('m@prod', 'prod').aliases).toEqual([]);
    expect(codeOf(() => registry.resolve('m@prod'))).toBe('MODEL_NOT_FOUND');
  });

  it('tracks lineage across three generations and refuses to delete a parent unless forced', async () => {
    const base = await registry.registerVersion(input('mnist/fit'));
    const distilled = await registry.registerVersion(
      input('mnist/distill', {
        parents: [{ versionId: base.id, operation: 'distill', params: { temperature: 4 } }],
        taskId: 'task-distill',
      }),
    );
    const pruned = await registry.registerVersion(
      input('mnist/prune', {
        parents: [{ versionId: distilled.id, operation: 'prune', params: { sparsity: 0.5 } }],
      }),
    );

    for (const ref of [base.id, distilled.id, pruned.id]) {
      const graph = registry.lineage(ref);
      expect(graph.root).toBe(ref);
      expect(graph.nodes.map((n) => n.id).sort()).toEqual([base.id, distilled.id, pruned.id].sort());
      expect(graph.edges).toHaveLength(2);
    }
    const graph = registry.lineage(distilled.id);
    expect(graph.edges).toContainEqual({
      parentId: base.id,
      childId: distilled.id,
      operation: 'distill',
      params: { temperature: 4 },
      taskId: 'task-distill',
    });
    expect(graph.edges).toContainEqual({
      parentId: distilled.id,
      childId: pruned.id,
      operation: 'prune',
      params: { sparsity: 0.5 },
      taskId: null,
    });
    // An unrelated model does not leak in.
    await registry.registerVersion(input('other'));
    expect(registry.lineage(pruned.id).nodes).toHaveLength(3);

    let refused: unknown;
    try {
      registry.delete('mnist/fit');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(DistilleryError);
    expect((refused as DistilleryError).code).toBe('MODEL_HAS_DESCENDANTS');
    expect((refused as DistilleryError).details).toEqual({
      versionId: base.id,
      descendants: [distilled.id, pruned.id],
    });
    expect(registry.get(base.id).id).toBe(base.id);

    expect(registry.delete('mnist/fit', { force: true })).toEqual([base.id]);
    expect(codeOf(() => registry.get(base.id))).toBe('MODEL_NOT_FOUND');
    const after = registry.lineage(pruned.id);
    expect(after.nodes.map((n) => n.id).sort()).toEqual([distilled.id, pruned.id].sort());
    expect(after.edges).toHaveLength(1);
    // A leaf deletes without force.
    expect(registry.delete(pruned.id)).toEqual([pruned.id]);
  });

  it('refuses unknown parents before storing anything', async () => {
    const error = await asyncCodeOf(() =>
      registry.registerVersion(
        input('m', { parents: [{ versionId: 'mv_0000000000', operation: 'x', params: {} }] }),
      ),
    );
    expect(error?.code).toBe('MODEL_NOT_FOUND');
    expect(db.prepare('SELECT count(*) AS n FROM model_versions').get()).toEqual({ n: 0 });
  });

  it('keeps the latest value per metric name', async () => {
    const version = await registry.registerVersion(input('m', { metrics: { accuracy: 0.8, loss: 0.5 } }));
    registry.addMetrics(version.id, { accuracy: 0.85, loss: Number.NaN }, 'task-eval');
    expect(registry.get(version.id).metrics).toEqual({ accuracy: 0.85, loss: Number.NaN });
  });

  it('stores identical files once and materializes them with their tree', async () => {
    const files = { 'model.json': '{"same":true}', 'weights/a.bin': Buffer.alloc(10_000, 7) };
    const first = await registry.registerVersion(input('m', { artifactDir: modelDir(files) }));
    const second = await registry.registerVersion(input('m', { artifactDir: modelDir(files) }));
    expect(registry.manifest(first.id)).toEqual(registry.manifest(second.id));
    expect(registry.manifest(first.id).map((e) => e.path)).toEqual(['model.json', 'weights/a.bin']);
    expect(await store.list()).toHaveLength(2);
    expect(db.prepare('SELECT count(*) AS n FROM artifacts').get()).toEqual({ n: 2 });

    const out = join(dir, 'out');
    const written = await registry.materialize(second.id, out);
    expect(written).toEqual([join(out, 'model.json'), join(out, 'weights', 'a.bin')]);
    expect(readFileSync(join(out, 'weights', 'a.bin')).equals(files['weights/a.bin'])).toBe(true);
    expect(await registry.verify(first.id)).toEqual([]);
  });

  it('refuses to materialize a corrupted blob with ARTIFACT_CORRUPT naming the file', async () => {
    const version = await registry.registerVersion(
      input('m', { artifactDir: modelDir({ 'model.json': '{}', 'weights.bin': Buffer.alloc(2048, 3) }) }),
    );
    const weights = registry.manifest(version.id).find((e) => e.path === 'weights.bin');
    if (!weights) throw new Error('weights.bin missing from manifest');
    const blob = store.path(weights.sha256);
    const bytes = readFileSync(blob);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    writeFileSync(blob, bytes);

    expect(await store.verify(weights.sha256)).toBe(false);
    expect(await registry.verify(version.id)).toEqual(['weights.bin']);
    const error = await asyncCodeOf(() => registry.materialize(version.id, join(dir, 'out')));
    expect(error?.code).toBe('ARTIFACT_CORRUPT');
    expect(error?.details.file).toBe('weights.bin');
    expect(error?.message).toContain('weights.bin');
    expect(readdirSync(join(dir, 'out'))).toEqual(['model.json']);

    // Storing the same content again replaces the damaged blob.
    await registry.registerVersion(
      input('m', { artifactDir: modelDir({ 'model.json': '{}', 'weights.bin': Buffer.alloc(2048, 3) }) }),
    );
    expect(await registry.verify(version.id)).toEqual([]);
  });

  it('gc removes unreferenced blobs and temp files and keeps referenced ones', async () => {
    const kept = await registry.registerVersion(input('keep'));
    const dropped = await registry.registerVersion(input('drop'));
    const droppedBlobs = registry.manifest(dropped.id).map((e) => e.sha256);
    registry.delete(dropped.id);
    writeFileSync(join(store.root, 'tmp', 'leftover.tmp'), 'partial');

    // Within the grace period nothing young is touched.
    expect(await registry.gc()).toEqual({ removedFiles: 0, removedBytes: 0, removedTemp: 0 });

    const result = await registry.gc({ graceMs: 0 });
    expect(result.removedFiles).toBe(2);
    expect(result.removedBytes).toBe(registry.manifest(kept.id).reduce((n, e) => n + e.size, 0));
    expect(result.removedTemp).toBe(1);
    for (const sha of droppedBlobs) expect(store.has(sha)).toBe(false);
    expect(await registry.verify(kept.id)).toEqual([]);
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
    expect(db.prepare('SELECT count(*) AS n FROM artifacts').get()).toEqual({ n: 2 });
  });
});

describe('SqliteRunStore', () => {
  const pipeline: PipelineDoc = { format: 1, name: 'p', seed: 7, nodes: [], edges: [] };

  it('round-trips runs and tasks into the contract DTOs', async () => {
    const runs = new SqliteRunStore(db);
    runs.createRun({ id: 'run-1', name: 'p', seed: 7, pipeline, pipelineFile: '/x/p.distillery.json' });
    const task = runs.createTask({
      id: 'task-1',
      runId: 'run-1',
      nodeId: 'train-1',
      nodeType: 'train',
      nodeVersion: 1,
      op: 'train',
      fingerprint: 'fp-1',
      params: { epochs: 2 },
      taskDir: '/tasks/task-1',
      inputs: { data: { kind: 'dataset', path: '/d', meta: { rows: 10 } } },
    });
    expect(task).toMatchObject({ status: 'queued', attempt: 0, inputs: { data: { kind: 'dataset' } } });

    const backend = {
      name: 'wasm',
      package: '@tensorflow/tfjs-backend-wasm',
      skipped: [],
      features: { simd: true },
    };
    runs.updateRun('run-1', { status: 'running', startedAt: '2025-01-01T00:00:00.000Z', backend });
    runs.updateTask('task-1', {
      status: 'running',
      attempt: 1,
      progress: { done: 3, total: 10, etaSeconds: null },
      checkpoint: { path: '/tasks/task-1/ckpt', step: 3 },
    });
    const model = await registry.registerVersion(
      input('p/train-1', { runId: 'run-1', taskId: 'task-1', role: 'model' }),
    );
    runs.updateTask('task-1', {
      status: 'done',
      summary: { accuracy: 0.9 },
      outputs: { model: { kind: 'model', path: '/tasks/task-1/model', meta: {} } },
      finishedAt: '2025-01-01T00:01:00.000Z',
    });
    runs.updateRun('run-1', {
      status: 'done',
      finishedAt: '2025-01-01T00:01:00.000Z',
      versions: { tfjs: '4.22.0' },
    });

    const info = runs.getRun('run-1');
    expect(info).toMatchObject({
      id: 'run-1',
      status: 'done',
      seed: 7,
      backend,
      versions: { tfjs: '4.22.0' },
      pipelineFile: '/x/p.distillery.json',
      error: null,
    });
    expect(info.tasks).toEqual([
      {
        id: 'task-1',
        runId: 'run-1',
        nodeId: 'train-1',
        nodeType: 'train',
        op: 'train',
        fingerprint: 'fp-1',
        status: 'done',
        reusedFrom: null,
        reusedFromRun: null,
        attempt: 1,
        progress: { done: 3, total: 10, etaSeconds: null },
        backend: null,
        startedAt: null,
        finishedAt: '2025-01-01T00:01:00.000Z',
        summary: { accuracy: 0.9 },
        error: null,
        checkpoint: { path: '/tasks/task-1/ckpt', step: 3 },
        models: { model: model.id },
        taskDir: '/tasks/task-1',
        executor: null,
        jobId: null,
        nodeName: null,
        warm: null,
        executorState: null,
      },
    ]);
    expect(runs.getTask('task-1')?.outputs.model?.path).toBe('/tasks/task-1/model');

    // A second run reuses the finished task and shows its model.
    runs.createRun({ id: 'run-2', name: 'p', seed: 7, pipeline, pipelineFile: null });
    expect(runs.findReusableTask('fp-1')?.id).toBe('task-1');
    expect(runs.findReusableTask('fp-unknown')).toBeUndefined();
    runs.createTask({
      id: 'task-2',
      runId: 'run-2',
      nodeId: 'train-1',
      nodeType: 'train',
      nodeVersion: 1,
      op: 'train',
      fingerprint: 'fp-1',
      params: {},
      taskDir: '/tasks/task-1',
      status: 'reused',
      reusedFrom: 'task-1',
    });
    expect(runs.getRun('run-2').tasks[0]?.models).toEqual({ model: model.id });
    // A reused task names the run that produced it.
    expect(runs.getRun('run-2').tasks[0]?.reusedFromRun).toBe('run-1');
    expect(runs.findReusableTask('fp-1')?.id).toBe('task-1');
    runs.updateTask('task-1', { status: 'failed', error: { code: 'TASK_FAILED', message: 'x' } });
    expect(runs.findReusableTask('fp-1')).toBeUndefined();

    expect(runs.listRuns(10).map((r) => r.id)).toEqual(['run-2', 'run-1']);
    expect(runs.listRuns(1)).toHaveLength(1);
    expect(runs.tasksOfRun('run-2').map((t) => t.id)).toEqual(['task-2']);
    expect(codeOf(() => runs.getRun('missing'))).toBe('RUN_NOT_FOUND');
    expect(codeOf(() => runs.updateRun('missing', { status: 'failed' }))).toBe('RUN_NOT_FOUND');
  });

  it('appends 10k metric points in batches and filters them; keeps logs in order', () => {
    const runs = new SqliteRunStore(db);
    runs.createRun({ id: 'run-1', name: 'p', seed: 1, pipeline, pipelineFile: null });
    runs.createTask({
      id: 'task-1',
      runId: 'run-1',
      nodeId: 'n',
      nodeType: 'train',
      nodeVersion: 1,
      op: 'train',
      fingerprint: 'fp',
      params: {},
      taskDir: '/t',
    });
    const points = Array.from({ length: 10_000 }, (_, i) => ({
      step: Math.floor(i / 2),
      epoch: Math.floor(i / 1000),
      name: i % 2 === 0 ? 'loss' : 'accuracy',
      value: i % 2 === 0 ? 1 / (i + 1) : i / 10_000,
      time: 1_700_000_000_000 + i,
    }));
    for (let i = 0; i < points.length; i += 500) runs.appendMetrics('task-1', points.slice(i, i + 500));

    const all = runs.getMetrics('task-1');
    expect(all).toHaveLength(10_000);
    expect(all[0]).toEqual({ step: 0, epoch: 0, name: 'loss', value: 1, time: 1_700_000_000_000 });
    const loss = runs.getMetrics('task-1', { names: ['loss'], sinceStep: 4990 });
    expect(loss.map((p) => p.step)).toEqual([4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999]);
    expect(loss.every((p) => p.name === 'loss')).toBe(true);
    runs.appendMetrics('task-1', [{ step: 6000, name: 'loss', value: Number.NaN, time: 1 }]);
    expect(runs.getMetrics('task-1', { sinceStep: 5999 })).toEqual([
      { step: 6000, name: 'loss', value: Number.NaN, time: 1 },
    ]);

    runs.appendLog({ runId: 'run-1', taskId: 'task-1', level: 'info', message: 'start', time: 1 });
    runs.appendLogs([
      { runId: 'run-1', taskId: 'task-1', level: 'warn', message: 'slow', time: 2 },
      { runId: 'run-1', taskId: 'task-1', level: 'error', message: 'boom', time: 3 },
    ]);
    expect(runs.getLogs('task-1').map((l) => [l.runId, l.level, l.message])).toEqual([
      ['run-1', 'info', 'start'],
      ['run-1', 'warn', 'slow'],
      ['run-1', 'error', 'boom'],
    ]);
  });
});

describe('metrics: one value per (task, metric, step)', () => {
  const pipeline: PipelineDoc = { format: 1, name: 'p', seed: 1, nodes: [], edges: [] };

  function withTask(target: Database): SqliteRunStore {
    const runs = new SqliteRunStore(target);
    runs.createRun({ id: 'run-1', name: 'p', seed: 1, pipeline, pipelineFile: null });
    runs.createTask({
      id: 'task-1',
      runId: 'run-1',
      nodeId: 'fit',
      nodeType: 'train',
      nodeVersion: 1,
      op: 'train',
      fingerprint: 'fp',
      params: {},
      taskDir: '/t',
    });
    return runs;
  }

  it('migration 2 keeps the latest row of each (task, metric, step) and refuses duplicates from then on', () => {
    const path = join(dir, 'v1.sqlite');
    const v1 = openDatabase(path, { migrations: MIGRATIONS.filter((m) => m.version === 1) });
    // The run store speaks the latest schema; version 1's rows are written as version 1 wrote them.
    v1.exec(`
      INSERT INTO runs (id, name, status, seed, pipeline_json, created_at)
        VALUES ('run-1', 'p', 'done', 1, '{}', 'now');
      INSERT INTO tasks (id, run_id, node_id, node_type, node_version, op, fingerprint, status, params_json,
          task_dir, created_at)
        VALUES ('task-1', 'run-1', 'fit', 'train', 1, 'train', 'fp', 'done', '{}', '/t', 'now');
    `);
    const insert = v1.prepare(
      'INSERT INTO metrics (task_id, step, epoch, name, value, time) VALUES (?, ?, ?, ?, ?, ?)',
    );
    // Attempt 1 recorded steps 1-3; attempt 2 resumed from a checkpoint at step 1 and re-recorded 2-3.
    for (const [step, value, time] of [
      [1, 0.9, 1],
      [2, 0.8, 2],
      [3, 0.7, 3],
      [2, 0.81, 12],
      [3, 0.71, 13],
    ] as const) {
      insert.run('task-1', step, null, 'loss', value, time);
    }
    v1.close();

    const migrated = openDatabase(path);
    try {
      expect(migrated.pragma('user_version', { simple: true })).toBe(LATEST_SCHEMA_VERSION);
      const runs = new SqliteRunStore(migrated);
      expect(runs.getMetrics('task-1').map((p) => [p.step, p.value, p.time])).toEqual([
        [1, 0.9, 1],
        [2, 0.81, 12],
        [3, 0.71, 13],
      ]);
      expect(() =>
        migrated
          .prepare(
            "INSERT INTO metrics (task_id, step, name, value, time) VALUES ('task-1', 1, 'loss', 1, 1)",
          )
          .run(),
      ).toThrow(/UNIQUE/);
    } finally {
      migrated.close();
    }
  });

  it('a later point for a step replaces the earlier one; back-fill adds what is missing and changes nothing twice', () => {
    const runs = withTask(db);
    runs.appendMetrics('task-1', [
      { step: 1, name: 'loss', value: 0.9, time: 1 },
      { step: 2, name: 'loss', value: 0.8, time: 2 },
    ]);
    runs.appendMetrics('task-1', [{ step: 2, epoch: 1, name: 'loss', value: 0.85, time: 22 }]);
    expect(runs.getMetrics('task-1')).toEqual([
      { step: 1, name: 'loss', value: 0.9, time: 1 },
      { step: 2, epoch: 1, name: 'loss', value: 0.85, time: 22 },
    ]);
    const fromFile = [
      { step: 1, name: 'loss', value: 0.9, time: 1 },
      { step: 2, epoch: 1, name: 'loss', value: 0.85, time: 22 },
      { step: 3, name: 'loss', value: Number.NaN, time: 23 },
      { step: 3, name: 'accuracy', value: 0.5, time: 23 },
    ];
    expect(runs.backfillMetrics('task-1', fromFile)).toBe(2);
    expect(runs.backfillMetrics('task-1', fromFile)).toBe(0);
    expect(runs.getMetrics('task-1')).toEqual([
      { step: 1, name: 'loss', value: 0.9, time: 1 },
      { step: 2, epoch: 1, name: 'loss', value: 0.85, time: 22 },
      { step: 3, name: 'loss', value: Number.NaN, time: 23 },
      { step: 3, name: 'accuracy', value: 0.5, time: 23 },
    ]);
  });

  it('reads a metrics file back with the latest execution winning each step, torn lines recovered', () => {
    const file = join(dir, 'metrics.jsonl');
    const line = (step: number, value: number | null, time: number, execution?: number) =>
      JSON.stringify({ step, name: 'loss', value, time, ...(execution !== undefined ? { execution } : {}) });
    writeFileSync(
      file,
      [
        // Written before lines carried an execution mark: older than any marked line.
        line(1, 0.99, 1),
        line(1, 0.9, 2, 100),
        line(2, 0.8, 3, 100),
        line(3, 0.7, 4, 100),
        // The second execution resumed at step 1; an orphan of the first still wrote step 3 after it.
        line(2, 0.81, 12, 200),
        line(3, 0.71, 13, 200),
        line(3, 0.7, 14, 100),
        // The second execution was killed mid-line; the third's first line follows the torn one.
        line(4, 0.6, 15, 200).slice(0, 20) + line(4, null, 25, 300),
        'not json',
        '',
      ].join('\n'),
    );
    const contents = readMetricsFile(file);
    expect(contents.points).toEqual([
      { step: 1, name: 'loss', value: 0.9, time: 2 },
      { step: 2, name: 'loss', value: 0.81, time: 12 },
      { step: 3, name: 'loss', value: 0.71, time: 13 },
      { step: 4, name: 'loss', value: Number.NaN, time: 25 },
    ]);
    expect(contents).toMatchObject({ superseded: 4, unreadable: 1 });
    expect(readMetricsFile(join(dir, 'missing.jsonl'))).toEqual({ points: [], superseded: 0, unreadable: 0 });
  });

  it('settles an abandoned run only while it is unsettled', () => {
    const runs = withTask(db);
    runs.updateRun('run-1', { status: 'running' });
    runs.updateTask('task-1', { status: 'running' });
    const error = { code: 'RUN_INTERRUPTED', message: 'gone' };
    expect(
      runs.settleAbandonedRun('run-1', 'failed', error, (t) => ({ ...error, details: { nodeId: t.nodeId } })),
    ).toBe(true);
    expect(runs.getRun('run-1')).toMatchObject({
      status: 'failed',
      error,
      tasks: [{ status: 'failed', error: { code: 'RUN_INTERRUPTED', details: { nodeId: 'fit' } } }],
    });
    runs.updateRun('run-1', { status: 'done' });
    expect(runs.settleAbandonedRun('run-1', 'failed', error)).toBe(false);
    expect(runs.getRun('run-1').status).toBe('done');
  });
});
