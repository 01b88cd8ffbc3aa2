/**
 * The `train` op: trains a classifier (input `model`) on a dataset (input `dataset`) with the
 * shared training loop, then saves the trained model to `<taskDir>/model` and registers it as the
 * task's `model` artifact.
 *
 * Loss: sparse softmax cross-entropy computed from the model's pre-softmax logits (see
 * train/classifier-loss.ts for why not from its probabilities). Validation data: the dataset's own
 * validation split, or else the last `validationSplit` of the training split.
 */
import { join } from 'node:path';
import { DistilleryError, errors } from '../../base/errors';
import { modelInputShape, trainingLoopConfig, trainingOptimizer } from '../compress/op-support';
import type { Op, OpContext, OpSummary } from '../context';
import { readDataset, type SplitData } from '../data/dataset-file';
import { carveValidation } from '../data/splits';
import { loadModel, saveModel, type ModelMeta } from '../models/model-file';
import { modelStats } from '../models/stats';
import { sparseCrossEntropyLoss } from '../train/classifier-loss';
import { MONITORS, runTrainingLoop, type Monitor } from '../train/loop';
import { OPTIMIZER_NAMES, type OptimizerName } from '../train/optimizers';
import { SCHEDULE_NAMES, type ScheduleName } from '../train/schedules';
import { MODEL_DIR, nodeError, requireInput } from './model';

/** The train node's parameters after defaults. */
export interface TrainParams {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  learningRate: number;
  /** `momentum` optimiser's μ. */
  momentum: number;
  beta1: number;
  /** β2 of adam/adamw. */
  beta2: number;
  /** β2 of lion (its paper's default 0.99 differs from Adam's 0.999). */
  lionBeta2: number;
  epsilon: number;
  weightDecay: number;
  schedule: ScheduleName;
  warmupSteps: number;
  /** `step` schedule: steps between decays; 0 = one epoch. */
  stepEvery: number;
  stepGamma: number;
  minLearningRate: number;
  validationSplit: number;
  earlyStopping: boolean;
  monitor: Monitor;
  patience: number;
  minDelta: number;
  restoreBest: boolean;
  gradientClip: number;
  checkpointEvery: number;
  shuffle: boolean;
}

export const TRAIN_DEFAULTS: TrainParams = {
  epochs: 5,
  batchSize: 32,
  optimizer: 'adam',
  learningRate: 1e-3,
  momentum: 0.9,
  beta1: 0.9,
  beta2: 0.999,
  lionBeta2: 0.99,
  epsilon: 1e-8,
  weightDecay: 0,
  schedule: 'constant',
  warmupSteps: 0,
  stepEvery: 0,
  stepGamma: 0.1,
  minLearningRate: 0,
  validationSplit: 0,
  earlyStopping: false,
  monitor: 'val_loss',
  patience: 3,
  minDelta: 0,
  restoreBest: false,
  gradientClip: 0,
  checkpointEvery: 0,
  shuffle: true,
};

type NumberRule = { min?: number; max?: number; integer?: boolean; above?: number };

const NUMBER_RULES: { [K in keyof TrainParams as TrainParams[K] extends number ? K : never]: NumberRule } = {
  epochs: { min: 1, integer: true },
  batchSize: { min: 1, integer: true },
  learningRate: { min: 0 },
  momentum: { min: 0, max: 1 },
  beta1: { min: 0, max: 1 },
  beta2: { min: 0, max: 1 },
  lionBeta2: { min: 0, max: 1 },
  epsilon: { above: 0 },
  weightDecay: { min: 0 },
  warmupSteps: { min: 0 },
  stepEvery: { min: 0, integer: true },
  stepGamma: { above: 0 },
  minLearningRate: { min: 0 },
  validationSplit: { min: 0, max: 0.5 },
  patience: { min: 0, integer: true },
  minDelta: { min: 0 },
  gradientClip: { min: 0 },
  checkpointEvery: { min: 0, integer: true },
};

function describeRule(rule: NumberRule): string {
  const parts = [rule.integer ? 'an integer' : 'a number'];
  if (rule.above !== undefined) parts.push(`> ${rule.above}`);
  if (rule.min !== undefined) parts.push(`≥ ${rule.min}`);
  if (rule.max !== undefined) parts.push(`≤ ${rule.max}`);
  return parts.join(' ');
}

/**
 * The op's parameters with defaults for anything missing (the node spec applies defaults upstream;
 * this keeps the op safe when called directly). Every invalid value is reported, not only the first.
 */
export function readParams(raw: Record<string, unknown>, nodeId: string): TrainParams {
  const params: TrainParams = { ...TRAIN_DEFAULTS };
  const issues: DistilleryError[] = [];
  const target = params as unknown as Record<string, unknown>;
  for (const [name, rule] of Object.entries(NUMBER_RULES) as Array<[keyof typeof NUMBER_RULES, NumberRule]>) {
    const value = raw[name];
    if (value === undefined || value === null) continue;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!rule.integer || Number.isInteger(value)) &&
      (rule.min === undefined || value >= rule.min) &&
      (rule.max === undefined || value <= rule.max) &&
      (rule.above === undefined || value > rule.above);
    if (ok) target[name] = value;
    else issues.push(errors.paramInvalid(nodeId, name, describeRule(rule), value));
  }
  const choices: Array<[keyof TrainParams, readonly string[]]> = [
    ['optimizer', OPTIMIZER_NAMES],
    ['schedule', SCHEDULE_NAMES],
    ['monitor', MONITORS],
  ];
  for (const [name, allowed] of choices) {
    const value = raw[name];
    if (value === undefined || value === null) continue;
    if (typeof value === 'string' && allowed.includes(value)) target[name] = value;
    else issues.push(errors.paramInvalid(nodeId, name, `one of ${allowed.join(', ')}`, value));
  }
  for (const name of ['earlyStopping', 'restoreBest', 'shuffle'] as const) {
    const value = raw[name];
    if (value === undefined || value === null) continue;
    if (typeof value === 'boolean') params[name] = value;
    else issues.push(errors.paramInvalid(nodeId, name, 'true or false', value));
  }
  if (issues.length === 1) throw issues[0]!;
  if (issues.length > 1) {
    throw new DistilleryError('PARAM_INVALID', issues.map((issue) => issue.message).join('; '), {
      nodeId,
      issues: issues.map((issue) => issue.details),
    });
  }
  return params;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function incompatible(nodeId: string, message: string, expected: string, received: unknown): DistilleryError {
  return new DistilleryError('INCOMPATIBLE_INPUTS', `Node "${nodeId}": ${message}`, {
    nodeId,
    expected,
    received,
  });
}

/** Trains the input model on the input dataset. */
export const trainOp: Op = async (ctx: OpContext): Promise<OpSummary> => {
  try {
    return await train(ctx);
  } catch (error) {
    // Cancellation is not the node's fault; everything else is reported at the node.
    if (error instanceof DistilleryError && error.code === 'TASK_CANCELLED') throw error;
    throw nodeError(ctx.nodeId, error);
  }
};

async function train(ctx: OpContext): Promise<OpSummary> {
  const params = readParams(ctx.params, ctx.nodeId);
  const modelDir = requireInput(ctx, 'model', 'model').path;
  const datasetDir = requireInput(ctx, 'dataset', 'dataset').path;

  const dataset = readDataset(datasetDir, ['train', 'validation']);
  const { manifest } = dataset;
  let train: SplitData | undefined = dataset.splits.train;
  let validation: SplitData | undefined = dataset.splits.validation;
  if (!train || train.count === 0) {
    throw errors.datasetInvalid(
      join(datasetDir, 'dataset.json'),
      'a non-empty train split',
      manifest.splits.train?.count ?? 'none',
    );
  }
  if (!validation && params.validationSplit > 0) {
    const carved = carveValidation(train, params.validationSplit);
    train = carved.train;
    validation = carved.validation;
  }

  const { model, meta } = await loadModel(modelDir);
  const optimizer = trainingOptimizer(params);
  try {
    const inputShape = modelInputShape(model, manifest.inputShape);
    if (product(inputShape) !== product(manifest.inputShape)) {
      throw incompatible(
        ctx.nodeId,
        `the model takes inputs of shape [${inputShape.join(', ')}], the dataset has [${manifest.inputShape.join(', ')}]`,
        `${product(inputShape)} values per example`,
        product(manifest.inputShape),
      );
    }
    const outputs = model.outputs[0]?.shape.at(-1);
    if (typeof outputs === 'number' && outputs !== manifest.numClasses) {
      throw incompatible(
        ctx.nodeId,
        `the model has ${outputs} outputs, the dataset ${manifest.numClasses} classes`,
        `${manifest.numClasses} outputs`,
        outputs,
      );
    }
    const stepsPerEpoch = Math.ceil(train.count / params.batchSize);
    ctx.log(
      `Training ${meta.architecture} on ${manifest.name}: ${train.count} train / ${validation?.count ?? 0} validation examples, ` +
        `${params.epochs} epochs × ${stepsPerEpoch} steps, ${params.optimizer} lr ${params.learningRate} (${params.schedule})`,
    );
    const result = await runTrainingLoop({
      ctx,
      model,
      train,
      ...(validation ? { validation } : {}),
      inputShape,
      lossFn: sparseCrossEntropyLoss(model),
      optimizer,
      config: trainingLoopConfig(params, stepsPerEpoch),
    });

    const final = result.final;
    const bestRecord = result.history.find((record) => record.epoch === result.bestEpoch);
    // After restoring the best weights, the model's figures are the best epoch's.
    const reported = result.restoredBest && bestRecord ? bestRecord : final;
    const outMeta: ModelMeta = { ...meta, trained: true };
    const outDir = join(ctx.taskDir, MODEL_DIR);
    await saveModel(model, outDir, outMeta);
    const metrics: Record<string, number> = {};
    for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const) {
      const value = reported?.[key];
      if (typeof value === 'number') metrics[key] = value;
    }
    ctx.artifact('model', 'model', outDir, {
      ...modelStats(model),
      kind: meta.kind,
      architecture: meta.architecture,
      inputShape: meta.inputShape,
      numClasses: meta.numClasses,
      trained: true,
      metrics,
    });
    ctx.flush();
    return {
      epochs: result.epochsRun,
      steps: result.globalStep,
      finalLoss: final?.loss ?? null,
      accuracy: reported?.accuracy ?? null,
      valLoss: reported?.val_loss ?? null,
      valAccuracy: reported?.val_accuracy ?? null,
      stoppedEarly: result.stoppedEarly,
      bestEpoch: result.bestEpoch,
      monitor: result.monitor,
      restoredBest: result.restoredBest,
      samplesPerSecond: Math.round(result.samplesPerSecond),
      resumedFromStep: result.resumedFromStep,
    };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
