/**
 * The training loop shared by the ops that optimise a model (train, distill, prune, …). The op
 * supplies the model, the data, a loss function and an optimiser; the loop does the rest: seeded
 * batches, gradients, clipping, the schedule, metrics, progress, validation, early stopping,
 * checkpoints, cancellation and resume.
 *
 * Exact resume: the data order of an epoch is a pure function of (seed, epoch), randomness inside a
 * step (dropout) of (seed, global step), the learning rate of the step number; weights, optimiser
 * slots, early-stopping state and the running sums of the current epoch are checkpointed. Resuming
 * from a checkpoint therefore ends with the same weights, bit for bit, as the uninterrupted run on
 * the same backend.
 *
 * Metrics (epochs numbered from 1): every step `loss`, `lr`, `samples_per_second`; every epoch
 * `epoch_loss`, `accuracy` (over the epoch's training batches, in training mode), `val_loss`,
 * `val_accuracy` (when there is validation data); all with `{step: globalStep, epoch}`.
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { OpContext } from '../context';
import type { SplitData } from '../data/dataset-file';
import { countCorrect, evaluateSplit, gatherBatch, toLossOutput, type LossFn } from './batches';
import {
  readCheckpoint,
  writeCheckpoint,
  type EpochAccumulator,
  type EpochRecord,
  type LoopState,
} from './checkpoint';
import {
  effectiveMonitor,
  initialEarlyStopping,
  updateEarlyStopping,
  type EarlyStoppingConfig,
} from './early-stopping';
import type { Monitor } from '../../nodes/shared-params';
import type { NamedArrays, Optimizer } from './optimizers';
import { SALT_EPOCH_ORDER, SALT_STEP, mixSeed, permutation, withSeededMathRandom } from './rng';
import { learningRateAt, type ScheduleConfig } from './schedules';
import {
  checkOptimizerState,
  clipByGlobalNorm,
  readWeights,
  trainableVariables,
  writeWeights,
} from './weights';

// The loop's building blocks, re-exported for the ops that import them from here.
export type { LossFn, LossOutput } from './batches';
export type { EpochRecord, LoopState } from './checkpoint';
export type { EarlyStoppingConfig } from './early-stopping';
export { clipByGlobalNorm, globalNorm, readWeights, trainableVariables, writeWeights } from './weights';

export interface LoopConfig {
  epochs: number;
  batchSize: number;
  /** Shuffle the training examples each epoch (seeded by seed and epoch). */
  shuffle: boolean;
  schedule: ScheduleConfig;
  /** Maximum global L2 norm of the gradients; 0 = no clipping. */
  gradientClip: number;
  /** Checkpoint every this many steps; 0 = at the end of each epoch. */
  checkpointEvery: number;
  earlyStopping: EarlyStoppingConfig;
  /** Batch size for validation (default 256). */
  evaluationBatchSize?: number;
  /** Checkpoints kept on disk (default 2). */
  keepCheckpoints?: number;
}

export interface StepInfo {
  globalStep: number;
  /** 1-based. */
  epoch: number;
  batchInEpoch: number;
  loss: number;
  learningRate: number;
}

export interface LoopHooks {
  /** After each optimiser step (e.g. re-apply pruning masks). Runs outside any tidy. */
  afterStep?(info: StepInfo): void;
  /** After each epoch's evaluation. */
  afterEpoch?(record: EpochRecord): void;
  /** Extra arrays to store in every checkpoint (e.g. pruning masks). */
  saveState?(): NamedArrays;
  /** Receives those arrays on resume (an empty object if the checkpoint had none). */
  loadState?(arrays: NamedArrays): void;
}

export interface TrainLoopOptions {
  ctx: OpContext;
  model: tf.LayersModel;
  train: SplitData;
  validation?: SplitData;
  /** Shape of one example as the model takes it (the batch is reshaped to [b, ...inputShape]). */
  inputShape: number[];
  lossFn: LossFn;
  /** Loss for validation (default: `lossFn` with training = false). */
  evaluateFn?: LossFn;
  /** Variables to optimise (default: the model's trainable weights). Keep the order stable. */
  trainable?: tf.Variable[];
  optimizer: Optimizer;
  config: LoopConfig;
  hooks?: LoopHooks;
}

export interface LoopResult {
  /** Epochs completed, including those done before a resume. */
  epochsRun: number;
  globalStep: number;
  totalSteps: number;
  history: EpochRecord[];
  /** The last epoch's record. */
  final: EpochRecord | undefined;
  stoppedEarly: boolean;
  /** Monitored metric actually used (a val_ metric falls back to the training one without validation data). */
  monitor: Monitor;
  best: number | null;
  bestEpoch: number;
  restoredBest: boolean;
  /** Training throughput of this attempt (steps only, not evaluation). */
  samplesPerSecond: number;
  resumedFromStep: number | null;
}

function emptyAccumulator(): EpochAccumulator {
  return { lossSum: 0, examples: 0, correct: 0, scored: 0, batches: 0 };
}

function yieldToEventLoop(): Promise<void> {
  // Lets the worker's IPC handler run, so a cancel message can abort ctx.signal between steps.
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs (or resumes, when `ctx.resumeFrom` is set) the training loop. */
export async function runTrainingLoop(options: TrainLoopOptions): Promise<LoopResult> {
  const { ctx, model, train, validation, inputShape, lossFn, optimizer, config } = options;
  const hooks = options.hooks ?? {};
  const evaluateFn = options.evaluateFn ?? lossFn;
  const trainable = options.trainable ?? trainableVariables(model);
  const size = inputShape.reduce((a, b) => a * b, 1);
  const { epochs, batchSize } = config;
  if (train.count < 1 || train.x.length !== train.count * size) {
    throw new DistilleryError(
      'DATASET_INVALID',
      `Training data has ${train.count} examples of ${train.x.length / Math.max(1, train.count)} values; the model takes ${size}`,
      {
        expected: `≥ 1 example of ${size} values`,
        received: { count: train.count, values: train.x.length },
      },
    );
  }
  const stepsPerEpoch = Math.ceil(train.count / batchSize);
  const totalSteps = epochs * stepsPerEpoch;

  for (const layer of model.layers) {
    // tfjs re-seeds a seeded Dropout's generator on every call, so it drops the same units at every
    // step; unseeded ones draw from Math.random, which the loop seeds per step.
    if (layer.getClassName() === 'Dropout' && layer.getConfig().seed != null) {
      ctx.log(
        `Layer "${layer.name}" has a fixed dropout seed: it drops the same units at every step`,
        'warn',
      );
    }
  }

  const monitor = effectiveMonitor(config.earlyStopping, validation !== undefined, (message) =>
    ctx.log(message, 'warn'),
  );

  let state: LoopState = {
    format: 1,
    seed: ctx.seed,
    epoch: 0,
    batchInEpoch: 0,
    globalStep: 0,
    totalSteps,
    stepsPerEpoch,
    accumulator: emptyAccumulator(),
    earlyStopping: initialEarlyStopping(),
    history: [],
  };
  let bestWeights: NamedArrays | undefined;
  let resumedFromStep: number | null = null;

  if (ctx.resumeFrom) {
    const dir = ctx.resumeFrom;
    const checkpoint = readCheckpoint(dir);
    const loop = checkpoint.loop;
    if (loop.totalSteps !== totalSteps || loop.stepsPerEpoch !== stepsPerEpoch) {
      throw new DistilleryError(
        'CHECKPOINT_INVALID',
        `Checkpoint ${dir} was written for ${loop.totalSteps} steps of ${loop.stepsPerEpoch} per epoch; this run has ${totalSteps} of ${stepsPerEpoch}`,
        { file: `${dir}/loop.json`, expected: `${totalSteps} steps`, received: loop.totalSteps },
      );
    }
    writeWeights(model, checkpoint.weights, `${dir}/weights.json`);
    checkOptimizerState(checkpoint.optimizer, optimizer, trainable, `${dir}/optimizer.json`);
    optimizer.load(checkpoint.optimizer);
    hooks.loadState?.(checkpoint.extra ?? {});
    bestWeights = checkpoint.bestWeights;
    if (loop.seed !== ctx.seed)
      ctx.log(`Checkpoint seed ${loop.seed} differs from ${ctx.seed}; keeping the checkpoint's`, 'warn');
    state = loop;
    resumedFromStep = loop.globalStep;
    ctx.log(
      `Resumed from ${dir}: step ${loop.globalStep}/${totalSteps}, epoch ${loop.epoch + 1}, batch ${loop.batchInEpoch}`,
    );
  }

  let lastCheckpointStep = -1;
  const saveCheckpoint = (): void => {
    const path = writeCheckpoint(
      ctx.taskDir,
      state.globalStep,
      {
        weights: readWeights(model),
        optimizer: optimizer.state(),
        loop: state,
        ...(bestWeights ? { bestWeights } : {}),
        ...(hooks.saveState ? { extra: hooks.saveState() } : {}),
      },
      config.keepCheckpoints ?? 2,
    );
    lastCheckpointStep = state.globalStep;
    ctx.checkpoint(path, state.globalStep);
  };
  const stopIfCancelled = (): void => {
    if (!ctx.signal.aborted) return;
    if (lastCheckpointStep !== state.globalStep) saveCheckpoint();
    ctx.flush();
    ctx.throwIfCancelled();
  };

  /** One optimiser step on examples order[start..end); returns the loss and correct count. */
  const step = (
    order: Uint32Array | null,
    start: number,
    end: number,
    lr: number,
  ): { loss: number; correct: number | null } => {
    const batch = gatherBatch(train, order, start, end, size);
    return withSeededMathRandom(mixSeed(state.seed, SALT_STEP, state.globalStep), () => {
      let correctTensor: tf.Scalar | undefined;
      const value = tf.tidy(() => {
        const x = tf.tensor(batch.x, [end - start, ...inputShape]);
        const y = tf.tensor1d(batch.y, 'int32');
        const { value: loss, grads } = tf.variableGrads(() => {
          const out = toLossOutput(lossFn(model, x, y, true));
          if (out.scores) correctTensor = tf.keep(countCorrect(out.scores, y));
          return out.loss;
        }, trainable);
        // A variable the loss does not reach gets a zero gradient (weight decay still applies).
        let list = trainable.map((v) => grads[v.name] ?? tf.zerosLike(v));
        if (config.gradientClip > 0) list = clipByGlobalNorm(list, config.gradientClip);
        optimizer.apply(trainable, list, lr);
        return loss;
      });
      const loss = value.dataSync()[0]!;
      const correct = correctTensor ? correctTensor.dataSync()[0]! : null;
      tf.dispose([value, correctTensor]);
      return { loss, correct };
    });
  };

  const finishEpoch = (learningRate: number): EpochRecord => {
    const acc = state.accumulator;
    const epoch = state.epoch + 1;
    const record: EpochRecord = { epoch, loss: acc.lossSum / Math.max(1, acc.examples), learningRate };
    if (acc.scored > 0) record.accuracy = acc.correct / acc.scored;
    if (validation && validation.count > 0) {
      const result = evaluateSplit(
        model,
        evaluateFn,
        validation,
        inputShape,
        Math.max(1, config.evaluationBatchSize ?? 256),
      );
      record.val_loss = result.loss;
      if (result.accuracy !== undefined) record.val_accuracy = result.accuracy;
    }
    const at = { step: state.globalStep, epoch };
    ctx.metric('epoch_loss', record.loss, at);
    if (record.accuracy !== undefined) ctx.metric('accuracy', record.accuracy, at);
    if (record.val_loss !== undefined) ctx.metric('val_loss', record.val_loss, at);
    if (record.val_accuracy !== undefined) ctx.metric('val_accuracy', record.val_accuracy, at);

    const early = state.earlyStopping;
    const outcome = updateEarlyStopping(early, config.earlyStopping, monitor, record);
    if (outcome === 'improved' && config.earlyStopping.restoreBest) bestWeights = readWeights(model);
    if (outcome === 'stopped') {
      ctx.log(
        `Early stopping after epoch ${epoch}: ${monitor} has not improved since epoch ${early.bestEpoch}`,
      );
    }
    return record;
  };

  let samples = 0;
  let stepSeconds = 0;
  let tensorsAtEpochEnd: number | undefined;
  stopIfCancelled();
  while (state.epoch < epochs && !state.earlyStopping.stopped) {
    const epoch = state.epoch + 1;
    const order = config.shuffle
      ? permutation(train.count, mixSeed(state.seed, SALT_EPOCH_ORDER, state.epoch))
      : null;
    let learningRate = learningRateAt(Math.max(0, state.globalStep - 1), totalSteps, config.schedule);
    while (state.batchInEpoch < stepsPerEpoch) {
      const start = state.batchInEpoch * batchSize;
      const end = Math.min(train.count, start + batchSize);
      learningRate = learningRateAt(state.globalStep, totalSteps, config.schedule);
      const began = performance.now();
      const { loss, correct } = step(order, start, end, learningRate);
      const seconds = (performance.now() - began) / 1000;
      const n = end - start;
      samples += n;
      stepSeconds += seconds;
      const acc = state.accumulator;
      acc.lossSum += loss * n;
      acc.examples += n;
      acc.batches += 1;
      if (correct !== null) {
        acc.correct += correct;
        acc.scored += n;
      }
      state.globalStep += 1;
      state.batchInEpoch += 1;
      const at = { step: state.globalStep, epoch };
      ctx.metric('loss', loss, at);
      ctx.metric('lr', learningRate, at);
      ctx.metric('samples_per_second', seconds > 0 ? n / seconds : 0, at);
      ctx.progress(state.globalStep, totalSteps);
      hooks.afterStep?.({
        globalStep: state.globalStep,
        epoch,
        batchInEpoch: state.batchInEpoch,
        loss,
        learningRate,
      });
      if (config.checkpointEvery > 0 && state.globalStep % config.checkpointEvery === 0) saveCheckpoint();
      await yieldToEventLoop();
      stopIfCancelled();
    }
    const record = finishEpoch(learningRate);
    state.history.push(record);
    state.epoch += 1;
    state.batchInEpoch = 0;
    state.accumulator = emptyAccumulator();
    hooks.afterEpoch?.(record);
    const tensors = tf.memory().numTensors;
    if (tensorsAtEpochEnd !== undefined && tensors > tensorsAtEpochEnd) {
      ctx.log(`Tensor count grew by ${tensors - tensorsAtEpochEnd} during epoch ${epoch}`, 'warn');
    }
    tensorsAtEpochEnd = tensors;
    if (config.checkpointEvery === 0) saveCheckpoint();
    await yieldToEventLoop();
    stopIfCancelled();
  }

  const early = state.earlyStopping;
  const final = state.history.at(-1);
  let restoredBest = false;
  if (config.earlyStopping.restoreBest && bestWeights && final && early.bestEpoch !== final.epoch) {
    writeWeights(model, bestWeights, 'best weights');
    restoredBest = true;
    ctx.log(`Restored the weights of epoch ${early.bestEpoch} (best ${monitor} ${early.best})`);
  }
  return {
    epochsRun: state.history.length,
    globalStep: state.globalStep,
    totalSteps,
    history: state.history,
    final,
    stoppedEarly: early.stopped,
    monitor,
    best: early.best,
    bestEpoch: early.bestEpoch,
    restoredBest,
    samplesPerSecond: stepSeconds > 0 ? samples / stepSeconds : 0,
    resumedFromStep,
  };
}
