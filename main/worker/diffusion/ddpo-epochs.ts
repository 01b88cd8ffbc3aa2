/**
 * DDPO's epoch bookkeeping: the per-epoch record, its metrics and log line, and checkpoints that
 * carry the records along (as `ddpo/history` in the checkpoint's extra arrays) so that a resumed run
 * reports the whole curve.
 */
import type * as tf from '@tensorflow/tfjs';
import type { OpContext } from '../context';
import { readCheckpoint, writeCheckpoint, type EpochRecord, type LoopState } from '../train/checkpoint';
import { readWeights, writeWeights } from '../train/loop';
import type { NamedArrays, Optimizer } from '../train/optimizers';
import type { LoraAdapters } from './lora';
import { summarize } from './rewards';

export const DDPO_HISTORY_FILE = 'ddpo-history.json';

const HISTORY_KEY = 'ddpo/history';

/** Per-epoch figures. */
export interface DdpoEpoch {
  epoch: number;
  rewardMean: number;
  rewardStd: number;
  rewardMin: number;
  rewardMax: number;
  loss: number;
  approxKl: number;
  clipFraction: number;
  klToBase: number | null;
  weightDrift: number;
  learningRate: number;
  seconds: number;
  rewardByClass?: Record<string, number>;
}

/** What a DDPO checkpoint holds besides the model and optimiser. */
export interface DdpoProgress {
  history: DdpoEpoch[];
  epochsDone: number;
  globalStep: number;
  totalSteps: number;
  stepsPerEpoch: number;
}

/** Writes a checkpoint after `progress.epochsDone` epochs and announces it. */
export function writeDdpoCheckpoint(
  ctx: OpContext,
  model: tf.LayersModel,
  optimizer: Optimizer,
  adapters: LoraAdapters | undefined,
  progress: DdpoProgress,
): void {
  const { history, globalStep } = progress;
  const loop: LoopState = {
    format: 1,
    seed: ctx.seed,
    epoch: progress.epochsDone,
    batchInEpoch: 0,
    globalStep,
    totalSteps: progress.totalSteps,
    stepsPerEpoch: progress.stepsPerEpoch,
    accumulator: { lossSum: 0, examples: 0, correct: 0, scored: 0, batches: 0 },
    earlyStopping: { best: null, bestEpoch: 0, badEpochs: 0, stopped: false, bestWeights: null },
    history: history.map((h): EpochRecord => ({
      epoch: h.epoch,
      loss: h.loss,
      learningRate: h.learningRate,
    })),
  };
  const historyBytes = new TextEncoder().encode(JSON.stringify(history));
  const extra: NamedArrays = {
    ...(adapters?.state() ?? {}),
    [HISTORY_KEY]: { shape: [historyBytes.length], values: Int32Array.from(historyBytes) },
  };
  const path = writeCheckpoint(ctx.taskDir, globalStep, {
    weights: readWeights(model),
    optimizer: optimizer.state(),
    loop,
    extra,
  });
  ctx.checkpoint(path, globalStep);
}

/**
 * Restores weights, optimiser state and adapters from the checkpoint at `resumeFrom` and appends the stored
 * records to `history`; returns where the run goes on.
 */
export function resumeDdpo(
  resumeFrom: string,
  model: tf.LayersModel,
  optimizer: Optimizer,
  adapters: LoraAdapters | undefined,
  history: DdpoEpoch[],
): { startEpoch: number; globalStep: number } {
  const checkpoint = readCheckpoint(resumeFrom);
  writeWeights(model, checkpoint.weights, `${resumeFrom}/weights.json`);
  optimizer.load(checkpoint.optimizer);
  if (adapters) adapters.load(checkpoint.extra ?? {}, `${resumeFrom}/extra.json`);
  const stored = checkpoint.extra?.[HISTORY_KEY];
  if (stored)
    history.push(...(JSON.parse(new TextDecoder().decode(Uint8Array.from(stored.values))) as DdpoEpoch[]));
  return { startEpoch: checkpoint.loop.epoch, globalStep: checkpoint.loop.globalStep };
}

/**
 * Emits an epoch's metrics and log line; with several prompted classes, also fills in
 * `record.rewardByClass` from the rewards of each class's chains.
 */
export function reportEpoch(
  ctx: OpContext,
  record: DdpoEpoch,
  epochs: number,
  rewards: Float32Array,
  labels: Int32Array,
  distinctClasses: number[],
): void {
  const at = { step: record.epoch, epoch: record.epoch };
  ctx.metric('reward_mean', record.rewardMean, at);
  ctx.metric('reward_std', record.rewardStd, at);
  ctx.metric('reward_min', record.rewardMin, at);
  ctx.metric('reward_max', record.rewardMax, at);
  ctx.metric('loss', record.loss, at);
  ctx.metric('approx_kl', record.approxKl, at);
  ctx.metric('clip_fraction', record.clipFraction, at);
  if (record.klToBase !== null) ctx.metric('kl_to_base', record.klToBase, at);
  ctx.metric('weight_drift', record.weightDrift, at);
  ctx.metric('lr', record.learningRate, at);
  ctx.metric('seconds_per_epoch', record.seconds, at);
  if (distinctClasses.length > 1) {
    record.rewardByClass = {};
    for (const c of distinctClasses) {
      const values = Array.from(rewards).filter((_, i) => labels[i] === c);
      const mean = summarize(values).mean;
      record.rewardByClass[String(c)] = mean;
      ctx.metric(`reward_mean_class_${c < 0 ? 'null' : c}`, mean, at);
    }
  }
  ctx.log(
    `epoch ${record.epoch}/${epochs}: reward ${record.rewardMean.toFixed(4)} ± ${record.rewardStd.toFixed(4)} [${record.rewardMin.toFixed(4)}, ${record.rewardMax.toFixed(4)}], ` +
      `loss ${record.loss.toExponential(2)}, approx KL ${record.approxKl.toExponential(2)}, clipped ${(100 * record.clipFraction).toFixed(0)}%, ` +
      `${record.klToBase !== null ? `KL to base ${record.klToBase.toExponential(2)}, ` : ''}drift ${record.weightDrift.toExponential(2)} (${record.seconds.toFixed(1)} s)`,
  );
}
