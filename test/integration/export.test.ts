/**
 * The `tfjs` exporter, checked by an independent reader: stock `tf.loadLayersModel` fetching the
 * exported files over HTTP (Node's global fetch) must give exactly the original predictions.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { getExporter, listExporters } from '../../main/export/exporter';
import { productVersion } from '../../main/export/producer';
import { modelCnnNode } from '../../main/nodes/model-cnn';
import { buildCnn } from '../../main/worker/models/cnn';
import { buildMlp } from '../../main/worker/models/mlp';
import { saveModel, type ModelMeta } from '../../main/worker/models/model-file';
import { exportOp, resolvedParams } from '../helpers/ops';
import { FakeOpContext } from '../helpers/fake-op-context';

const require = createRequire(import.meta.url);
const packageVersion = (
  JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }
).version;

let root: string;
let server: Server;
let baseUrl: string;
const requested: string[] = [];

/** Serves files below `root` read-only; records every path asked for. */
function startServer(): Promise<void> {
  server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    requested.push(path);
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(file);
      const type = file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
      response.writeHead(200, { 'content-type': type, 'content-length': body.byteLength }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve();
    });
  });
}

function meta(architecture: string, inputShape: number[], numClasses: number): ModelMeta {
  return {
    format: 1,
    kind: 'classifier',
    architecture,
    architectureParams: {},
    inputShape,
    numClasses,
    classNames: Array.from({ length: numClasses }, (_, i) => `class ${i}`),
    trained: false,
  };
}

async function rejection(promise: Promise<unknown>): Promise<DistilleryError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DistilleryError);
  return error as DistilleryError;
}

/** Exports `model`, loads it back over HTTP and compares predictions bit for bit. */
async function roundTrip(name: string, model: tf.LayersModel, shardSizeBytes: number): Promise<string> {
  const modelDir = join(root, `${name}-model`);
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  await saveModel(model, modelDir, meta(name, inputShape, 10));
  const outDir = join(root, `${name}-export`);
  const { files } = await getExporter('tfjs').export(modelDir, outDir, { shardSizeBytes });

  const weightBytes = model.countParams() * 4;
  const shardCount = Math.ceil(weightBytes / shardSizeBytes);
  expect(shardCount).toBeGreaterThan(2);
  const shards = Array.from({ length: shardCount }, (_, i) => `group1-shard${i + 1}of${shardCount}.bin`);
  expect(files).toEqual([...shards, 'distillery.json', 'model.json']);
  expect(readdirSync(outDir).sort()).toEqual([...files].sort());
  const sizes = shards.map((shard) => statSync(join(outDir, shard)).size);
  expect(sizes.every((size) => size <= shardSizeBytes)).toBe(true);
  expect(sizes.slice(0, -1).every((size) => size === shardSizeBytes)).toBe(true);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(weightBytes);

  const json = JSON.parse(readFileSync(join(outDir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  expect(json.generatedBy).toBe(`Distillery ${packageVersion}`);
  expect(json.convertedBy).toBe(`Distillery ${packageVersion}`);
  expect(json.format).toBe('layers-model');
  expect(json.weightsManifest).toHaveLength(1);
  expect(json.weightsManifest[0]!.paths).toEqual(shards);
  expect(json.weightsManifest[0]!.weights.map((w) => w.name)).toEqual(
    model.weights.map((w) => w.originalName),
  );
  expect(JSON.parse(readFileSync(join(outDir, 'distillery.json'), 'utf8'))).toMatchObject({
    architecture: name,
  });

  requested.length = 0;
  const loaded = await tf.loadLayersModel(`${baseUrl}/${name}-export/model.json`);
  expect(requested).toEqual([
    `/${name}-export/model.json`,
    ...shards.map((shard) => `/${name}-export/${shard}`),
  ]);
  expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
  const x = tf.randomUniform([8, ...inputShape], 0, 1, 'float32', 11);
  const expected = model.predict(x) as tf.Tensor;
  const actual = loaded.predict(x) as tf.Tensor;
  expect(actual.shape).toEqual([8, 10]);
  expect(actual.dataSync()).toEqual(expected.dataSync());
  tf.dispose([x, expected, actual]);
  loaded.dispose();
  return outDir;
}

beforeAll(async () => {
  setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + sep);
  expect(await tf.setBackend('wasm')).toBe(true);
  root = mkdtempSync(join(tmpdir(), 'distillery-export-'));
  await startServer();
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  rmSync(root, { recursive: true, force: true });
});

describe('tfjs exporter', () => {
  it('is registered under its format', () => {
    expect(listExporters()).toContainEqual({ format: 'tfjs', title: expect.any(String) as string });
    expect(productVersion()).toBe(packageVersion);
  });

  it('exports an MLP in shards that stock loadLayersModel reads back identically', async () => {
    const model = buildMlp({
      inputShape: [28, 28, 1],
      numClasses: 10,
      hidden: [64],
      activation: 'relu',
      dropout: 0.1,
      seed: 5,
    });
    await roundTrip('mlp', model, 64 * 1024);
    model.dispose();
  });

  it('exports a CNN in shards that stock loadLayersModel reads back identically', async () => {
    const model = buildCnn({
      ...resolvedParams(modelCnnNode),
      inputShape: [28, 28, 1],
      numClasses: 10,
      filters: [4, 8],
      dense: [32],
      activation: 'elu',
      seed: 6,
    });
    await roundTrip('cnn', model, 16 * 1024);
    model.dispose();
  });

  it('removes shards of an earlier export to the same directory', async () => {
    const model = buildMlp({
      inputShape: [8],
      numClasses: 10,
      hidden: [64],
      activation: 'relu',
      dropout: 0,
      seed: 1,
    });
    const modelDir = join(root, 'reexport-model');
    await saveModel(model, modelDir, meta('mlp', [8], 10));
    model.dispose();
    const outDir = join(root, 'reexport');
    const first = await getExporter('tfjs').export(modelDir, outDir, { shardSizeBytes: 1024 });
    expect(first.files.filter((f) => f.endsWith('.bin')).length).toBeGreaterThan(1);
    const second = await getExporter('tfjs').export(modelDir, outDir);
    expect(second.files).toEqual(['group1-shard1of1.bin', 'distillery.json', 'model.json']);
    expect(readdirSync(outDir).sort()).toEqual([...second.files].sort());
  });

  it('refuses an unknown format, listing the known ones', () => {
    let error: unknown;
    try {
      getExporter('onnx-nope');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DistilleryError);
    expect((error as DistilleryError).code).toBe('EXPORT_FORMAT_UNKNOWN');
    expect((error as DistilleryError).details).toMatchObject({ param: 'format', received: 'onnx-nope' });
    expect((error as DistilleryError).details.expected).toContain('tfjs');
  });

  it('refuses a file as the output directory, and a model directory that is not one', async () => {
    const modelDir = join(root, 'mlp-model');
    const file = join(root, 'not-a-directory');
    writeFileSync(file, 'x');
    const error = await rejection(getExporter('tfjs').export(modelDir, file));
    expect(error.code).toBe('EXPORT_TARGET_INVALID');
    expect(error.details).toMatchObject({ param: 'outDir', received: file });
    const below = await rejection(getExporter('tfjs').export(modelDir, join(file, 'sub')));
    expect(below.code).toBe('EXPORT_TARGET_INVALID');

    mkdirSync(join(root, 'empty-model'));
    expect(
      (await rejection(getExporter('tfjs').export(join(root, 'empty-model'), join(root, 'x')))).code,
    ).toBe('MODEL_INVALID');
    const small = await rejection(
      getExporter('tfjs').export(modelDir, join(root, 'y'), { shardSizeBytes: 10 }),
    );
    expect(small.details).toMatchObject({ param: 'shardSizeBytes', received: 10 });
  });
});

describe('export op', () => {
  it('exports the upstream model and reports files and bytes', async () => {
    const taskDir = join(root, 'export-task');
    const outDir = join(root, 'op-export');
    const ctx = new FakeOpContext({
      taskDir,
      nodeId: 'export-1',
      params: { format: 'tfjs', outDir, shardSizeBytes: 100_000 },
      inputs: { model: { kind: 'model', path: join(root, 'mlp-model'), meta: {} } },
    });
    const summary = await exportOp(ctx);
    // 50,890 float32 weights = 203,560 bytes → 3 shards of at most 100,000.
    expect(summary.files).toEqual([
      'group1-shard1of3.bin',
      'group1-shard2of3.bin',
      'group1-shard3of3.bin',
      'distillery.json',
      'model.json',
    ]);
    expect(summary.outDir).toBe(outDir);
    const bytes = (summary.files as string[]).reduce((s, f) => s + statSync(join(outDir, f)).size, 0);
    expect(summary.bytes).toBe(bytes);
    const loaded = await tf.loadLayersModel(`${baseUrl}/op-export/model.json`);
    expect(loaded.countParams()).toBe(50_890);
    loaded.dispose();
  });

  it('names the node in its errors', async () => {
    const model = { kind: 'model' as const, path: join(root, 'mlp-model'), meta: {} };
    const run = (nodeId: string, params: Record<string, unknown>) =>
      rejection(
        exportOp(new FakeOpContext({ taskDir: join(root, nodeId), nodeId, params, inputs: { model } })),
      );
    const relative = await run('export-relative', { outDir: 'relative/dir' });
    expect(relative.code).toBe('PARAM_INVALID');
    expect(relative.details).toMatchObject({ nodeId: 'export-relative', param: 'outDir' });
    const format = await run('export-format', { format: 'nope', outDir: join(root, 'z') });
    expect(format.code).toBe('PARAM_INVALID_CHOICE');
    expect(format.details).toMatchObject({ nodeId: 'export-format', param: 'format' });
    expect(format.message).toContain('export-format');
    const missing = await run('export-no-dir', {});
    expect(missing.details).toMatchObject({ nodeId: 'export-no-dir', param: 'outDir' });
  });
});
