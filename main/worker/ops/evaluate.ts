/**
 * `evaluate`: scores a classifier on one split of a dataset and measures what deployment cares
 * about — accuracy, loss, confusion matrix, parameter counts, exported size, latency, throughput.
 * Everything goes to `evaluation.json` in the task directory and into the task summary.
 *
 * TensorFlow.js exports are dense: a pruned model's zeros are stored like any other weight, so its
 * `size_bytes` does not shrink. `sparse_size_bytes` is what a sparse encoding (a bitmask of the
 * non-zero positions plus their values at the stored width, per tensor) would need instead.
 *
 * `runtime`: `tfjs` scores in TensorFlow.js on the worker's backend; `onnxruntime` exports the
 * model to ONNX (int8 QDQ for a quantized model, opened with its weight dequantization folded at
 * load: onnx-runtime.ts) and scores that in ONNX Runtime (CPU, one thread); `both` does both, reports the ONNX figures as `onnx_*` metrics beside the tfjs ones,
 * and how far the two runtimes' probabilities are apart. The main figures (accuracy, loss,
 * confusion matrix, latency) are the tfjs ones unless only ONNX Runtime ran.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DistilleryError, errors } from '../../base/errors';
import { getExporter } from '../../export/exporter';
import { readLayersModel } from '../../export/layers-model';
import { buildOnnxModel } from '../../export/onnx';
import { OnnxRuntimeModel } from '../../export/onnx-runtime';
import { readQuantizedWeights } from '../../export/quantized-weights';
import type { ParamsOf } from '../../nodes/define';
import type { EvaluationRuntime, evaluateNode } from '../../nodes/evaluate';
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

/** What scoring in ONNX Runtime measured (`runtime` onnxruntime or both). */
export interface OnnxEvaluation {
  accuracy: number;
  loss: number;
  confusionMatrix: number[][];
  /** Mean single-example latency in ONNX Runtime; null when latencySamples is 0. */
  latencyMs: number | null;
  throughput: number;
  /** Bytes of model.onnx. */
  sizeBytes: number;
  /** Whether the export is int8 QDQ (a quantized model) and the bits of its weights. */
  quantized: boolean;
  bits: number | null;
  /** max |p_tfjs − p_onnx| over every probability; null unless both runtimes ran. */
  maxAbsDifference: number | null;
  /** Fraction of examples given the same class by both runtimes; null unless both ran. */
  agreement: number | null;
  runtime: string;
}

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
  /** Where the main figures come from: the tfjs backend's name, or `onnxruntime`. */
  backend: string;
  runtime: EvaluationRuntime;
  /** ONNX Runtime's figures, when it ran. */
  onnxruntime?: OnnxEvaluation;
}

/** Predicted probabilities of examples start … start + n − 1, [n, classes] row-major. */
type Predict = (start: number, n: number) => Float32Array | Promise<Float32Array>;

/** What one runtime measured on the split. */
interface Scores {
  accuracy: number;
  loss: number;
  confusionMatrix: number[][];
  latencyMs: number | null;
  throughput: number;
  probabilities: Float32Array;
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

/**
 * Scores one runtime: batches of `batchSize` for accuracy, loss and throughput, then
 * `latencySamples` single-example predictions; progress counts from `progressOffset` of `total`.
 */
async function score(
  ctx: OpContext,
  predict: Predict,
  split: { count: number; y: Int32Array },
  numClasses: number,
  params: { batchSize: number; latencySamples: number },
  datasetPath: string,
  progress: { offset: number; total: number },
): Promise<Scores> {
  const { count } = split;
  // Warm-up, so that neither measurement pays for kernel set-up.
  await predict(0, Math.min(params.batchSize, count));
  for (let i = 0; i < WARMUP_RUNS; i++) await predict(i % count, 1);

  const confusionMatrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  const probabilities = new Float32Array(count * numClasses);
  let lossSum = 0;
  let correct = 0;
  let predictSeconds = 0;
  for (let start = 0; start < count; start += params.batchSize) {
    ctx.throwIfCancelled();
    const n = Math.min(params.batchSize, count - start);
    const began = performance.now();
    const batch = await predict(start, n);
    predictSeconds += (performance.now() - began) / 1000;
    probabilities.set(batch.subarray(0, n * numClasses), start * numClasses);
    for (let i = 0; i < n; i++) {
      const label = split.y[start + i]!;
      if (label < 0 || label >= numClasses) {
        throw errors.datasetInvalid(datasetPath, `labels in [0, ${numClasses})`, label);
      }
      let predicted = 0;
      for (let c = 1; c < numClasses; c++) {
        if (batch[i * numClasses + c]! > batch[i * numClasses + predicted]!) predicted = c;
      }
      const p = Math.min(1, Math.max(EPSILON, batch[i * numClasses + label]!));
      lossSum -= Math.log(p);
      if (predicted === label) correct++;
      confusionMatrix[label]![predicted]!++;
    }
    ctx.progress(progress.offset + start + n, progress.total);
  }

  let latencyTotal = 0;
  for (let i = 0; i < params.latencySamples; i++) {
    if (i % 50 === 0) ctx.throwIfCancelled();
    const began = performance.now();
    await predict(i % count, 1);
    latencyTotal += performance.now() - began;
  }
  ctx.progress(progress.offset + count + params.latencySamples, progress.total);
  return {
    accuracy: correct / count,
    loss: lossSum / count,
    confusionMatrix,
    latencyMs: params.latencySamples > 0 ? latencyTotal / params.latencySamples : null,
    throughput: predictSeconds > 0 ? count / predictSeconds : 0,
    probabilities,
  };
}

/** How far two runtimes' probabilities are apart: the largest difference and the argmax agreement. */
function compareProbabilities(
  a: Float32Array,
  b: Float32Array,
  numClasses: number,
): { maxAbsDifference: number; agreement: number } {
  let maxAbsDifference = 0;
  let same = 0;
  const count = a.length / numClasses;
  for (let i = 0; i < count; i++) {
    let predictedA = 0;
    let predictedB = 0;
    for (let c = 0; c < numClasses; c++) {
      const k = i * numClasses + c;
      maxAbsDifference = Math.max(maxAbsDifference, Math.abs(a[k]! - b[k]!));
      if (a[k]! > a[i * numClasses + predictedA]!) predictedA = c;
      if (b[k]! > b[i * numClasses + predictedB]!) predictedB = c;
    }
    if (predictedA === predictedB) same++;
  }
  return { maxAbsDifference, agreement: count > 0 ? same / count : 0 };
}

/** Scores the model on `model` against one split of `dataset`; see the file comment. */
export async function evaluate(ctx: OpContext, params: ParamsOf<typeof evaluateNode>): Promise<OpSummary> {
  const modelRef = requireInput(ctx, 'model', 'model');
  const datasetRef = requireInput(ctx, 'dataset', 'dataset');
  const manifest = readDatasetManifest(datasetRef.path);
  requireSplit(ctx.nodeId, manifest, params.split);
  const { model, meta } = await loadModel(modelRef.path);
  let onnx: OnnxRuntimeModel | undefined;
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
    const useTfjs = params.runtime !== 'onnxruntime';
    const useOnnx = params.runtime !== 'tfjs';
    const runs = (useTfjs ? 1 : 0) + (useOnnx ? 1 : 0);
    const perRun = count + params.latencySamples;
    const total = runs * perRun;

    let tfjsScores: Scores | undefined;
    if (useTfjs) {
      const predict: Predict = (start, n) => {
        const input = tf.tensor(x.subarray(start * size, (start + n) * size), batchShape(n), 'float32');
        const output = model.predict(input) as tf.Tensor;
        const values = output.dataSync() as Float32Array;
        input.dispose();
        output.dispose();
        return values;
      };
      tfjsScores = await score(ctx, predict, split, numClasses, params, datasetRef.path, {
        offset: 0,
        total,
      });
    }

    let onnxEvaluation: OnnxEvaluation | undefined;
    let onnxScores: Scores | undefined;
    if (useOnnx) {
      const quantized = readQuantizedWeights(modelRef.path);
      const { bytes, summary } = buildOnnxModel(
        await readLayersModel(modelRef.path),
        quantized ? { quantized } : {},
      );
      // Weights are int8 but activations float: fold the dequantization once, as a deployment should.
      onnx = await OnnxRuntimeModel.load(bytes, { foldWeightDequantization: summary.quantized });
      const session = onnx;
      const predict: Predict = (start, n) =>
        session.predict(x.slice(start * size, (start + n) * size), batchShape(n));
      onnxScores = await score(ctx, predict, split, numClasses, params, datasetRef.path, {
        offset: useTfjs ? perRun : 0,
        total,
      });
      const comparison = tfjsScores
        ? compareProbabilities(tfjsScores.probabilities, onnxScores.probabilities, numClasses)
        : undefined;
      onnxEvaluation = {
        accuracy: onnxScores.accuracy,
        loss: onnxScores.loss,
        confusionMatrix: onnxScores.confusionMatrix,
        latencyMs: onnxScores.latencyMs,
        throughput: onnxScores.throughput,
        sizeBytes: bytes.byteLength,
        quantized: summary.quantized,
        bits: summary.bits,
        maxAbsDifference: comparison?.maxAbsDifference ?? null,
        agreement: comparison?.agreement ?? null,
        runtime: `onnxruntime (CPU, 1 thread${summary.quantized ? ', weight dequantization folded at load' : ''})`,
      };
    }
    const main = (tfjsScores ?? onnxScores)!;

    const stats = modelStats(model);
    const { sizeBytes, modelJsonBytes } = await exportedSize(ctx, modelRef.path);
    const evaluation: Evaluation = {
      split: params.split,
      count,
      classNames: manifest.classNames,
      accuracy: main.accuracy,
      loss: main.loss,
      confusionMatrix: main.confusionMatrix,
      perClassAccuracy: main.confusionMatrix.map((row, c) => {
        const inClass = row.reduce((a, b) => a + b, 0);
        return inClass === 0 ? null : row[c]! / inClass;
      }),
      paramCount: stats.paramCount,
      nonZeroParams: stats.nonZeroParams,
      sizeBytes,
      modelJsonBytes,
      sparseSizeBytes: modelSparseSizeBytes(model, readStoredWidths(modelRef.path)),
      latencyMs: main.latencyMs,
      latencySamples: params.latencySamples,
      throughput: main.throughput,
      batchSize: params.batchSize,
      backend: tfjsScores ? ctx.backend.name : 'onnxruntime',
      runtime: params.runtime,
      ...(onnxEvaluation ? { onnxruntime: onnxEvaluation } : {}),
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
    if (onnxEvaluation) {
      scalars.onnx_accuracy = onnxEvaluation.accuracy;
      scalars.onnx_loss = onnxEvaluation.loss;
      scalars.onnx_size_bytes = onnxEvaluation.sizeBytes;
      scalars.onnx_throughput = onnxEvaluation.throughput;
      if (onnxEvaluation.latencyMs !== null) scalars.onnx_latency_ms = onnxEvaluation.latencyMs;
      if (onnxEvaluation.maxAbsDifference !== null)
        scalars.onnx_max_abs_difference = onnxEvaluation.maxAbsDifference;
      if (onnxEvaluation.agreement !== null) scalars.onnx_agreement = onnxEvaluation.agreement;
    }
    for (const [name, value] of Object.entries(scalars)) ctx.metric(name, value, { step: 0 });
    ctx.flush();
    writeFileSync(join(ctx.taskDir, EVALUATION_FILE), JSON.stringify(evaluation, null, 2));
    const describe = (label: string, scores: Scores): string =>
      `${label} accuracy ${(scores.accuracy * 100).toFixed(2)}%, loss ${scores.loss.toFixed(4)}` +
      (scores.latencyMs !== null ? `, ${scores.latencyMs.toFixed(3)} ms per example` : '');
    ctx.log(
      `${params.split}, ${count} examples: ` +
        [
          ...(tfjsScores ? [describe(`tfjs (${ctx.backend.name})`, tfjsScores)] : []),
          ...(onnxScores && onnxEvaluation
            ? [
                describe(
                  `onnxruntime (${onnxEvaluation.quantized ? `int8 QDQ, ${String(onnxEvaluation.bits)}-bit weights` : 'float32'})`,
                  onnxScores,
                ) +
                  (onnxEvaluation.maxAbsDifference !== null
                    ? `, max |Δp| vs tfjs ${onnxEvaluation.maxAbsDifference.toExponential(2)}`
                    : ''),
              ]
            : []),
        ].join('; '),
    );
    return { ...evaluation };
  } finally {
    model.dispose();
    await onnx?.release();
  }
}
