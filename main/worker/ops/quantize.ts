/**
 * The `quantize` op: post-training weight quantization of the input classifier to float16, uint16
 * or uint8 (compress/quantization.ts), written as a layers-format model whose weights manifest
 * carries the quantization, so that stock `tf.loadLayersModel` dequantizes it. The quantized model
 * is loaded back the same way and scored against the float model on one split of the dataset.
 *
 * Metrics (step 0): `accuracy_float`, `accuracy` (dequantized), `accuracy_delta`, `size_bytes_float`,
 * `size_bytes`, `compression_ratio`, `max_weight_error`, `mean_abs_weight_error`.
 */
import { join } from 'node:path';
import type { ParamsOf } from '../../nodes/define';
import type { quantizeNode } from '../../nodes/quantize';
import {
  accuracyOf,
  checkFitsDataset,
  loadClassifier,
  modelInputShape,
  requireSplit,
} from '../compress/op-support';
import { quantizeModelDirectory } from '../compress/quantization';
import { requireInput, type OpContext, type OpSummary } from '../context';
import { readDataset, readDatasetManifest } from '../data/dataset-file';
import { loadModel, MODEL_DIR } from '../models/model-file';
import { modelStats } from '../models/stats';

/** Quantizes, reloads and scores; see the file comment. */
export async function quantize(ctx: OpContext, params: ParamsOf<typeof quantizeNode>): Promise<OpSummary> {
  const modelRef = requireInput(ctx, 'model', 'model');
  const datasetDir = requireInput(ctx, 'dataset', 'dataset').path;
  const manifest = readDatasetManifest(datasetDir);
  requireSplit(ctx.nodeId, manifest, params.split);
  const split = readDataset(datasetDir, [params.split]).splits[params.split]!;

  const float = await loadClassifier(ctx, 'model');
  let accuracyFloat: number;
  let inputShape: number[];
  try {
    checkFitsDataset(ctx.nodeId, 'model', float.model, manifest);
    inputShape = modelInputShape(float.model, manifest.inputShape);
    accuracyFloat = accuracyOf(float.model, split, inputShape, params.batchSize);
  } finally {
    float.model.dispose();
  }
  ctx.throwIfCancelled();

  const outDir = join(ctx.taskDir, MODEL_DIR);
  const report = quantizeModelDirectory(modelRef.path, outDir, params.dtype, { nudgeZero: params.nudgeZero });
  // Loaded through tfjs's own manifest decoding: exactly what a stock loader computes.
  const quantized = await loadModel(outDir);
  try {
    const accuracy = accuracyOf(quantized.model, split, inputShape, params.batchSize);
    const stats = modelStats(quantized.model);
    const figures: Record<string, number> = {
      accuracy_float: accuracyFloat,
      accuracy,
      accuracy_delta: accuracy - accuracyFloat,
      size_bytes_float: report.bytesBefore,
      size_bytes: report.bytesAfter,
      compression_ratio: report.bytesAfter > 0 ? report.bytesBefore / report.bytesAfter : 0,
      max_weight_error: report.maxWeightError,
      mean_abs_weight_error: report.meanAbsError,
    };
    for (const [name, value] of Object.entries(figures)) ctx.metric(name, value, { step: 0 });
    ctx.log(
      `${params.dtype} per tensor: ${report.bytesBefore} → ${report.bytesAfter} bytes (${(figures.compression_ratio ?? 0).toFixed(2)}×), ` +
        `accuracy on ${split.count} ${params.split} examples ${(accuracyFloat * 100).toFixed(2)}% → ${(accuracy * 100).toFixed(2)}%, ` +
        `max weight error ${report.maxWeightError.toExponential(3)}`,
    );
    const { weights, ...summary } = report;
    ctx.artifact('model', 'model', outDir, {
      ...stats,
      // What is stored: the quantized bytes, not 4 per parameter.
      sizeBytes: report.bytesAfter,
      kind: quantized.meta.kind,
      architecture: quantized.meta.architecture,
      inputShape: quantized.meta.inputShape,
      numClasses: quantized.meta.numClasses,
      trained: quantized.meta.trained,
      quantization: {
        ...summary,
        weights: weights.map(({ name, scale, min, maxError }) => ({ name, scale, min, maxError })),
      },
      metrics: { accuracy, accuracy_float: accuracyFloat },
    });
    ctx.flush();
    return {
      ...figures,
      dtype: params.dtype,
      granularity: report.granularity,
      split: params.split,
      count: split.count,
    };
  } finally {
    quantized.model.dispose();
  }
}
