/**
 * Fixtures for diffusion tests: tiny U-Nets with non-trivial weights (the stock output layer starts
 * at zero, which would make every sampler trivial), diffusion model directories, and the wasm
 * backend that the worker trains on.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../main/worker/backend';
import {
  saveDiffusionModel,
  DEFAULT_SAMPLER,
  type DiffusionModelMeta,
} from '../../main/worker/diffusion/model-io';
import { createNoiseSchedule, type NoiseScheduleConfig } from '../../main/worker/diffusion/schedule';
import { buildUnet, type UnetOptions } from '../../main/worker/diffusion/unet';

export const TINY_UNET: UnetOptions = {
  imageSize: 8,
  channels: 1,
  widths: [8, 16],
  blocksPerLevel: 1,
  timeEmbedDim: 8,
  classConditional: true,
  conditioning: 'scale-shift',
  activation: 'swish',
  numClasses: 3,
  seed: 5,
};

/** The worker's backend (wasm with the kernel fixes). */
export async function useWasm(): Promise<void> {
  await initBackend('wasm');
}

/** A tiny U-Net whose weights are all drawn at random (seeded), so ε̂ depends on every input. */
export function randomUnet(options: Partial<UnetOptions> = {}, scale = 0.2): tf.LayersModel {
  const model = buildUnet({ ...TINY_UNET, ...options });
  const weights = model
    .getWeights()
    .map((w, i) => tf.mul(tf.randomNormal(w.shape, 0, 1, 'float32', 100 + i), scale));
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

/** Saves `model` as a trained diffusion model directory with the given schedule. */
export async function writeDiffusionModel(
  dir: string,
  model: tf.LayersModel,
  schedule: NoiseScheduleConfig = { kind: 'linear', timesteps: 100 },
  classNames = ['a', 'b', 'c'],
): Promise<string> {
  createNoiseSchedule(schedule);
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const numClasses = (model.inputs[2]!.shape[1] as number) - 1;
  const meta: DiffusionModelMeta = {
    format: 1,
    kind: 'diffusion',
    architecture: 'unet',
    architectureParams: {},
    inputShape,
    numClasses,
    classNames: classNames.slice(0, numClasses),
    trained: true,
    diffusion: { schedule, prediction: 'epsilon', classDropout: 0.1, sampler: DEFAULT_SAMPLER, history: [] },
  };
  return saveDiffusionModel(model, dir, meta);
}
