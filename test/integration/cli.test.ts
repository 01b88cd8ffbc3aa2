/**
 * The `distillery` CLI end to end: real subprocesses (CLI and workers), a real SQLite registry,
 * the 2,000-image MNIST pipeline of the README, and an export read back by stock tfjs over HTTP.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LineageGraph, ModelVersionInfo, RunInfo, ValidationIssue } from '../../preload/contract';
import { readMetricsFile } from '../../main/jobs/metrics-file';
import { openDatabase } from '../../main/registry/db';
import { SqliteRunStore } from '../../main/registry/run-store';
import { loadModel } from '../../main/worker/models/model-file';
import { expectAutoBackendChoice } from '../helpers/backend-expectations';
import { cliJson, REPO_ROOT, runCli, startServe, type CliResult } from '../helpers/cli';
import { makeTempDir } from '../helpers/tmp';

const PIPELINE = join(REPO_ROOT, 'resources/pipelines/mnist-mlp.distillery.json');

function serveDir(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = join(dir, decodeURIComponent((req.url ?? '/').split('?')[0]!));
    if (!path.startsWith(dir) || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200).end(readFileSync(path));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

describe('distillery CLI', () => {
  const tmp = makeTempDir();
  const dataDir = join(tmp.dir, 'data');
  let run: RunInfo;

  beforeAll(async () => {
    const result = await cliJson<RunInfo>(['run', PIPELINE], dataDir);
    expect(result.code, result.stderr).toBe(0);
    run = result.json;
  }, 180_000);

  afterAll(() => tmp.cleanup());

  it('runs the 2,000-image MNIST MLP pipeline to ≥ 85% test accuracy', () => {
    expect(run.status).toBe('done');
    expect(run.backend).not.toBeNull();
    expectAutoBackendChoice(run.backend!);
    const score = run.tasks.find((t) => t.nodeId === 'score')!;
    expect(score.status).toBe('done');
    expect(score.summary!.accuracy as number).toBeGreaterThanOrEqual(0.85);
    expect((score.summary!.confusionMatrix as number[][]).flat().reduce((a, b) => a + b, 0)).toBe(1000);
    const fit = run.tasks.find((t) => t.nodeId === 'fit')!;
    expect(Object.keys(fit.models)).toEqual(['model']);
    // Metrics were streamed per step and per epoch and are also in the task directory.
    const file = readMetricsFile(join(fit.taskDir, 'metrics.jsonl'));
    expect(file).toMatchObject({ superseded: 0, unreadable: 0 });
    expect(file.points.filter((p) => p.name === 'loss').length).toBe(3 * Math.ceil(2000 / 64));
    expect(file.points.filter((p) => p.name === 'epoch_loss').length).toBe(3);
  });

  it('registers every model with lineage, metrics and backend', async () => {
    const { json: models } = await cliJson<ModelVersionInfo[]>(['models', 'list'], dataDir);
    expect(models.map((m) => m.name).sort()).toEqual(['mnist-mlp/fit', 'mnist-mlp/net']);
    const fit = models.find((m) => m.name === 'mnist-mlp/fit')!;
    expect(fit).toMatchObject({
      version: 1,
      kind: 'classifier',
      backend: run.backend?.name,
      paramCount: 266_610,
      runId: run.id,
    });
    expect(fit.metrics.accuracy).toBeGreaterThanOrEqual(0.85);
    const { json: lineage } = await cliJson<LineageGraph>(['models', 'lineage', 'mnist-mlp/fit:1'], dataDir);
    expect(lineage.edges).toEqual([
      expect.objectContaining({
        childId: fit.id,
        operation: 'train',
        params: expect.objectContaining({ epochs: 3, optimizer: 'adam', port: 'model' }),
      }),
    ]);
  });

  it('tags, resolves aliases and refuses to delete a model others derive from', async () => {
    const tagged = await cliJson<ModelVersionInfo>(['models', 'tag', 'mnist-mlp/fit:1', 'best'], dataDir);
    expect(tagged.json.aliases).toEqual(['best']);
    const shown = await cliJson<ModelVersionInfo>(['models', 'show', 'mnist-mlp/fit@best'], dataDir);
    expect(shown.json.id).toBe(tagged.json.id);
    const refused = await cliJson<{ error: { code: string; details: { descendants: string[] } } }>(
      ['models', 'rm', 'mnist-mlp/net'],
      dataDir,
    );
    expect(refused.code).toBe(2);
    expect(refused.json.error.code).toBe('MODEL_HAS_DESCENDANTS');
    expect(refused.json.error.details.descendants).toEqual([tagged.json.id]);
    const missing = await cliJson<{ error: { code: string } }>(['models', 'show', 'nope:3'], dataDir);
    expect(missing.json.error.code).toBe('MODEL_NOT_FOUND');
  });

  it('exports a model that stock tf.loadLayersModel loads with identical predictions', async () => {
    const out = join(tmp.dir, 'export');
    const result = await cliJson<{ files: string[] }>(
      ['export', 'mnist-mlp/fit@best', '--format', 'tfjs', '--out', out],
      dataDir,
    );
    expect(result.code, result.stderr).toBe(0);
    const modelJson = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as {
      generatedBy: string;
      convertedBy: string;
    };
    expect(modelJson.generatedBy).toMatch(/^Distillery \d+\.\d+\.\d+$/);
    expect(modelJson.convertedBy).toBe(modelJson.generatedBy);
    const { server, url } = await serveDir(out);
    try {
      await tf.setBackend('cpu');
      const exported = await tf.loadLayersModel(`${url}/model.json`);
      const fitTask = run.tasks.find((t) => t.nodeId === 'fit')!;
      const { model: original } = await loadModel(join(fitTask.taskDir, 'model'));
      const input = tf.randomUniform([16, 28, 28, 1], 0, 1, 'float32', 3);
      const a = (exported.predict(input) as tf.Tensor).dataSync();
      const b = (original.predict(input) as tf.Tensor).dataSync();
      expect(Array.from(a)).toEqual(Array.from(b));
    } finally {
      server.close();
    }
  });

  it('reuses finished tasks by fingerprint, and re-runs them with --force', async () => {
    const again = await cliJson<RunInfo>(['run', PIPELINE], dataDir);
    expect(again.json.tasks.map((t) => t.status)).toEqual(['reused', 'reused', 'reused', 'reused']);
    expect(again.json.tasks.find((t) => t.nodeId === 'fit')!.reusedFrom).toBe(`${run.id}-fit`);
    const edited = JSON.parse(readFileSync(PIPELINE, 'utf8')) as {
      nodes: Array<{ id: string; params: Record<string, unknown> }>;
    };
    edited.nodes.find((n) => n.id === 'score')!.params.latencySamples = 10;
    const file = join(tmp.dir, 'edited.distillery.json');
    writeFileSync(file, JSON.stringify(edited));
    const partial = await cliJson<RunInfo>(['run', file], dataDir);
    expect(partial.json.tasks.map((t) => `${t.nodeId}:${t.status}`)).toEqual([
      'data:reused',
      'net:reused',
      'fit:reused',
      'score:done',
    ]);
    const forced = await cliJson<RunInfo>(['run', PIPELINE, '--force'], dataDir);
    expect(forced.json.tasks.every((t) => t.status === 'done')).toBe(true);
    const { json: models } = await cliJson<ModelVersionInfo[]>(
      ['models', 'list', '--name', 'mnist-mlp/fit'],
      dataDir,
    );
    expect(models.map((m) => m.version)).toEqual([2, 1]);
  }, 120_000);

  it('refuses an invalid pipeline with every issue, coded, and exit code 2', async () => {
    const file = join(tmp.dir, 'bad.distillery.json');
    const doc = JSON.parse(readFileSync(PIPELINE, 'utf8')) as {
      nodes: Array<{ id: string; params: Record<string, unknown> }>;
      edges: unknown[];
    };
    doc.nodes.find((n) => n.id === 'fit')!.params.optimizer = 'adagrad';
    doc.nodes.find((n) => n.id === 'net')!.params.dropout = -1;
    doc.edges.push({ from: 'score.model', to: 'fit.model' });
    writeFileSync(file, JSON.stringify(doc));
    const validated = await cliJson<{ valid: boolean; issues: ValidationIssue[] }>(
      ['validate', file],
      dataDir,
    );
    expect(validated.code).toBe(2);
    expect(validated.json.issues.map((i) => i.code).sort()).toEqual([
      'PARAM_INVALID_CHOICE',
      'PARAM_OUT_OF_RANGE',
      'UNKNOWN_PORT',
    ]);
    const ran = await runCli(['run', file], { dataDir });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain('PARAM_INVALID_CHOICE');
    const corrupt = join(tmp.dir, 'corrupt.distillery.json');
    writeFileSync(corrupt, '{"format": 1, "name": "x", ');
    const refused = await cliJson<{ error: { code: string; details: { file: string } } }>(
      ['run', corrupt],
      dataDir,
    );
    expect(refused.json.error).toMatchObject({ code: 'PIPELINE_JSON_INVALID', details: { file: corrupt } });
  });

  it('cancels a run from another process, then resumes it to the end', async () => {
    const file = join(tmp.dir, 'long.distillery.json');
    const doc = JSON.parse(readFileSync(PIPELINE, 'utf8')) as {
      name: string;
      nodes: Array<{ id: string; params: Record<string, unknown> }>;
    };
    doc.name = 'long';
    doc.nodes.find((n) => n.id === 'fit')!.params = { epochs: 30, batchSize: 32, checkpointEvery: 20 };
    writeFileSync(file, JSON.stringify(doc));
    let runId = '';
    let cancelRequest: Promise<CliResult> | undefined;
    const owner = await runCli(['run', file], {
      dataDir,
      onStderr: (text) => {
        runId ||= /Run (\S+)/.exec(text)?.[1] ?? '';
        if (!cancelRequest && /\[fit\] epoch 1:/.test(text))
          cancelRequest = runCli(['cancel', runId], { dataDir });
      },
    });
    // Asserted here rather than in a callback, where a failure would only show as the test's timeout.
    expect(cancelRequest, `the run never reached epoch 1:\n${owner.stderr}`).toBeDefined();
    const cancel = await cancelRequest!;
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(owner.code, owner.stderr).toBe(130);
    expect(owner.stdout).toContain(`distillery resume ${runId}`);
    const { json: stopped } = await cliJson<RunInfo>(['runs', 'show', runId], dataDir);
    expect(stopped.status).toBe('cancelled');
    const fit = stopped.tasks.find((t) => t.nodeId === 'fit')!;
    expect(fit.status).toBe('cancelled');
    expect(fit.checkpoint!.step).toBeGreaterThanOrEqual(63);
    const resumed = await cliJson<RunInfo>(['resume', runId], dataDir);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json.tasks.find((t) => t.nodeId === 'fit')).toMatchObject({ status: 'done', attempt: 2 });
  }, 240_000);

  it('lists node types and shows one in full', async () => {
    const { json: specs } = await cliJson<Array<{ type: string }>>(['nodes'], dataDir);
    expect(specs.map((spec) => spec.type)).toEqual(
      expect.arrayContaining(['dataset.mnist', 'train', 'distill', 'diffusion.ddpo']),
    );
    const { json: train } = await cliJson<{ params: Record<string, { kind: string; choices?: string[] }> }>(
      ['nodes', 'train'],
      dataDir,
    );
    expect(train.params.schedule).toMatchObject({
      kind: 'choice',
      choices: ['constant', 'step', 'cosine', 'warmup-cosine', 'one-cycle', 'rex'],
    });
    const unknown = await runCli(['nodes', 'model.transformer'], { dataDir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown node type "model.transformer"');
  });

  it('validates and lists node types without creating a data folder', async () => {
    const untouched = join(tmp.dir, 'never-created');
    const valid = await runCli(['validate', PIPELINE], { dataDir: untouched });
    expect(valid.code, valid.stderr).toBe(0);
    expect(valid.stdout).toBe(`${PIPELINE}: valid (4 nodes: data → net → fit → score)\n`);
    const nodes = await runCli(['nodes', 'train'], { dataDir: untouched });
    expect(nodes.code, nodes.stderr).toBe(0);
    expect(existsSync(untouched)).toBe(false);
  });

  it('lists and shows runs, and collects garbage', async () => {
    const { json: runs } = await cliJson<RunInfo[]>(['runs', 'list'], dataDir);
    expect(runs.length).toBe(5);
    const { json: shown } = await cliJson<RunInfo>(['runs', 'show', run.id], dataDir);
    expect(shown.tasks.map((t) => t.nodeId)).toEqual(['data', 'net', 'fit', 'score']);
    const gc = await cliJson<{ removedFiles: number }>(['gc'], dataDir);
    expect(gc.code).toBe(0);
    const text = await runCli(['runs', 'list'], { dataDir });
    expect(text.stdout).toContain(run.id);
    const csv = await runCli(['runs', 'metrics', run.id, '--node', 'fit', '--name', 'epoch_loss'], {
      dataDir,
    });
    const rows = csv.stdout.trim().split('\n');
    expect(rows[0]).toBe('node,step,epoch,name,value,time');
    expect(rows.slice(1).map((row) => row.split(',').slice(0, 4).join(','))).toEqual([
      'fit,32,1,epoch_loss',
      'fit,64,2,epoch_loss',
      'fit,96,3,epoch_loss',
    ]);
  });
});

describe('the process guard of the CLI and serve', () => {
  const tmp = makeTempDir();
  afterAll(() => tmp.cleanup());
  const url = (path: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, path)).href);
  // Plants an error no code handles on each SIGUSR2 the test sends to the CLI process.
  const planted = {
    NODE_OPTIONS: `--import ${pathToFileURL(join(REPO_ROOT, 'test/helpers/unhandled-on-signal.mjs')).href}`,
  };

  it('records an unhandled rejection, an uncaught exception and onUnexpectedError with their stacks; the process goes on', async () => {
    const script = `
      import { installProcessGuard } from ${url('main/app/process-guard.ts')};
      import { onUnexpectedError } from ${url('main/base/unexpected-error.ts')};
      installProcessGuard();
      void Promise.reject(new Error('rejected with no handler'));
      setTimeout(() => { throw new Error('thrown from a timer'); }, 10);
      setTimeout(() => {
        onUnexpectedError(new Error('reported by a listener'));
        process.stdout.write('still running\\n');
      }, 50);`;
    const run = (source: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const guarded = await run(script);
    expect(guarded.code, guarded.stderr).toBe(0);
    expect(guarded.stdout).toBe('still running\n');
    for (const [origin, message] of [
      ['unhandledRejection', 'rejected with no handler'],
      ['uncaughtException', 'thrown from a timer'],
      ['unexpectedError', 'reported by a listener'],
    ]) {
      expect(guarded.stderr).toMatch(
        new RegExp(`unexpected error \\(${origin}\\)[^\\n]*\\nError: ${message}\\n\\s+at `),
      );
    }
    // Without the guard, the first of them ends the process: what the CLI and serve did before.
    const unguarded = await run(script.replace('installProcessGuard();', ''));
    expect(unguarded.code).not.toBe(0);
    expect(unguarded.stdout).toBe('');
  });

  it('`distillery run` records a planted unhandled rejection and exception in stderr and the run log, and finishes the run', async () => {
    const dataDir = join(tmp.dir, 'run');
    let runId = '';
    let signals = 0;
    let cli: ReturnType<typeof runCli> | undefined;
    const result = (cli = runCli(['run', PIPELINE], {
      dataDir,
      env: planted,
      onStderr: (text) => {
        runId ||= /Run (\S+) \(/.exec(text)?.[1] ?? '';
        // Once the run is under way (its first task reported), plant both errors, one at a time.
        if (runId && signals < 2 && /\[data\]|unexpected error \(unhandledRejection\)/.test(text)) {
          signals += 1;
          process.kill(cli!.pid()!, 'SIGUSR2');
        }
      },
    }));
    const ended = await result;
    expect(signals).toBe(2);
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).toMatch(
      /unexpected error \(unhandledRejection\)[^\n]*\nError: planted rejection\n\s+at /,
    );
    expect(ended.stderr).toMatch(
      /unexpected error \(uncaughtException\)[^\n]*\nError: planted exception\n\s+at /,
    );
    const db = openDatabase(join(dataDir, 'registry.sqlite'));
    try {
      const runs = new SqliteRunStore(db);
      const run = runs.getRun(runId);
      expect(run.status).toBe('done');
      const logged = run.tasks.flatMap((t) => runs.getLogs(t.id)).filter((line) => line.level === 'error');
      expect(logged.map((line) => /planted (rejection|exception)/.exec(line.message)?.[0])).toEqual(
        expect.arrayContaining(['planted rejection', 'planted exception']),
      );
    } finally {
      db.close();
    }
  }, 120_000);

  it('`distillery serve` records a planted unhandled rejection and keeps serving', async () => {
    const serve = await startServe(join(tmp.dir, 'serve'), { env: planted });
    try {
      const recorded = new Promise<void>((resolve) =>
        serve.child.stderr!.on('data', () => {
          if (/planted rejection\n\s+at /.test(serve.stderr())) resolve();
        }),
      );
      serve.child.kill('SIGUSR2');
      await Promise.race([
        recorded,
        serve.exited.then(() => Promise.reject(new Error(`serve exited:\n${serve.stderr()}`))),
      ]);
      const res = await fetch(`${serve.origin}/api/catalog.list`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${serve.token}` },
        body: '{}',
      });
      expect(res.status).toBe(200);
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect((await serve.exited).code).toBe(0);
  }, 60_000);
});
