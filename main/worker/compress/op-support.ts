/**
 * What the classifier ops (train, distill, prune, quantize, evaluate) share: reading their inputs
 * with errors that name the node and port, and batched prediction, accuracy and latency
 * measurements.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DistilleryError, errors } from '../../base/errors';
import { requireInput, type OpContext } from '../context';
import {
  exampleSize,
  readDataset,
  toFloat,
  type DatasetManifest,
  type SplitData,
  type SplitName,
} from '../data/dataset-file';
import { carveValidation } from '../data/splits';
import { loadModel, type ModelMeta } from '../models/model-file';

/** Shape of one example as the model takes it: the model's own input shape when fully known. */
export function modelInputShape(model: tf.LayersModel, fallback: number[]): number[] {
  const shape = model.inputs[0]?.shape.slice(1);
  if (shape && shape.length > 0 && shape.every((d): d is number => typeof d === 'number' && d > 0))
    return shape;
  return fallback;
}

/** Number of classes a classifier outputs (its last dimension). */
export function outputClasses(model: tf.LayersModel): number | undefined {
  const last = model.outputs[0]?.shape.at(-1);
  return typeof last === 'number' ? last : undefined;
}

function incompatible(
  nodeId: string,
  port: string,
  message: string,
  expected: string,
  received: unknown,
): DistilleryError {
  return new DistilleryError('INCOMPATIBLE_INPUTS', `Node "${nodeId}": ${message}`, {
    nodeId,
    port,
    expected,
    received,
  });
}

/** Throws INCOMPATIBLE_INPUTS naming the node, port and param when the dataset lacks `split`. */
export function requireSplit(nodeId: string, manifest: DatasetManifest, split: SplitName): void {
  if (manifest.splits[split]) return;
  const available = Object.keys(manifest.splits);
  throw new DistilleryError(
    'INCOMPATIBLE_INPUTS',
    `Node "${nodeId}": the dataset has no "${split}" split (it has ${available.join(', ') || 'none'})`,
    {
      nodeId,
      port: 'dataset',
      param: 'split',
      expected: `a "${split}" split`,
      received: available,
    },
  );
}

/**
 * Loads the classifier on `port`. A diffusion model that reaches a classifier port (its meta says
 * so) is refused with PORT_TYPE_MISMATCH naming the node and port.
 */
export async function loadClassifier(
  ctx: OpContext,
  port: string,
): Promise<{ model: tf.LayersModel; meta: ModelMeta }> {
  const ref = requireInput(ctx, port, 'model');
  if (ref.meta.kind !== undefined && ref.meta.kind !== 'classifier') {
    throw new DistilleryError(
      'PORT_TYPE_MISMATCH',
      `Node "${ctx.nodeId}": input "${port}" takes a classifier, got a ${JSON.stringify(ref.meta.kind)} model`,
      { nodeId: ctx.nodeId, port, expected: 'classifier', received: ref.meta.kind },
    );
  }
  const loaded = await loadModel(ref.path);
  if (loaded.meta.kind !== 'classifier') {
    loaded.model.dispose();
    throw new DistilleryError(
      'PORT_TYPE_MISMATCH',
      `Node "${ctx.nodeId}": input "${port}" takes a classifier, got a ${loaded.meta.kind} model`,
      { nodeId: ctx.nodeId, port, expected: 'classifier', received: loaded.meta.kind },
    );
  }
  return loaded;
}

/** Refuses a model whose input size or class count does not fit the dataset. */
export function checkFitsDataset(
  nodeId: string,
  port: string,
  model: tf.LayersModel,
  manifest: DatasetManifest,
): void {
  const inputShape = modelInputShape(model, manifest.inputShape);
  const size = inputShape.reduce((a, b) => a * b, 1);
  if (size !== exampleSize(manifest)) {
    throw incompatible(
      nodeId,
      port,
      `the model on "${port}" takes inputs of shape [${inputShape.join(', ')}], the dataset has [${manifest.inputShape.join(', ')}]`,
      `${size} values per example`,
      exampleSize(manifest),
    );
  }
  const classes = outputClasses(model);
  if (classes !== undefined && classes !== manifest.numClasses) {
    throw incompatible(
      nodeId,
      port,
      `the model on "${port}" has ${classes} outputs, the dataset ${manifest.numClasses} classes`,
      `${manifest.numClasses} outputs`,
      classes,
    );
  }
}

/** The train split (and validation: the dataset's own, or carved off the end of train). */
export function readTrainingData(
  ctx: OpContext,
  validationSplit: number,
): { manifest: DatasetManifest; train: SplitData; validation?: SplitData } {
  const datasetDir = requireInput(ctx, 'dataset', 'dataset').path;
  const dataset = readDataset(datasetDir, ['train', 'validation']);
  let train = dataset.splits.train;
  let validation = dataset.splits.validation;
  if (!train || train.count === 0) {
    throw errors.datasetInvalid(
      join(datasetDir, 'dataset.json'),
      'a non-empty train split',
      train?.count ?? 'none',
    );
  }
  if (!validation && validationSplit > 0) {
    const carved = carveValidation(train, validationSplit);
    train = carved.train;
    validation = carved.validation;
  }
  return { manifest: dataset.manifest, train, ...(validation ? { validation } : {}) };
}

/** Examples [start, end) of a split as a float tensor shaped for the model. */
export function batchTensor(split: SplitData, start: number, end: number, inputShape: number[]): tf.Tensor {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const values = toFloat(split.x.subarray(start * size, end * size));
  return tf.tensor(values, [end - start, ...inputShape], 'float32');
}

/**
 * Runs `model` over a split in batches and hands each batch's output (what `model.predict` gives,
 * or what `forward` computes) with its first index to `visit`.
 */
export function forEachBatch(
  split: SplitData,
  inputShape: number[],
  forward: (x: tf.Tensor) => tf.Tensor,
  visit: (output: Float32Array, start: number, count: number) => void,
  batchSize = 256,
): void {
  for (let start = 0; start < split.count; start += batchSize) {
    const end = Math.min(split.count, start + batchSize);
    const output = tf.tidy(() => forward(batchTensor(split, start, end, inputShape)));
    const values = output.dataSync() as Float32Array;
    output.dispose();
    visit(values, start, end - start);
  }
}

/** Top-1 class of each example. */
export function predictClasses(
  model: tf.LayersModel,
  split: SplitData,
  inputShape: number[],
  batchSize = 256,
): Int32Array {
  const classes = new Int32Array(split.count);
  forEachBatch(
    split,
    inputShape,
    (x) => tf.argMax(model.predict(x) as tf.Tensor, -1),
    (values, start, count) => {
      for (let i = 0; i < count; i++) classes[start + i] = values[i]!;
    },
    batchSize,
  );
  return classes;
}

/** Fraction of examples whose top-1 class is the label. */
export function accuracyOf(
  model: tf.LayersModel,
  split: SplitData,
  inputShape: number[],
  batchSize = 256,
): number {
  if (split.count === 0) return 0;
  const predicted = predictClasses(model, split, inputShape, batchSize);
  let correct = 0;
  for (let i = 0; i < split.count; i++) if (predicted[i] === split.y[i]) correct++;
  return correct / split.count;
}

/** Fraction of positions where two predictions agree. */
export function agreement(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length > 0 ? same / a.length : 0;
}

/**
 * Median milliseconds of one `model.predict` of a batch of `batch` zeros (download included), after
 * warm-up: what a caller of the model waits.
 */
export function measureLatencyMs(model: tf.LayersModel, inputShape: number[], batch = 1, runs = 30): number {
  const x = tf.zeros([batch, ...inputShape]);
  try {
    for (let i = 0; i < 3; i++) (model.predict(x) as tf.Tensor).dispose();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const began = performance.now();
      const y = model.predict(x) as tf.Tensor;
      y.dataSync();
      times.push(performance.now() - began);
      y.dispose();
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  } finally {
    x.dispose();
  }
}
