/**
 * What the diffusion ops (model.unet, diffusion.train / finetune / sample / evaluate / ddpo) share:
 * reading their inputs with errors that name the node and port, LoRA adapters on the model's
 * forward pass, and the artifact record of a trained model.
 */
import type * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import { requireInput, type OpContext } from '../context';
import { loadModel } from '../models/model-file';
import { modelStats } from '../models/stats';
import { LoraAdapters, type LoraConfig } from './lora';
import { loadDiffusionModel, type DiffusionModelMeta, type LoadedDiffusionModel } from './model-io';
import type { RewardClassifier } from './rewards';
import type { NoiseFn } from './samplers';
import type { NoiseSchedule } from './schedule';

/** The diffusion model on the `model` port. */
export async function requireDiffusionModel(ctx: OpContext, port = 'model'): Promise<LoadedDiffusionModel> {
  const input = requireInput(ctx, port, 'model');
  if (input.meta.kind !== undefined && input.meta.kind !== 'diffusion') {
    throw new DistilleryError(
      'PORT_TYPE_MISMATCH',
      `Node "${ctx.nodeId}": input "${port}" must be a diffusion model`,
      {
        nodeId: ctx.nodeId,
        port,
        expected: 'diffusion-model',
        received: JSON.stringify(input.meta.kind),
      },
    );
  }
  return loadDiffusionModel(input.path);
}

/** A trained model's schedule, or INCOMPATIBLE_INPUTS naming the port. */
export function requireSchedule(ctx: OpContext, loaded: LoadedDiffusionModel, port = 'model'): NoiseSchedule {
  if (!loaded.schedule) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `Node "${ctx.nodeId}": the diffusion model on "${port}" has not been trained (no noise schedule); connect it through diffusion.train first`,
      { nodeId: ctx.nodeId, port, expected: 'a trained diffusion model', received: 'an untrained U-Net' },
    );
  }
  return loaded.schedule;
}

/** A classifier on `port` (optional ports give undefined when unconnected). */
export async function loadClassifier(
  ctx: OpContext,
  port: string,
  required: boolean,
): Promise<RewardClassifier | undefined> {
  if (!ctx.inputs[port] && !required) return undefined;
  const input = requireInput(ctx, port, 'model');
  const { model, meta } = await loadModel(input.path);
  if (meta.kind !== 'classifier') {
    model.dispose();
    throw new DistilleryError(
      'PORT_TYPE_MISMATCH',
      `Node "${ctx.nodeId}": input "${port}" must be a classifier`,
      {
        nodeId: ctx.nodeId,
        port,
        expected: 'model (classifier)',
        received: meta.kind,
      },
    );
  }
  return { model, numClasses: meta.numClasses };
}

/** How much sample grids are scaled up: small images are hard to see at 1:1. */
export function gridScale(imageSize: number): number {
  return imageSize <= 32 ? 3 : 1;
}

/** The forward pass and trainable variables once LoRA adapters wrap the model's kernels. */
export interface LoraAttachment {
  adapters: LoraAdapters;
  noise: NoiseFn;
  trainable: tf.Variable[];
}

/** Creates LoRA adapters on `model` and routes the `base` forward pass through them. */
export function attachLora(
  model: tf.LayersModel,
  base: NoiseFn,
  config: LoraConfig,
  seed: number,
): LoraAttachment {
  const adapters = LoraAdapters.create(model, config, seed);
  return {
    adapters,
    noise: (x, t, labels) => adapters.withAdapters(() => base(x, t, labels)),
    trainable: adapters.variables,
  };
}

/** What a trained model's artifact records beyond its meta, and the LoRA adapters when used. */
export interface TrainedModelRecord {
  description: string;
  metrics: Record<string, number>;
  trainableParams: number;
  trainableFraction: number;
  lora?: { config: LoraConfig; adaptersDir: string };
}

/** Announces the trained diffusion model saved in `dir` as the `model` artifact (train, finetune, ddpo). */
export function announceTrainedModel(
  ctx: OpContext,
  dir: string,
  model: tf.LayersModel,
  meta: DiffusionModelMeta,
  record: TrainedModelRecord,
): void {
  const { lora } = record;
  ctx.artifact('model', 'model', dir, {
    ...modelStats(model),
    kind: 'diffusion',
    architecture: meta.architecture,
    inputShape: meta.inputShape,
    numClasses: meta.numClasses,
    trained: true,
    description: record.description,
    metrics: record.metrics,
    trainableParams: record.trainableParams,
    trainableFraction: record.trainableFraction,
    ...(lora
      ? {
          lora: {
            rank: lora.config.rank,
            alpha: lora.config.alpha,
            targets: lora.config.targets,
            adapterParams: record.trainableParams,
            adaptersDir: lora.adaptersDir,
            merged: true,
          },
        }
      : {}),
  });
}
