/**
 * The quantize op on a model trained on real MNIST, checked by an independent reader: the exports
 * are fetched over HTTP by stock `tf.loadLayersModel`, which dequantizes them itself. uint8 keeps
 * accuracy within 1 point of float32 at ≤ 30% of the size; uint16 and float16 at half; a pruned
 * model's zeros survive quantization. 4-bit and quantization-aware (QAT) models are also read by
 * ONNX Runtime from their int8 QDQ export, which must score as the tfjs model does; a cancelled QAT
 * run resumes to the same integers; param combinations the formats cannot hold are refused.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExporter } from '../../main/export/exporter';
import { readQuantizedWeights } from '../../main/export/quantized-weights';
import { initBackend } from '../../main/worker/backend';
import { dequantizePerChannel } from '../../main/worker/compress/per-channel';
import { listCheckpoints } from '../../main/worker/train/checkpoint';
import { readDataset, toFloat } from '../../main/worker/data/dataset-file';
import { loadModel } from '../../main/worker/models/model-file';
import { pruneOp, quantizeOp } from '../helpers/ops';
import { opContext, trainedMlp, writeMnistSplits } from '../helpers/compress-fixtures';
import { correctCount, runOnnxRuntime } from '../helpers/onnx-reader';
import { TrainTestContext } from '../helpers/train-fixtures';

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

/** Accuracy of a model directory's ONNX export in ONNX Runtime on the test split. */
async function onnxAccuracy(modelDir: string, name: string): Promise<number> {
  await getExporter('onnx').export(modelDir, join(root, name));
  const test = readDataset(dataset, ['test']).splits.test!;
  const { output } = await runOnnxRuntime(join(root, name, 'model.onnx'), {
    input: { data: toFloat(test.x), shape: [test.count, 28, 28, 1] },
  });
  return correctCount(output, test.y, 10) / test.count;
}

describe('quantize op: 4 bits and quantization-aware training', () => {
  let ptq4Accuracy = 0;

  it('bits 4: the kernels sit on the per-channel 4-bit grid in both formats, and ONNX Runtime scores like tfjs', async () => {
    const ctx = opContext(root, 'q4', { bits: 4 }, inputs());
    const summary = await quantizeOp(ctx);
    const dir = ctx.artifacts[0]!.path;
    const integers = readQuantizedWeights(dir)!;
    expect([...integers.keys()]).toEqual(['hidden_1/kernel', 'hidden_2/kernel', 'output/kernel']);
    const quantized = await loadModel(dir);
    for (const weight of quantized.model.weights) {
      const entry = integers.get(weight.originalName);
      if (!entry) continue;
      expect(entry.values.every((q) => q >= -7 && q <= 7)).toBe(true);
      // What stock tfjs loads is the dequantized 4-bit value, up to the uint8 manifest's rounding.
      const grid = dequantizePerChannel(entry);
      const loaded = weight.read().dataSync();
      let worst = 0;
      grid.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - loaded[i]!))));
      expect(worst).toBeLessThanOrEqual((summary.max_weight_error as number) * 1.0001);
    }
    quantized.model.dispose();
    const onnx = await onnxAccuracy(dir, 'q4-onnx');
    console.log(
      `4-bit post-training: tfjs ${String(summary.accuracy)}, ONNX Runtime ${onnx}, float ${String(summary.accuracy_float)}`,
    );
    expect(Math.abs(onnx - (summary.accuracy as number))).toBeLessThanOrEqual(0.005);
    expect(ctx.artifacts[0]!.meta).toMatchObject({
      quantization: {
        mode: 'post-training',
        bits: 4,
        integers: { granularity: 'per-channel', bits: 4, storage: 'int8' },
      },
    });
    ptq4Accuracy = summary.accuracy as number;
  }, 60_000);

  it('qat: fine-tunes with fake-quantized kernels, then both exports hold the learned 4-bit kernels', async () => {
    const ctx = opContext(root, 'qat4', { mode: 'qat', bits: 4, epochs: 1, learningRate: 5e-4 }, inputs());
    const summary = await quantizeOp(ctx);
    expect(summary).toMatchObject({ mode: 'qat', bits: 4, epochs: 1, steps: Math.ceil(2000 / 64) });
    expect(ctx.series('loss')).toHaveLength(Math.ceil(2000 / 64));
    const dir = ctx.artifacts[0]!.path;
    const stock = await stockAccuracy(await exportModel(dir, 'qat4-export').then(() => 'qat4-export'));
    expect(stock.accuracy).toBeCloseTo(summary.accuracy as number, 6);
    stock.model.dispose();
    const onnx = await onnxAccuracy(dir, 'qat4-onnx');
    console.log(
      `4-bit QAT: tfjs ${String(summary.accuracy)}, ONNX Runtime ${onnx} (post-training 4-bit: ${ptq4Accuracy})`,
    );
    expect(Math.abs(onnx - (summary.accuracy as number))).toBeLessThanOrEqual(0.005);
    expect(summary.accuracy as number).toBeGreaterThanOrEqual(ptq4Accuracy - 0.005);
  }, 90_000);

  it('a cancelled QAT run resumes from its checkpoint to the same integers and weights', async () => {
    const params = {
      mode: 'qat',
      bits: 4,
      epochs: 2,
      fineTuneBatchSize: 100,
      checkpointEvery: 7,
      learningRate: 5e-4,
    };
    const reference = opContext(root, 'qat-ref', params, inputs());
    await quantizeOp(reference);
    const interrupted = new TrainTestContext(
      {
        taskDir: join(root, 'qat-resume'),
        nodeId: 'qat-resume',
        seed: 7,
        params,
        inputs: { ...reference.inputs },
      },
      { onProgress: (done, _total, ctx) => done === 16 && ctx.cancel() },
    );
    await expect(quantizeOp(interrupted)).rejects.toMatchObject({ code: 'TASK_CANCELLED' });
    const checkpoint = listCheckpoints(interrupted.taskDir).at(-1)!;
    expect(checkpoint.step).toBe(16);
    const resumed = new TrainTestContext({
      taskDir: interrupted.taskDir,
      nodeId: 'qat-resume',
      seed: 7,
      params,
      inputs: { ...reference.inputs },
      resumeFrom: checkpoint.path,
    });
    const summary = await quantizeOp(resumed);
    expect(summary.resumedFromStep).toBe(16);
    for (const file of ['quantized-weights.bin', 'weights.bin']) {
      const a = readFileSync(join(reference.artifacts[0]!.path, file));
      const b = readFileSync(join(resumed.artifacts[0]!.path, file));
      expect(b.equals(a), file).toBe(true);
    }
  }, 90_000);

  it('refuses bits other than 8 or 4, and 4 bits or QAT with a non-integer dtype, naming the param', async () => {
    for (const [params, param] of [
      [{ bits: 5 }, 'bits'],
      [{ bits: 4, dtype: 'float16' }, 'dtype'],
      [{ mode: 'qat', dtype: 'uint16' }, 'dtype'],
    ] as const) {
      const ctx = opContext(root, 'refused', params, inputs());
      await expect(quantizeOp(ctx)).rejects.toMatchObject({ details: { nodeId: 'refused', param } });
    }
  });
});
