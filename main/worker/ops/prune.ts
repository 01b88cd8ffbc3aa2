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
import { DistilleryError, errors } from '../../base/errors';
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
  type AgpSchedule,
  type PrunableWeight,
  type PruneScope,
} from '../compress/masks';
import { initialMasks, masksFromState, masksToState, reportSparsity } from '../compress/mask-schedule';
import {
  accuracyOf,
  checkFitsDataset,
  fineTuneSetup,
  loadClassifier,
  measureLatencyMs,
  modelInputShape,
  placeOpError,
  readTrainingData,
} from '../compress/op-support';
import { describePlan, planStructuredPruning, rewireModel, type NormCriterion } from '../compress/structured';
import type { Op, OpContext, OpSummary } from '../context';
import { takeFirst } from '../data/splits';
import { saveModel, type ModelMeta } from '../models/model-file';
import { modelStats } from '../models/stats';
import { sparseCrossEntropyLoss } from '../train/classifier-loss';
import { runTrainingLoop, type LoopResult } from '../train/loop';
import { describeLayers, MODEL_DIR } from './model';
import { readParams } from './train';

export type PruneMethod = 'magnitude' | 'n:m' | 'structured';
export type PruneSchedule = 'one-shot' | 'agp';

export interface PruneParams {
  method: PruneMethod;
  sparsity: number;
  scope: PruneScope;
  pruningSchedule: PruneSchedule;
  initialSparsity: number;
  startStep: number;
  pruneEvery: number;
  /** 0 = 75% of the fine-tuning steps after startStep. */
  rampSteps: number;
  n: number;
  m: number;
  criterion: NormCriterion;
  excludeLayers: string[];
  /** Fine-tuning epochs; 0 = prune only. */
  epochs: number;
}

export const PRUNE_DEFAULTS: PruneParams = {
  method: 'magnitude',
  sparsity: 0.9,
  scope: 'global',
  pruningSchedule: 'agp',
  initialSparsity: 0,
  startStep: 0,
  pruneEvery: 50,
  rampSteps: 0,
  n: 2,
  m: 4,
  criterion: 'l1',
  excludeLayers: [],
  epochs: 2,
};

/** Examples scored for accuracy before / right after pruning when there is no validation split. */
const EVALUATION_LIMIT = 2000;
function choiceOf<T extends string>(
  raw: Record<string, unknown>,
  name: string,
  allowed: readonly T[],
  fallback: T,
  problems: DistilleryError[],
  nodeId: string,
): T {
  const value = raw[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  problems.push(errors.paramInvalid(nodeId, name, `one of ${allowed.join(', ')}`, value));
  return fallback;
}

function numberOf(
  raw: Record<string, unknown>,
  name: string,
  fallback: number,
  rule: { min: number; below?: number; integer?: boolean },
  problems: DistilleryError[],
  nodeId: string,
): number {
  const value = raw[name];
  if (value === undefined || value === null) return fallback;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    value >= rule.min &&
    (rule.below === undefined || value < rule.below);
  if (ok) return value;
  const expected = `${rule.integer ? 'an integer' : 'a number'} ≥ ${rule.min}${rule.below !== undefined ? ` and < ${rule.below}` : ''}`;
  problems.push(errors.paramOutOfRange(nodeId, name, expected, value));
  return fallback;
}

/** Reads and checks the pruning params (the optimiser's are read by `train`'s readParams). */
export function readPruneParams(raw: Record<string, unknown>, nodeId: string): PruneParams {
  const problems: DistilleryError[] = [];
  const d = PRUNE_DEFAULTS;
  const params: PruneParams = {
    method: choiceOf(raw, 'method', ['magnitude', 'n:m', 'structured'] as const, d.method, problems, nodeId),
    sparsity: numberOf(raw, 'sparsity', d.sparsity, { min: 0, below: 1 }, problems, nodeId),
    scope: choiceOf(raw, 'scope', ['global', 'layer'] as const, d.scope, problems, nodeId),
    pruningSchedule: choiceOf(
      raw,
      'pruningSchedule',
      ['one-shot', 'agp'] as const,
      d.pruningSchedule,
      problems,
      nodeId,
    ),
    initialSparsity: numberOf(
      raw,
      'initialSparsity',
      d.initialSparsity,
      { min: 0, below: 1 },
      problems,
      nodeId,
    ),
    startStep: numberOf(raw, 'startStep', d.startStep, { min: 0, integer: true }, problems, nodeId),
    pruneEvery: numberOf(raw, 'pruneEvery', d.pruneEvery, { min: 1, integer: true }, problems, nodeId),
    rampSteps: numberOf(raw, 'rampSteps', d.rampSteps, { min: 0, integer: true }, problems, nodeId),
    n: numberOf(raw, 'n', d.n, { min: 1, integer: true }, problems, nodeId),
    m: numberOf(raw, 'm', d.m, { min: 1, integer: true }, problems, nodeId),
    criterion: choiceOf(raw, 'criterion', ['l1', 'l2'] as const, d.criterion, problems, nodeId),
    excludeLayers: d.excludeLayers,
    epochs: numberOf(raw, 'epochs', d.epochs, { min: 0, integer: true }, problems, nodeId),
  };
  const exclude = raw.excludeLayers;
  if (exclude !== undefined && exclude !== null) {
    if (Array.isArray(exclude) && exclude.every((name) => typeof name === 'string'))
      params.excludeLayers = exclude;
    else problems.push(errors.paramInvalid(nodeId, 'excludeLayers', 'a list of layer names', exclude));
  }
  if (params.method === 'n:m' && params.n > params.m) {
    problems.push(errors.paramInvalid(nodeId, 'n', `≤ m (${params.m})`, params.n));
  }
  if (params.pruningSchedule === 'agp' && params.method !== 'magnitude') {
    problems.push(
      errors.paramInvalid(
        nodeId,
        'pruningSchedule',
        '"one-shot" for n:m and structured pruning',
        params.pruningSchedule,
      ),
    );
  }
  if (params.pruningSchedule === 'agp' && params.method === 'magnitude') {
    if (params.initialSparsity > params.sparsity) {
      problems.push(
        errors.paramInvalid(
          nodeId,
          'initialSparsity',
          `≤ sparsity (${params.sparsity})`,
          params.initialSparsity,
        ),
      );
    }
    if (params.epochs === 0)
      problems.push(errors.paramInvalid(nodeId, 'epochs', '≥ 1 with the AGP schedule', 0));
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) {
    throw new DistilleryError('PARAM_INVALID', problems.map((p) => p.message).join('; '), {
      nodeId,
      issues: problems.map((p) => p.details),
    });
  }
  return params;
}

/** Prunes and fine-tunes; see the file comment. */
export const pruneOp: Op = async (ctx: OpContext): Promise<OpSummary> => {
  try {
    return await prune(ctx);
  } catch (error) {
    throw placeOpError(ctx.nodeId, error);
  }
};

async function prune(ctx: OpContext): Promise<OpSummary> {
  const train = readParams(
    { ...ctx.params, epochs: Math.max(1, Number(ctx.params.epochs ?? 1) || 1) },
    ctx.nodeId,
  );
  const params = readPruneParams(ctx.params, ctx.nodeId);
  const data = readTrainingData(ctx, train.validationSplit);
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
    const outMeta: ModelMeta = { ...meta, trained: true };

    let weights: PrunableWeight[] = [];
    let masks: Uint8Array[] = [];
    let agp: AgpSchedule | undefined;
    const stepsPerEpoch = Math.ceil(data.train.count / train.batchSize);
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

    const accuracyPruned = accuracyOf(model, scoring, inputShape);
    ctx.metric('accuracy_pruned', accuracyPruned, { step: 0 });
    summary.accuracyPruned = accuracyPruned;
    ctx.log(
      `Accuracy on ${scoring.count} ${data.validation ? 'validation' : 'training'} examples: ${(accuracyBefore * 100).toFixed(2)}% before pruning, ` +
        `${(accuracyPruned * 100).toFixed(2)}% right after${params.pruningSchedule === 'agp' && params.method === 'magnitude' ? ` (at s_i = ${params.initialSparsity})` : ''}`,
    );

    let result: LoopResult | undefined;
    if (params.epochs > 0) {
      const { optimizer, config } = fineTuneSetup({ ...train, epochs: params.epochs }, stepsPerEpoch);
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
