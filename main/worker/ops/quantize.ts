/**
 * The `quantize` op: weight quantization of the input classifier, post-training or
 * quantization-aware, written in two forms that must agree:
 *
 * - the TensorFlow.js layers format, whose weights manifest carries float16, or affine uint16 /
 *   uint8 with one scale per tensor (compress/quantization.ts), so stock `tf.loadLayersModel`
 *   dequantizes it;
 * - with dtype uint8, the kernels' symmetric per-channel integers (8 or 4 bits, one byte each;
 *   compress/per-channel.ts) in quantized-weights.json/.bin, which the ONNX export writes as int8
 *   QDQ. Biases stay float there; the tfjs manifest quantizes them per tensor as before.
 *
 * Which weights each form holds: post-training at 8 bits, the tfjs manifest quantizes the float
 * weights directly (as the tfjs converter does) and the integers are taken from the same float
 * weights. At 4 bits, and after QAT, the kernels are first replaced by their dequantized integers
 * (the values the fake-quantized training used), which the uint8 manifest then stores per tensor:
 * the tfjs model and the ONNX model compute with the same kernels, up to the manifest's rounding.
 *
 * `mode: qat` fine-tunes with the shared training loop (checkpoints, cancel, exact resume) on the
 * dataset's train split, the kernels fake-quantized in every forward pass with straight-through
 * gradients (compress/fake-quant.ts), and quantizes the resulting float weights.
 *
 * Metrics (step 0): `accuracy_float`, `accuracy` (the quantized tfjs model, as stock tfjs loads
 * it), `accuracy_delta`, `size_bytes_float`, `size_bytes`, `compression_ratio`, `max_weight_error`
 * and `mean_abs_weight_error` (the manifest's rounding), and with integers `kernel_max_error`
 * (max |w − q·scale| against the weights they were taken from). qat adds the training loop's.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { writeQuantizedWeights, type PerChannelWeight } from '../../export/quantized-weights';
import type { ParamsOf } from '../../nodes/define';
import type { quantizeNode } from '../../nodes/quantize';
import { FakeQuantizedKernels, quantizeKernels, writeDequantizedKernels } from '../compress/fake-quant';
import {
  accuracyOf,
  checkFitsDataset,
  loadClassifier,
  modelInputShape,
  readTrainingData,
  requireSplit,
} from '../compress/op-support';
import { dequantizePerChannel } from '../compress/per-channel';
import { quantizeModelDirectory } from '../compress/quantization';
import { requireInput, type OpContext, type OpSummary } from '../context';
import { readDataset, readDatasetManifest } from '../data/dataset-file';
import { loadModel, MODEL_DIR, saveModel } from '../models/model-file';
import { modelStats } from '../models/stats';
import { sparseCrossEntropyLoss } from '../train/classifier-loss';
import { fineTuneSetup } from '../train/config';
import { runTrainingLoop, type LoopResult } from '../train/loop';

/** Scratch directory (inside the task directory) for the kernels replaced by their integers. */
const SNAPPED_DIR = 'snapped-model';

type QuantizeParams = ParamsOf<typeof quantizeNode>;

/** Fine-tunes `model` in place with fake-quantized kernels; returns the loop's result and the integers. */
async function quantizationAwareTraining(
  ctx: OpContext,
  model: tf.LayersModel,
  params: QuantizeParams,
  inputShape: number[],
): Promise<{ result: LoopResult; kernels: PerChannelWeight[] }> {
  const data = readTrainingData(ctx, 0);
  const stepsPerEpoch = Math.ceil(data.train.count / params.fineTuneBatchSize);
  const { optimizer, config } = fineTuneSetup(
    { ...params, batchSize: params.fineTuneBatchSize },
    stepsPerEpoch,
  );
  const fake = new FakeQuantizedKernels(model, params.bits);
  try {
    ctx.log(
      `QAT: ${params.epochs} epoch(s) × ${stepsPerEpoch} steps on ${data.train.count} examples, ${params.bits}-bit per-channel ` +
        `fake quantization of ${fake.names.length} kernels (${fake.names.join(', ')}), ${params.optimizer} lr ${params.learningRate}`,
    );
    const result = await runTrainingLoop({
      ctx,
      model,
      train: data.train,
      ...(data.validation ? { validation: data.validation } : {}),
      inputShape,
      lossFn: fake.wrapLoss(sparseCrossEntropyLoss(model)),
      optimizer,
      config,
    });
    return { result, kernels: fake.quantizedKernels() };
  } finally {
    fake.dispose();
    optimizer.dispose();
  }
}

/** Largest |w − q·scale| of the kernels against the model's current weights. */
function kernelError(model: tf.LayersModel, kernels: PerChannelWeight[]): number {
  const byName = new Map(model.weights.map((weight) => [weight.originalName, weight]));
  let max = 0;
  for (const kernel of kernels) {
    const values = byName.get(kernel.name)!.read().dataSync();
    const restored = dequantizePerChannel(kernel);
    for (let i = 0; i < restored.length; i++) max = Math.max(max, Math.abs(values[i]! - restored[i]!));
  }
  return max;
}

/** Quantizes (after QAT when asked), reloads and scores; see the file comment. */
export async function quantize(ctx: OpContext, params: QuantizeParams): Promise<OpSummary> {
  const modelRef = requireInput(ctx, 'model', 'model');
  const datasetDir = requireInput(ctx, 'dataset', 'dataset').path;
  const manifest = readDatasetManifest(datasetDir);
  requireSplit(ctx.nodeId, manifest, params.split);
  const split = readDataset(datasetDir, [params.split]).splits[params.split]!;
  const withIntegers = params.dtype === 'uint8';

  const float = await loadClassifier(ctx, 'model');
  const snappedDir = join(ctx.taskDir, SNAPPED_DIR);
  let accuracyFloat: number;
  let inputShape: number[];
  let kernels: PerChannelWeight[] | undefined;
  let kernelMaxError: number | undefined;
  let training: LoopResult | undefined;
  let source = modelRef.path;
  try {
    checkFitsDataset(ctx.nodeId, 'model', float.model, manifest);
    inputShape = modelInputShape(float.model, manifest.inputShape);
    accuracyFloat = accuracyOf(float.model, split, inputShape, params.batchSize);
    ctx.throwIfCancelled();
    if (params.mode === 'qat') {
      const qat = await quantizationAwareTraining(ctx, float.model, params, inputShape);
      training = qat.result;
      kernels = qat.kernels;
    } else if (withIntegers) {
      kernels = quantizeKernels(float.model, params.bits);
    }
    if (kernels) kernelMaxError = kernelError(float.model, kernels);
    if (kernels && (params.mode === 'qat' || params.bits !== 8)) {
      writeDequantizedKernels(float.model, kernels);
      await saveModel(float.model, snappedDir, { ...float.meta, trained: true });
      source = snappedDir;
    }
  } finally {
    float.model.dispose();
  }
  ctx.throwIfCancelled();

  const outDir = join(ctx.taskDir, MODEL_DIR);
  const integerSummary = kernels
    ? {
        scheme: 'symmetric',
        granularity: 'per-channel',
        bits: params.bits,
        storage: 'int8',
        kernels: kernels.map((kernel) => kernel.name),
      }
    : undefined;
  const report = quantizeModelDirectory(source, outDir, params.dtype, {
    nudgeZero: params.nudgeZero,
    summary: {
      mode: params.mode,
      bits: params.bits,
      ...(integerSummary ? { integers: integerSummary } : {}),
    },
  });
  if (kernels) writeQuantizedWeights(outDir, params.bits, kernels);
  rmSync(snappedDir, { recursive: true, force: true });

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
    if (kernelMaxError !== undefined) figures.kernel_max_error = kernelMaxError;
    const step = training?.globalStep ?? 0;
    for (const [name, value] of Object.entries(figures)) ctx.metric(name, value, { step });
    ctx.log(
      `${params.mode === 'qat' ? `QAT (${training?.epochsRun ?? 0} epochs) then ` : ''}${params.dtype} per tensor` +
        (kernels ? ` + ${params.bits}-bit per-channel integers for ONNX` : '') +
        `: ${report.bytesBefore} → ${report.bytesAfter} bytes (${(figures.compression_ratio ?? 0).toFixed(2)}×), ` +
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
        mode: params.mode,
        bits: params.bits,
        ...(integerSummary ? { integers: integerSummary } : {}),
        weights: weights.map(({ name, scale, min, maxError }) => ({ name, scale, min, maxError })),
      },
      metrics: { accuracy, accuracy_float: accuracyFloat },
    });
    ctx.flush();
    return {
      ...figures,
      mode: params.mode,
      bits: params.bits,
      dtype: params.dtype,
      granularity: report.granularity,
      integerGranularity: kernels ? 'per-channel' : null,
      split: params.split,
      count: split.count,
      epochs: training?.epochsRun ?? 0,
      steps: training?.globalStep ?? 0,
      resumedFromStep: training?.resumedFromStep ?? null,
    };
  } finally {
    quantized.model.dispose();
  }
}
