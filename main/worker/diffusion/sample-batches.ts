/**
 * What diffusion.sample and diffusion.evaluate share: the trained model with its schedule and sampler
 * params, the labels to condition on, sampling in batches with progress and cancellation, and the
 * column count of the sample grid.
 */
import type * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { OpContext } from '../context';
import { mixSeed } from '../train/rng';
import type { LoadedDiffusionModel } from './model-io';
import { requireDiffusionModel, requireSchedule } from './op-support';
import { sampleImages, toUnitRange, type NoiseFn, type SamplerConfig } from './samplers';
import type { NoiseSchedule } from './schedule';
import { previewLabels } from './training';
import type { UnetSpec } from './unet';

/** A trained model opened for sampling, with its noise schedule. */
export interface SamplingSetup {
  loaded: LoadedDiffusionModel;
  schedule: NoiseSchedule;
}

/** The sampler a node's `samplerParams` (main/nodes/diffusion-params.ts) describe. */
export function samplerConfig(params: SamplerConfig): SamplerConfig {
  const { method, steps, eta, guidanceScale, clipDenoised } = params;
  return { method, steps, eta, guidanceScale, clipDenoised };
}

/**
 * The trained diffusion model on `model` and its schedule, refused when `sampler` asks for more
 * steps than the model has. The caller disposes the model.
 */
export async function openForSampling(ctx: OpContext, sampler: SamplerConfig): Promise<SamplingSetup> {
  const loaded = await requireDiffusionModel(ctx);
  try {
    const schedule = requireSchedule(ctx, loaded);
    checkSteps(ctx, sampler.steps, schedule);
    return { loaded, schedule };
  } catch (error) {
    loaded.model.dispose();
    throw error;
  }
}

/** Steps beyond the model's T are the one sampler limit that depends on the model, not the spec. */
export function checkSteps(ctx: OpContext, steps: number, schedule: NoiseSchedule, param = 'steps'): void {
  if (steps > schedule.timesteps) {
    throw new DistilleryError(
      'PARAM_OUT_OF_RANGE',
      `Node "${ctx.nodeId}": ${param} must be ≤ the model's ${schedule.timesteps} diffusion steps, got ${steps}`,
      { nodeId: ctx.nodeId, param, expected: `≤ ${schedule.timesteps}`, received: steps },
    );
  }
}

/** Labels for `count` samples: the given list repeated, or every class in turn, or unconditional. */
export function sampleLabels(ctx: OpContext, spec: UnetSpec, given: number[], count: number): number[] {
  for (const label of given) {
    if (label >= spec.numClasses) {
      throw new DistilleryError(
        'PARAM_OUT_OF_RANGE',
        `Node "${ctx.nodeId}": labels must be −1 (unconditional) or below ${spec.numClasses}, got ${label}`,
        {
          nodeId: ctx.nodeId,
          param: 'labels',
          expected: `−1 ≤ label < ${spec.numClasses}`,
          received: given,
        },
      );
    }
  }
  if (given.length > 0) return Array.from({ length: count }, (_, i) => given[i % given.length]!);
  return previewLabels(count, spec.numClasses);
}

/** One class a column when every class is drawn in turn and the grid has whole rows; else automatic. */
export function gridColumns(spec: UnetSpec, given: number[], count: number): number {
  return spec.numClasses > 0 && given.length === 0 && count % spec.numClasses === 0 ? spec.numClasses : 0;
}

export interface BatchSampling {
  noise: NoiseFn;
  spec: UnetSpec;
  schedule: NoiseSchedule;
  sampler: SamplerConfig;
  labels: number[];
  seed: number;
  batchSize: number;
  /** Called with each batch's images as sampled, before they are disposed. */
  onImages?: (images: tf.Tensor4D, start: number) => void;
}

/** Samples in batches of `batchSize`; returns images in [0, 1] and calls `onImages` per batch. */
export function sampleInBatches(ctx: OpContext, sampling: BatchSampling): Float32Array {
  const { noise, spec, schedule, sampler, labels, seed, batchSize, onImages } = sampling;
  const size = spec.imageSize * spec.imageSize * spec.channels;
  const out = new Float32Array(labels.length * size);
  const batches = Math.ceil(labels.length / batchSize);
  for (let b = 0; b < batches; b++) {
    ctx.throwIfCancelled();
    const start = b * batchSize;
    const batch = labels.slice(start, start + batchSize);
    const { images } = sampleImages(noise, spec, schedule, {
      ...sampler,
      labels: batch,
      seed: mixSeed(seed, b),
      onStep: (done, total) => ctx.progress(b * total + done, batches * total),
    });
    out.set(toUnitRange(images), start * size);
    onImages?.(images, start);
    images.dispose();
  }
  return out;
}
