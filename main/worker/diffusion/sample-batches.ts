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
import { readSamplerParams, requireDiffusionModel, requireSchedule, throwIfCancelled } from './op-support';
import { ParamReader } from './params';
import { sampleImages, toUnitRange, type NoiseFn, type SamplerConfig } from './samplers';
import type { NoiseSchedule } from './schedule';
import { previewLabels } from './training';
import type { UnetSpec } from './unet';

/** A trained model opened for sampling, with a reader that has read the sampler params. */
export interface SamplingSetup {
  loaded: LoadedDiffusionModel;
  schedule: NoiseSchedule;
  reader: ParamReader;
  sampler: SamplerConfig;
}

/**
 * The trained diffusion model on `model`, its schedule and the sampler params (defaults from the
 * model). The caller reads its own params, calls `reader.done()` and disposes the model.
 */
export async function openForSampling(ctx: OpContext): Promise<SamplingSetup> {
  const loaded = await requireDiffusionModel(ctx);
  try {
    const schedule = requireSchedule(ctx, loaded);
    const reader = new ParamReader(ctx.params, ctx.nodeId);
    const sampler = readSamplerParams(reader, loaded.meta.diffusion.sampler);
    return { loaded, schedule, reader, sampler };
  } catch (error) {
    loaded.model.dispose();
    throw error;
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
    throwIfCancelled(ctx);
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
