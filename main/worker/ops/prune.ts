/**
 * The `prune` op: prunes the input classifier, fine-tunes it on the dataset with the shared
 * training loop (checkpoints, cancel, exact resume: the masks are part of every checkpoint), and
 * saves it as the task's `model` artifact.
 *
 * - `magnitude`: zeroes the smallest-magnitude kernel weights of Dense and Conv2D layers, ranked
 *   over all layers (`global`) or per layer (`layer`); `one-shot` prunes to the target before
 *   fine-tuning, `agp` ramps sparsity with Zhu & Gupta's cubic schedule while fine-tuning. After
 *   every optimiser step the masks are applied again, so pruned weights are exactly zero throughout.
 * - `n:m`: in every group of M consecutive input weights of a kernel, the N largest stay (kernels
 *   whose input count is not a multiple of M are left dense, with a warning).
 * - `structured`: removes the units / filters with the lowest L1 or L2 norm and rewires the next
 *   layer (compress/structured.ts); fine-tuning then trains the smaller model.
 *
 * Metrics: the loop's, plus `sparsity` (zeros among the prunable weights) after every pruning step
 * and every epoch, `sparsity/<layer>` per layer at the end, `accuracy_before` / `accuracy_pruned`
 * (before pruning, and right after it without fine-tuning) on the validation split or the first
 * 2,000 training examples, and for structured pruning parameter counts and latency before / after.
 * Per-layer sparsity also goes into the artifact's meta (the registry keeps it).
 */
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import { preprocessingOfDataset } from '../../export/preprocessing';
import type { ParamsOf } from '../../nodes/define';
import type { pruneNode } from '../../nodes/prune';
import {
  agpSparsity,
  applyMasks,
  isAgpPruningStep,
  layerSparsity,
  magnitudeMasks,
  MaskTensors,
  overallSparsity,
  prunableWeights,
  readValues,
  writeValues,
  type AgpSchedule,
  type PrunableWeight,
} from '../compress/masks';
import { initialMasks, masksFromState, masksToState, reportSparsity } from '../compress/mask-schedule';
import {
  accuracyOf,
  checkFitsDataset,
  loadClassifier,
  measureLatencyMs,
  modelInputShape,
  readTrainingData,
} from '../compress/op-support';
import { describePlan, planStructuredPruning, rewireModel } from '../compress/structured';
import { requireInput, type OpContext, type OpSummary } from '../context';
import { takeFirst } from '../data/splits';
import { MODEL_DIR, saveModel, type ModelMeta } from '../models/model-file';
import { describeLayers, modelStats } from '../models/stats';
import { sparseCrossEntropyLoss } from '../train/classifier-loss';
import { fineTuneSetup } from '../train/config';
import { runTrainingLoop, type LoopResult } from '../train/loop';

/** Examples scored for accuracy before / right after pruning when there is no validation split. */
const EVALUATION_LIMIT = 2000;

/** Prunes and fine-tunes; see the file comment. */
export async function prune(ctx: OpContext, params: ParamsOf<typeof pruneNode>): Promise<OpSummary> {
  const data = readTrainingData(ctx, params.validationSplit);
  const { manifest } = data;
  const loaded = await loadClassifier(ctx, 'model');
  let model: tf.LayersModel = loaded.model;
  const meta = loaded.meta;
  try {
    checkFitsDataset(ctx.nodeId, 'model', model, manifest);
    const inputShape = modelInputShape(model, manifest.inputShape);
    const scoring = data.validation ?? takeFirst(data.train, EVALUATION_LIMIT);
    const accuracyBefore = accuracyOf(model, scoring, inputShape);
    ctx.metric('accuracy_before', accuracyBefore, { step: 0 });
    const statsBefore = modelStats(model);
    const summary: OpSummary = {
      method: params.method,
      accuracyBefore,
      paramCountBefore: statsBefore.paramCount,
    };
    const preprocessing = preprocessingOfDataset({
      ...manifest,
      artifactMeta: requireInput(ctx, 'dataset', 'dataset').meta,
    });
    const outMeta: ModelMeta = { ...meta, trained: true, preprocessing };

    let weights: PrunableWeight[] = [];
    let masks: Uint8Array[] = [];
    let agp: AgpSchedule | undefined;
    const stepsPerEpoch = Math.ceil(data.train.count / params.batchSize);
    const totalSteps = params.epochs * stepsPerEpoch;

    if (params.method === 'structured') {
      const plan = planStructuredPruning(model, params.sparsity, params.criterion, params.excludeLayers);
      if (plan.layers.length === 0) {
        ctx.log('No hidden Dense or Conv2D layer to prune: the model is unchanged', 'warn');
      }
      const latencyBefore = measureLatencyMs(model, inputShape, 64);
      const rewired = await rewireModel(model, plan);
      for (const warning of rewired.warnings) ctx.log(warning, 'warn');
      model.dispose();
      model = rewired.model;
      const latencyAfter = measureLatencyMs(model, inputShape, 64);
      const layers = describePlan(plan);
      const paramCountAfter = model.countParams();
      for (const entry of layers) ctx.log(`${entry.layer}: ${entry.before} → ${entry.after} units`);
      ctx.log(
        `Structured pruning (${params.criterion}): ${statsBefore.paramCount} → ${paramCountAfter} parameters, ` +
          `latency (batch 64) ${latencyBefore.toFixed(2)} → ${latencyAfter.toFixed(2)} ms`,
      );
      ctx.metric('param_count_before', statsBefore.paramCount, { step: 0 });
      ctx.metric('param_count_after', paramCountAfter, { step: 0 });
      ctx.metric('latency_ms_before', latencyBefore, { step: 0 });
      ctx.metric('latency_ms_after', latencyAfter, { step: 0 });
      Object.assign(summary, {
        layers,
        paramCountAfter,
        latencyMsBefore: latencyBefore,
        latencyMsAfter: latencyAfter,
      });
      outMeta.architectureParams = resizedArchitectureParams(meta, model);
      outMeta.structuredPruning = { criterion: params.criterion, fraction: params.sparsity, layers };
    } else {
      weights = prunableWeights(model, params.excludeLayers);
      if (weights.length === 0) {
        throw new DistilleryError(
          'MODEL_INVALID',
          `Node "${ctx.nodeId}": the model has no Dense or Conv2D kernel to prune`,
          {
            nodeId: ctx.nodeId,
            port: 'model',
            expected: 'a Dense or Conv2D layer not in excludeLayers',
            received: describeLayers(model).map((layer) => layer.type),
          },
        );
      }
      const initial = initialMasks(ctx, params, weights, readValues(weights), totalSteps);
      masks = initial.masks;
      agp = initial.agp;
      applyMasks(weights, masks);
      reportSparsity(ctx, layerSparsity(weights), 0);
    }

    let accuracyPruned: number;
    if (agp) {
      // AGP prunes while fine-tuning, so nothing (or only s_i) is pruned yet: report what pruning
      // to the target costs before any fine-tuning, then put the weights back.
      const original = readValues(weights);
      applyMasks(weights, magnitudeMasks(original, params.sparsity, params.scope));
      accuracyPruned = accuracyOf(model, scoring, inputShape);
      writeValues(weights, original);
      applyMasks(weights, masks);
    } else {
      accuracyPruned = accuracyOf(model, scoring, inputShape);
    }
    ctx.metric('accuracy_pruned', accuracyPruned, { step: 0 });
    summary.accuracyPruned = accuracyPruned;
    ctx.log(
      `Accuracy on ${scoring.count} ${data.validation ? 'validation' : 'training'} examples: ${(accuracyBefore * 100).toFixed(2)}% before pruning, ` +
        `${(accuracyPruned * 100).toFixed(2)}% pruned to the target before fine-tuning`,
    );

    let result: LoopResult | undefined;
    if (params.epochs > 0) {
      const { optimizer, config } = fineTuneSetup(params, stepsPerEpoch);
      const maskTensors = new MaskTensors(weights);
      maskTensors.set(masks);
      const repruneAt = (step: number): void => {
        if (!agp) return;
        const target = agpSparsity(step, agp);
        masks = magnitudeMasks(readValues(weights), target, params.scope);
        ctx.metric('target_sparsity', target, { step });
      };
      try {
        result = await runTrainingLoop({
          ctx,
          model,
          train: data.train,
          ...(data.validation ? { validation: data.validation } : {}),
          inputShape,
          lossFn: sparseCrossEntropyLoss(model),
          optimizer,
          config,
          hooks: {
            afterStep: (info) => {
              if (weights.length === 0) return;
              // Pruned weights moved during the step: zero them again (before re-ranking).
              maskTensors.apply();
              if (agp !== undefined && isAgpPruningStep(info.globalStep, agp)) {
                repruneAt(info.globalStep);
                maskTensors.set(masks);
                maskTensors.apply();
                reportSparsity(ctx, layerSparsity(weights), info.globalStep, info.epoch);
              }
            },
            afterEpoch: (record) => {
              if (weights.length > 0)
                reportSparsity(ctx, layerSparsity(weights), record.epoch * stepsPerEpoch, record.epoch);
            },
            saveState: () => masksToState(masks, weights),
            loadState: (arrays) => {
              const restored = masksFromState(arrays, weights.length);
              if (restored) {
                masks = restored;
                maskTensors.set(masks);
                maskTensors.apply();
              }
            },
          },
        });
      } finally {
        optimizer.dispose();
        maskTensors.dispose();
      }
      // A ramp longer than the fine-tuning still ends at the target (without recovery steps).
      if (agp && agp.startStep + agp.rampSteps > totalSteps) {
        masks = magnitudeMasks(readValues(weights), params.sparsity, params.scope);
        applyMasks(weights, masks);
      }
    }

    const layers = weights.length > 0 ? layerSparsity(weights) : [];
    const sparsity = overallSparsity(layers);
    const finalStep = result?.globalStep ?? 0;
    if (weights.length > 0) {
      ctx.metric('sparsity', sparsity, { step: finalStep });
      for (const layer of layers) ctx.metric(`sparsity/${layer.layer}`, layer.sparsity, { step: finalStep });
      outMeta.pruning = {
        method: params.method,
        scope: params.scope,
        pruningSchedule: params.method === 'magnitude' ? params.pruningSchedule : 'one-shot',
        ...(params.method === 'n:m' ? { n: params.n, m: params.m } : { target: params.sparsity }),
        sparsity,
        layers,
      };
      ctx.log(
        `Sparsity ${(sparsity * 100).toFixed(2)}% of ${layers.reduce((s, l) => s + l.total, 0)} kernel weights: ` +
          layers.map((l) => `${l.layer} ${(l.sparsity * 100).toFixed(1)}%`).join(', '),
      );
    }
    const outDir = join(ctx.taskDir, MODEL_DIR);
    await saveModel(model, outDir, outMeta);
    const stats = modelStats(model);
    const final = result?.final;
    const metrics: Record<string, number> = {
      accuracy_before: accuracyBefore,
      accuracy_pruned: accuracyPruned,
    };
    if (weights.length > 0) metrics.sparsity = sparsity;
    for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const) {
      const value = final?.[key];
      if (typeof value === 'number') metrics[key] = value;
    }
    ctx.artifact('model', 'model', outDir, {
      ...stats,
      kind: meta.kind,
      architecture: meta.architecture,
      inputShape: meta.inputShape,
      numClasses: meta.numClasses,
      trained: true,
      ...(outMeta.pruning ? { pruning: outMeta.pruning } : {}),
      ...(outMeta.structuredPruning ? { structuredPruning: outMeta.structuredPruning } : {}),
      metrics,
    });
    ctx.flush();
    return {
      ...summary,
      sparsity: weights.length > 0 ? sparsity : null,
      layerSparsity: layers.map(({ layer, sparsity: s, total, zeros }) => ({
        layer,
        sparsity: s,
        total,
        zeros,
      })),
      paramCount: stats.paramCount,
      nonZeroParams: stats.nonZeroParams,
      epochs: result?.epochsRun ?? 0,
      steps: result?.globalStep ?? 0,
      accuracy: final?.accuracy ?? null,
      valAccuracy: final?.val_accuracy ?? null,
      samplesPerSecond: result ? Math.round(result.samplesPerSecond) : null,
      resumedFromStep: result?.resumedFromStep ?? null,
    };
  } finally {
    model.dispose();
  }
}

/** The architecture params of a rewired mlp / cnn, so the registry shows the new sizes. */
function resizedArchitectureParams(meta: ModelMeta, model: tf.LayersModel): Record<string, unknown> {
  const dense = model.layers
    .filter((layer) => layer.getClassName() === 'Dense' && layer.name !== 'output')
    .map((layer) => layer.getConfig().units as number);
  const filters = model.layers
    .filter((layer) => layer.getClassName() === 'Conv2D')
    .map((layer) => layer.getConfig().filters as number);
  if (meta.architecture === 'mlp') return { ...meta.architectureParams, hidden: dense };
  if (meta.architecture === 'cnn') return { ...meta.architectureParams, filters, dense };
  return meta.architectureParams;
}
