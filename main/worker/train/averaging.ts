/**
 * Checkpoint averaging while training, as training-loop hooks (loop.ts) that train and distill
 * compose:
 *
 * - SWA (Izmailov et al. 2018): the equal-weight mean of the weights at the end of each epoch from
 *   `start` (1-based) on: θ̄ ← θ̄ + (θ − θ̄)/n, n = 1, 2, …;
 * - EMA: θ̄ ← d·θ̄ + (1 − d)·θ after every optimiser step from the first step of epoch `start`,
 *   starting from the weights after that step.
 *
 * Every weight of the model is averaged (trainable or not). The average lives in tensors beside the
 * model; the loop's checkpoints carry it (and the count n) through `saveState` / `loadState`, so a
 * resumed run averages exactly what the uninterrupted run would have.
 *
 * `TrainingOutputs` puts this together with the kept checkpoints (merge/checkpoint-set.ts) and
 * writes the ops' model outputs: `model` (the average), `raw` (the final weights) and `checkpoints`.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { AveragingMethod, AveragingParams } from '../../nodes/shared-params';
import type { OpContext } from '../context';
import type { SplitData } from '../data/dataset-file';
import { CheckpointKeeper } from '../merge/checkpoint-set';
import { MODEL_DIR, saveModel, type ModelMeta } from '../models/model-file';
import { evaluateSplit } from './batches';
import { sparseCrossEntropyLoss } from './classifier-loss';
import type { LoopHooks } from './loop';
import type { NamedArrays } from './optimizers';

/** Directory, inside a task directory, of the `raw` output (the final weights before averaging). */
export const RAW_MODEL_DIR = 'raw';

export interface AveragingConfig {
  method: AveragingMethod;
  /** First epoch (1-based) whose weights enter the average. */
  start: number;
  /** EMA decay d. */
  decay: number;
}

/** Prefix of the averaging arrays in a checkpoint's extra state. */
const STATE_PREFIX = 'average/';
const COUNT_KEY = `${STATE_PREFIX}count`;

/** A non-trainable variable holding `value`'s data; `value` itself is disposed. */
function ownVariable(value: tf.Tensor): tf.Variable {
  const variable = tf.variable(value, false);
  value.dispose();
  return variable;
}

/**
 * The running average of a list of weights (the model's, in model order). `update` folds the
 * current values in; `values` is the average so far.
 */
export class WeightAverage {
  private average: tf.Variable[] | undefined;
  /** Weight sets folded in so far. */
  count = 0;

  constructor(
    private readonly weights: readonly tf.LayerVariable[],
    private readonly method: Exclude<AveragingMethod, 'none'>,
    private readonly decay: number,
  ) {}

  /** Folds the weights' current values into the average (SWA: equal weight; EMA: decay). */
  update(): void {
    const current = this.weights.map((weight) => weight.read());
    if (!this.average) {
      this.average = current.map((value) => ownVariable(value.clone()));
      this.count = 1;
      return;
    }
    const average = this.average;
    this.count += 1;
    const count = this.count;
    tf.tidy(() => {
      average.forEach((mean, i) => {
        const value = current[i]!;
        if (this.method === 'swa') mean.assign(tf.add(mean, tf.div(tf.sub(value, mean), count)));
        else mean.assign(tf.add(tf.mul(mean, this.decay), tf.mul(value, 1 - this.decay)));
      });
    });
  }

  /** The average as new tensors (the caller disposes them), or undefined before the first update. */
  values(): tf.Tensor[] | undefined {
    return this.average?.map((mean) => mean.clone());
  }

  /** The average and its count as checkpoint arrays. */
  state(): NamedArrays {
    const arrays: NamedArrays = { [COUNT_KEY]: { shape: [1], values: Int32Array.of(this.count) } };
    this.average?.forEach((mean, i) => {
      arrays[`${STATE_PREFIX}${i}`] = {
        shape: [...mean.shape],
        values: Float32Array.from(mean.dataSync() as Float32Array),
      };
    });
    return arrays;
  }

  /** Restores what `state` saved; an empty state (a checkpoint from before averaging started) resets. */
  load(arrays: NamedArrays, file = 'checkpoint'): void {
    this.dispose();
    const count = arrays[COUNT_KEY]?.values[0] ?? 0;
    if (count === 0) return;
    this.average = this.weights.map((weight, i) => {
      const saved = arrays[`${STATE_PREFIX}${i}`];
      const shape = weight.read().shape;
      if (!saved || !tf.util.arraysEqual(saved.shape, shape)) {
        throw new DistilleryError(
          'CHECKPOINT_INVALID',
          `Checkpoint ${file}: the weight average has no entry of shape [${shape.join(', ')}] for weight ${i} (${weight.originalName})`,
          { file, expected: `[${shape.join(', ')}]`, received: saved ? saved.shape : 'nothing' },
        );
      }
      return ownVariable(tf.tensor(saved.values, saved.shape, 'float32'));
    });
    this.count = count;
  }

  dispose(): void {
    if (this.average) tf.dispose(this.average);
    this.average = undefined;
    this.count = 0;
  }
}

/**
 * The loop hooks that keep `average` up to date: SWA at the end of each epoch ≥ start, EMA after
 * each step of an epoch ≥ start; plus saving and restoring it with the loop's checkpoints.
 */
export function averagingHooks(average: WeightAverage, config: AveragingConfig): LoopHooks {
  if (config.method === 'none') return {};
  return {
    ...(config.method === 'ema'
      ? {
          afterStep: (info) => {
            if (info.epoch >= config.start) average.update();
          },
        }
      : {
          afterEpoch: (record) => {
            if (record.epoch >= config.start) average.update();
          },
        }),
    saveState: () => average.state(),
    loadState: (arrays) => average.load(arrays),
  };
}

/**
 * Runs several hook sets as one: each event goes to every set in order; saved arrays are merged
 * (their names must not clash) and every set receives all of them on resume.
 */
export function combineHooks(...sets: LoopHooks[]): LoopHooks {
  const withSave = sets.filter((set) => set.saveState !== undefined);
  return {
    afterStep: (info) => sets.forEach((set) => set.afterStep?.(info)),
    afterEpoch: (record) => sets.forEach((set) => set.afterEpoch?.(record)),
    ...(withSave.length > 0
      ? {
          saveState: () => {
            const arrays: NamedArrays = {};
            for (const set of withSave) {
              for (const [name, array] of Object.entries(set.saveState!())) {
                if (Object.hasOwn(arrays, name)) throw new Error(`Two loop hooks save state named "${name}"`);
                arrays[name] = array;
              }
            }
            return arrays;
          },
        }
      : {}),
    loadState: (arrays) => sets.forEach((set) => set.loadState?.(arrays)),
  };
}

/** What train and distill need to average, keep checkpoints and save their model outputs. */
export interface TrainingOutputsOptions {
  ctx: OpContext;
  model: tf.LayersModel;
  params: AveragingParams & { checkpointEvery: number };
  stepsPerEpoch: number;
}

/** One model output to save: its meta file, and its artifact meta given the figures measured on it. */
export interface SavedModel {
  meta: ModelMeta;
  artifactMeta(metrics: Record<string, number>): Record<string, unknown>;
}

/**
 * The outputs of a training op with averaging and kept checkpoints: `hooks()` go into the training
 * loop; `save` then writes, in this order (so that the registry's newest version is the model):
 *
 * - `checkpoints` (keepCheckpoints > 0): the checkpoint set (merge/checkpoint-set.ts);
 * - `raw` (average swa or ema): the final weights as trained, with the loop's figures;
 * - `model`: the averaged weights (with their validation figures, `averaged_val_*`), or the final
 *   weights without averaging.
 */
export class TrainingOutputs {
  private readonly average: WeightAverage | undefined;
  private readonly keeper: CheckpointKeeper | undefined;
  private readonly config: AveragingConfig;

  constructor(private readonly options: TrainingOutputsOptions) {
    const { model, params, stepsPerEpoch, ctx } = options;
    this.config = { method: params.average, start: params.averageStart, decay: params.averageDecay };
    if (params.average !== 'none')
      this.average = new WeightAverage(model.weights, params.average, params.averageDecay);
    if (params.keepCheckpoints > 0) {
      this.keeper = new CheckpointKeeper(model, ctx.taskDir, params.keepCheckpoints, {
        checkpointEvery: params.checkpointEvery,
        stepsPerEpoch,
      });
    }
  }

  /** The loop hooks: the average's updates and state, and the checkpoint snapshots. */
  hooks(): LoopHooks {
    return combineHooks(
      this.average ? averagingHooks(this.average, this.config) : {},
      this.keeper ? this.keeper.hooks() : {},
    );
  }

  /**
   * Saves the outputs (see the class comment) after the loop finished at `finalStep`; `metrics` are
   * the loop's final figures (of the raw weights). Returns what the task summary reports.
   */
  async save(options: {
    finalStep: number;
    metrics: Record<string, number>;
    output: SavedModel;
    validation?: { split: SplitData; inputShape: number[] };
  }): Promise<Record<string, unknown>> {
    const { ctx, model } = this.options;
    const { finalStep, metrics, output } = options;
    const summary: Record<string, unknown> = {};
    if (this.keeper) {
      const { dir, steps } = await this.keeper.finish(finalStep, output.meta);
      ctx.artifact('checkpoints', 'model', dir, {
        ...output.artifactMeta(metrics),
        checkpointSet: { count: steps.length, steps },
      });
      ctx.log(`Kept the weights of ${steps.length} checkpoints (steps ${steps.join(', ')}) as "checkpoints"`);
      summary.checkpoints = steps;
    }
    let modelMeta = output.meta;
    let modelMetrics = metrics;
    if (this.average) {
      const rawDir = join(ctx.taskDir, RAW_MODEL_DIR);
      await saveModel(model, rawDir, output.meta);
      ctx.artifact('raw', 'model', rawDir, output.artifactMeta(metrics));
      const averaged = this.average.values();
      const { method, start, decay } = this.config;
      if (!averaged) {
        ctx.log(
          `No epoch reached averageStart (${start}): the model is the final weights, not an average`,
          'warn',
        );
      } else {
        model.setWeights(averaged);
        tf.dispose(averaged);
        const averaging = {
          method,
          start,
          ...(method === 'ema' ? { decay } : {}),
          count: this.average.count,
        };
        modelMeta = { ...output.meta, averaging };
        modelMetrics = {};
        if (options.validation && options.validation.split.count > 0) {
          const { split, inputShape } = options.validation;
          const result = evaluateSplit(model, sparseCrossEntropyLoss(model), split, inputShape, 256);
          modelMetrics.val_loss = result.loss;
          ctx.metric('averaged_val_loss', result.loss, { step: finalStep });
          if (result.accuracy !== undefined) {
            modelMetrics.val_accuracy = result.accuracy;
            ctx.metric('averaged_val_accuracy', result.accuracy, { step: finalStep });
          }
        }
        ctx.log(
          `Saved the ${method.toUpperCase()} average of ${this.average.count} ${method === 'swa' ? 'epoch ends' : 'steps'} from epoch ${start} as the model` +
            (modelMetrics.val_accuracy !== undefined
              ? ` (validation accuracy ${(modelMetrics.val_accuracy * 100).toFixed(2)}%, raw ${((metrics.val_accuracy ?? 0) * 100).toFixed(2)}%)`
              : ''),
        );
        summary.average = { ...averaging, ...modelMetrics };
      }
    }
    const outDir = join(ctx.taskDir, MODEL_DIR);
    await saveModel(model, outDir, modelMeta);
    ctx.artifact('model', 'model', outDir, {
      ...output.artifactMeta(modelMetrics),
      ...(modelMeta.averaging ? { averaging: modelMeta.averaging } : {}),
    });
    return summary;
  }

  dispose(): void {
    this.average?.dispose();
  }
}
