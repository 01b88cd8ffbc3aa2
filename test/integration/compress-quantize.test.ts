/**
 * The quantize op on a model trained on real MNIST, checked by an independent reader: the exports
 * are fetched over HTTP by stock `tf.loadLayersModel`, which dequantizes them itself. uint8 keeps
 * accuracy within 1 point of float32 at ≤ 30% of the size; uint16 and float16 at half; a pruned
 * model's zeros survive quantization.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExporter } from '../../main/export/exporter';
import { initBackend } from '../../main/worker/backend';
import { readDataset, toFloat } from '../../main/worker/data/dataset-file';
import { loadModel } from '../../main/worker/models/model-file';
import { pruneOp, quantizeOp } from '../helpers/ops';
import { opContext, trainedMlp, writeMnistSplits } from '../helpers/compress-fixtures';

let root: string;
let dataset: string;
let trained: string;
let server: Server;
let baseUrl: string;

function serve(): Promise<void> {
  server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(file);
      response
        .writeHead(200, {
          'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        })
        .end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'distillery-quantize-'));
  dataset = writeMnistSplits(join(root, 'mnist'), { train: 2000, test: 1000 });
  trained = await trainedMlp(root, 'base', dataset, { hidden: [128, 64], epochs: 3 });
  await serve();
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

function inputs(model = trained) {
  return {
    model: { kind: 'model' as const, path: model },
    dataset: { kind: 'dataset' as const, path: dataset },
  };
}

/** Exports a model dir with the tfjs exporter; returns the export's folder name and weight bytes. */
async function exportModel(modelDir: string, name: string): Promise<number> {
  const { files } = await getExporter('tfjs').export(modelDir, join(root, name));
  return files
    .filter((f) => f.endsWith('.bin'))
    .reduce((sum, f) => sum + statSync(join(root, name, f)).size, 0);
}

/** Loads an export with stock tfjs over HTTP and scores it on the test split. */
async function stockAccuracy(name: string): Promise<{ accuracy: number; model: tf.LayersModel }> {
  const model = await tf.loadLayersModel(`${baseUrl}/${name}/model.json`);
  const test = readDataset(dataset, ['test']).splits.test!;
  const accuracy = tf.tidy(() => {
    const probabilities = model.predict(tf.tensor4d(toFloat(test.x), [test.count, 28, 28, 1])) as tf.Tensor;
    const correct = tf.equal(tf.argMax(probabilities, -1), tf.tensor1d(test.y, 'int32'));
    return tf.mean(tf.cast(correct, 'float32')).dataSync()[0]!;
  });
  return { accuracy, model };
}

describe('quantize op', () => {
  it('uint8: stock tfjs loads the export, accuracy within 1 point of float32, size ≤ 30%', async () => {
    const ctx = opContext(root, 'q8', { dtype: 'uint8' }, inputs());
    const summary = await quantizeOp(ctx);
    const floatBytes = await exportModel(trained, 'float-export');
    const uint8Bytes = await exportModel(ctx.artifacts[0]!.path, 'uint8-export');
    const json = JSON.parse(
      readFileSync(join(root, 'uint8-export', 'model.json'), 'utf8'),
    ) as tf.io.ModelJSON;
    for (const spec of json.weightsManifest[0]!.weights) {
      expect(spec.quantization).toMatchObject({
        dtype: 'uint8',
        scale: expect.any(Number),
        min: expect.any(Number),
      });
    }
    const float = await stockAccuracy('float-export');
    const uint8 = await stockAccuracy('uint8-export');
    console.log(
      `uint8: ${floatBytes} → ${uint8Bytes} bytes (${((100 * uint8Bytes) / floatBytes).toFixed(1)}%), ` +
        `accuracy ${float.accuracy.toFixed(4)} → ${uint8.accuracy.toFixed(4)}, max weight error ${String(summary.max_weight_error)}`,
    );
    expect(uint8Bytes).toBeLessThanOrEqual(0.3 * floatBytes);
    expect(Math.abs(uint8.accuracy - float.accuracy)).toBeLessThanOrEqual(0.01);
    // The op's own report agrees with the independent reader.
    expect(summary.accuracy).toBeCloseTo(uint8.accuracy, 6);
    expect(summary.accuracy_float).toBeCloseTo(float.accuracy, 6);
    expect(summary.size_bytes).toBe(uint8Bytes);
    expect(summary.size_bytes_float).toBe(floatBytes);
    expect(ctx.artifacts[0]!.meta).toMatchObject({
      sizeBytes: uint8Bytes,
      quantization: { dtype: 'uint8', granularity: 'per-tensor' },
    });
    for (const name of [
      'accuracy',
      'accuracy_float',
      'size_bytes',
      'max_weight_error',
      'compression_ratio',
    ]) {
      expect(ctx.series(name), name).toHaveLength(1);
    }
    float.model.dispose();
    uint8.model.dispose();
  }, 60_000);

  it('uint16 and float16 halve the size and keep predictions', async () => {
    const floatBytes = await exportModel(trained, 'float-export-2');
    const float = await stockAccuracy('float-export-2');
    for (const dtype of ['uint16', 'float16'] as const) {
      const ctx = opContext(root, `q-${dtype}`, { dtype }, inputs());
      const summary = await quantizeOp(ctx);
      const bytes = await exportModel(ctx.artifacts[0]!.path, `${dtype}-export`);
      expect(bytes).toBe(floatBytes / 2);
      const loaded = await stockAccuracy(`${dtype}-export`);
      expect(Math.abs(loaded.accuracy - float.accuracy)).toBeLessThanOrEqual(0.002);
      expect(summary.max_weight_error as number).toBeLessThan(1e-3);
      loaded.model.dispose();
    }
    float.model.dispose();
  }, 60_000);

  it('a pruned model quantized to uint8 keeps its zeros exactly', async () => {
    const prune = opContext(
      root,
      'pruned',
      { pruningSchedule: 'one-shot', sparsity: 0.8, epochs: 0 },
      inputs(),
    );
    await pruneOp(prune);
    const nonZeroBefore = prune.artifacts[0]!.meta.nonZeroParams as number;
    const ctx = opContext(root, 'q8-pruned', { dtype: 'uint8' }, inputs(prune.artifacts[0]!.path));
    await quantizeOp(ctx);
    expect(ctx.artifacts[0]!.meta.nonZeroParams).toBeLessThanOrEqual(nonZeroBefore);
    expect(ctx.artifacts[0]!.meta.nonZeroParams as number).toBeGreaterThan(nonZeroBefore * 0.95);
    // Position by position: every pruned weight is still exactly zero after dequantization.
    const pruned = await loadModel(prune.artifacts[0]!.path);
    const quantized = await loadModel(ctx.artifacts[0]!.path);
    pruned.model.weights.forEach((weight, i) => {
      const before = weight.read().dataSync();
      const after = quantized.model.weights[i]!.read().dataSync();
      before.forEach((v, j) => {
        if (v === 0) expect(after[j]).toBe(0);
      });
    });
    pruned.model.dispose();
    quantized.model.dispose();
  }, 60_000);
});
