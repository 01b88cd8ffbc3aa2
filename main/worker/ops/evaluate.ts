/**
 * `evaluate`: scores a classifier on one split of a dataset and measures what deployment cares
 * about — accuracy, loss, confusion matrix, parameter counts, exported size, latency, throughput.
 * Everything goes to `evaluation.json` in the task directory and into the task summary.
 *
 * TensorFlow.js exports are dense: a pruned model's zeros are stored like any other weight, so its
 * `size_bytes` does not shrink. `sparse_size_bytes` is what a sparse encoding (a bitmask of the
 * non-zero positions plus their values at the stored width, per tensor) would need instead.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DistilleryError, errors } from '../../base/errors';
import { getExporter } from '../../export/exporter';
import type { ParamsOf } from '../../nodes/define';
import type { evaluateNode } from '../../nodes/evaluate';
import { requireSplit } from '../compress/op-support';
import { readStoredWidths } from '../compress/quantization';
import { modelSparseSizeBytes } from '../compress/sparse-size';
import { requireInput, type OpContext, type OpSummary } from '../context';
import { exampleSize, readDataset, readDatasetManifest, toFloat, type SplitName } from '../data/dataset-file';
import { loadModel } from '../models/model-file';
import { modelStats } from '../models/stats';

export const EVALUATION_FILE = 'evaluation.json';

/** Predictions run, untimed, before latency is measured (kernel set-up, caches). */
const WARMUP_RUNS = 5;
/** Keras' epsilon: probabilities are clipped to [ε, 1] before the log. */
const EPSILON = 1e-7;

export interface Evaluation {
  split: SplitName;
  count: number;
  classNames: string[];
  accuracy: number;
  /** Mean categorical cross-entropy of the predicted probabilities. */
  loss: number;
  /** confusionMatrix[trueClass][predictedClass] = count. */
  confusionMatrix: number[][];
  /** Accuracy within each true class; null for classes absent from the split. */
  perClassAccuracy: Array<number | null>;
  paramCount: number;
  nonZeroParams: number;
  /** Bytes of the weight shards of the `tfjs` export. */
  sizeBytes: number;
  /** Bytes of that export's model.json. */
  modelJsonBytes: number;
  /**
   * Bytes a sparse encoding of the weights would need (bitmask + non-zero values at their stored
   * width, dense where smaller; compress/sparse-size.ts). The tfjs export itself stays dense.
   */
  sparseSizeBytes: number;
  /** Mean milliseconds per batch-1 prediction (upload, predict, download), after warm-up. */
  /** Mean single-example latency; null when latencySamples is 0. */
  latencyMs: number | null;
  latencySamples: number;
  /** Examples per second when predicting in batches of `batchSize`. */
  throughput: number;
  batchSize: number;
  backend: string;
}

/** Exports with the `tfjs` exporter into a scratch directory and measures the files. */
async function exportedSize(
  ctx: OpContext,
  modelDir: string,
): Promise<{ sizeBytes: number; modelJsonBytes: number }> {
  const scratch = mkdtempSync(join(ctx.taskDir, 'export-'));
  try {
    const { files } = await getExporter('tfjs').export(modelDir, scratch);
    let sizeBytes = 0;
    let modelJsonBytes = 0;
    for (const file of files) {
      const size = statSync(join(scratch, file)).size;
      if (file.endsWith('.bin')) sizeBytes += size;
      else if (file === 'model.json') modelJsonBytes = size;
    }
    return { sizeBytes, modelJsonBytes };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Scores the model on `model` against one split of `dataset`; see the file comment. */
export async function evaluate(ctx: OpContext, params: ParamsOf<typeof evaluateNode>): Promise<OpSummary> {
  const modelRef = requireInput(ctx, 'model', 'model');
  const datasetRef = requireInput(ctx, 'dataset', 'dataset');
  const manifest = readDatasetManifest(datasetRef.path);
  requireSplit(ctx.nodeId, manifest, params.split);
  const { model, meta } = await loadModel(modelRef.path);
  try {
    if (exampleSize(meta) !== exampleSize(manifest) || meta.numClasses !== manifest.numClasses) {
      throw new DistilleryError(
        'INCOMPATIBLE_INPUTS',
        `Node "${ctx.nodeId}": the model takes ${JSON.stringify(meta.inputShape)} → ${meta.numClasses} classes, ` +
          `the dataset has ${JSON.stringify(manifest.inputShape)} → ${manifest.numClasses} classes`,
        {
          nodeId: ctx.nodeId,
          port: 'dataset',
          expected: `examples of shape ${JSON.stringify(meta.inputShape)} with ${meta.numClasses} classes`,
          received: { inputShape: manifest.inputShape, numClasses: manifest.numClasses },
        },
      );
    }

    const split = readDataset(datasetRef.path, [params.split]).splits[params.split]!;
    const { count } = split;
    const size = exampleSize(manifest);
    const numClasses = manifest.numClasses;
    const x = toFloat(split.x);
    const batchShape = (n: number): number[] => [n, ...meta.inputShape];
    const predict = (start: number, n: number): Float32Array => {
      const input = tf.tensor(x.subarray(start * size, (start + n) * size), batchShape(n), 'float32');
      const output = model.predict(input) as tf.Tensor;
      const values = output.dataSync() as Float32Array;
      input.dispose();
      output.dispose();
      return values;
    };
    const total = count + params.latencySamples;

    // Warm-up, so that neither measurement pays for kernel set-up.
    predict(0, Math.min(params.batchSize, count));
    for (let i = 0; i < WARMUP_RUNS; i++) predict(i % count, 1);

    const confusionMatrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
    let lossSum = 0;
    let correct = 0;
    let predictSeconds = 0;
    for (let start = 0; start < count; start += params.batchSize) {
      ctx.throwIfCancelled();
      const n = Math.min(params.batchSize, count - start);
      const began = performance.now();
      const probabilities = predict(start, n);
      predictSeconds += (performance.now() - began) / 1000;
      for (let i = 0; i < n; i++) {
        const label = split.y[start + i]!;
        if (label < 0 || label >= numClasses) {
          throw errors.datasetInvalid(datasetRef.path, `labels in [0, ${numClasses})`, label);
        }
        let predicted = 0;
        for (let c = 1; c < numClasses; c++) {
          if (probabilities[i * numClasses + c]! > probabilities[i * numClasses + predicted]!) predicted = c;
        }
        const p = Math.min(1, Math.max(EPSILON, probabilities[i * numClasses + label]!));
        lossSum -= Math.log(p);
        if (predicted === label) correct++;
        confusionMatrix[label]![predicted]!++;
      }
      ctx.progress(start + n, total);
    }

    let latencyTotal = 0;
    for (let i = 0; i < params.latencySamples; i++) {
      if (i % 50 === 0) ctx.throwIfCancelled();
      const began = performance.now();
      predict(i % count, 1);
      latencyTotal += performance.now() - began;
    }
    const latencyMs = params.latencySamples > 0 ? latencyTotal / params.latencySamples : null;
    ctx.progress(total, total);

    const stats = modelStats(model);
    const { sizeBytes, modelJsonBytes } = await exportedSize(ctx, modelRef.path);
    const evaluation: Evaluation = {
      split: params.split,
      count,
      classNames: manifest.classNames,
      accuracy: correct / count,
      loss: lossSum / count,
      confusionMatrix,
      perClassAccuracy: confusionMatrix.map((row, c) => {
        const inClass = row.reduce((a, b) => a + b, 0);
        return inClass === 0 ? null : row[c]! / inClass;
      }),
      paramCount: stats.paramCount,
      nonZeroParams: stats.nonZeroParams,
      sizeBytes,
      modelJsonBytes,
      sparseSizeBytes: modelSparseSizeBytes(model, readStoredWidths(modelRef.path)),
      latencyMs,
      latencySamples: params.latencySamples,
      throughput: predictSeconds > 0 ? count / predictSeconds : 0,
      batchSize: params.batchSize,
      backend: ctx.backend.name,
    };

    const scalars: Record<string, number> = {
      accuracy: evaluation.accuracy,
      loss: evaluation.loss,
      param_count: evaluation.paramCount,
      nonzero_params: evaluation.nonZeroParams,
      size_bytes: evaluation.sizeBytes,
      sparse_size_bytes: evaluation.sparseSizeBytes,
      throughput: evaluation.throughput,
    };
    if (evaluation.latencyMs !== null) scalars.latency_ms = evaluation.latencyMs;
    for (const [name, value] of Object.entries(scalars)) ctx.metric(name, value, { step: 0 });
    ctx.flush();
    writeFileSync(join(ctx.taskDir, EVALUATION_FILE), JSON.stringify(evaluation, null, 2));
    ctx.log(
      `${params.split}: accuracy ${(evaluation.accuracy * 100).toFixed(2)}% on ${count} examples, ` +
        `loss ${evaluation.loss.toFixed(4)}` +
        (evaluation.latencyMs !== null ? `, ${evaluation.latencyMs.toFixed(3)} ms per example` : ''),
    );
    return { ...evaluation };
  } finally {
    model.dispose();
  }
}
