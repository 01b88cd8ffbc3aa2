/**
 * Diffusion models on disk: the U-Net as a stock tfjs layers directory (models/model-file.ts) with
 * `distillery.json` (kind `diffusion`, the U-Net params, a `diffusion` section with the noise
 * schedule, sampler defaults and history) and, once a schedule is known, `diffusion.json`: what a
 * third party needs to sample the model without Distillery (input encodings, the schedule's β and
 * ᾱ, the update rules, sampler defaults). The tfjs exporter copies `diffusion.json` along.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import { loadModel, saveModel, type ModelMeta } from '../models/model-file';
import type { SamplerConfig } from './samplers';
import {
  createNoiseSchedule,
  readScheduleConfig,
  scheduleDescription,
  type NoiseSchedule,
  type NoiseScheduleConfig,
} from './schedule';
import { TIME_EMBEDDING_MAX_PERIOD, unetSpecOf, type UnetSpec } from './unet';

export const DIFFUSION_JSON = 'diffusion.json';

export const DEFAULT_SAMPLER: SamplerConfig = {
  method: 'ddim',
  steps: 50,
  eta: 0,
  guidanceScale: 2,
  clipDenoised: true,
};

/** The `diffusion` section of a diffusion model's distillery.json. */
export interface DiffusionSection {
  /** Set by diffusion.train; null for a freshly built U-Net. */
  schedule: NoiseScheduleConfig | null;
  prediction: 'epsilon';
  /** Fraction of training examples whose class was replaced by the null class. */
  classDropout: number;
  sampler: SamplerConfig;
  /** One line per training / fine-tuning op applied, oldest first. */
  history: Array<Record<string, unknown>>;
}

export interface DiffusionModelMeta extends ModelMeta {
  kind: 'diffusion';
  diffusion: DiffusionSection;
}

export interface LoadedDiffusionModel {
  model: tf.LayersModel;
  meta: DiffusionModelMeta;
  spec: UnetSpec;
  /** Undefined for an untrained U-Net (no schedule yet). */
  schedule: NoiseSchedule | undefined;
}

function readSampler(value: unknown): SamplerConfig {
  const record = (typeof value === 'object' && value !== null ? value : {}) as Partial<SamplerConfig>;
  return {
    method: record.method === 'ddpm' ? 'ddpm' : 'ddim',
    steps: typeof record.steps === 'number' ? record.steps : DEFAULT_SAMPLER.steps,
    eta: typeof record.eta === 'number' ? record.eta : DEFAULT_SAMPLER.eta,
    guidanceScale:
      typeof record.guidanceScale === 'number' ? record.guidanceScale : DEFAULT_SAMPLER.guidanceScale,
    clipDenoised:
      typeof record.clipDenoised === 'boolean' ? record.clipDenoised : DEFAULT_SAMPLER.clipDenoised,
  };
}

/** Loads a diffusion model directory; refuses a classifier (MODEL_INVALID naming the file). */
export async function loadDiffusionModel(dir: string): Promise<LoadedDiffusionModel> {
  const { model, meta } = await loadModel(dir);
  if (meta.kind !== 'diffusion') {
    model.dispose();
    throw new DistilleryError(
      'MODEL_INVALID',
      `${join(dir, 'distillery.json')}: expected a diffusion model, got a ${meta.kind}`,
      {
        file: join(dir, 'distillery.json'),
        expected: 'kind "diffusion"',
        received: meta.kind,
      },
    );
  }
  const section = (meta.diffusion ?? {}) as Partial<DiffusionSection>;
  const scheduleConfig = readScheduleConfig(section.schedule) ?? null;
  const diffusion: DiffusionSection = {
    schedule: scheduleConfig,
    prediction: 'epsilon',
    classDropout: typeof section.classDropout === 'number' ? section.classDropout : 0,
    sampler: readSampler(section.sampler),
    history: Array.isArray(section.history) ? section.history : [],
  };
  const spec = unetSpecOf(model);
  return {
    model,
    meta: { ...meta, kind: 'diffusion', diffusion },
    spec,
    schedule: scheduleConfig ? createNoiseSchedule(scheduleConfig) : undefined,
  };
}

/** What `diffusion.json` holds: enough to sample the exported model with stock tfjs. */
export function diffusionDescription(
  meta: DiffusionModelMeta,
  spec: UnetSpec,
  schedule: NoiseSchedule,
): Record<string, unknown> {
  return {
    format: 1,
    producer: 'Distillery',
    architecture: meta.architecture,
    prediction: 'epsilon: the model outputs the noise eps added to x0',
    dataRange: [-1, 1],
    pixels: 'image = (x0 + 1) / 2, in [0, 1]',
    imageShape: [spec.imageSize, spec.imageSize, spec.channels],
    classNames: meta.classNames,
    inputs: {
      image: { shape: [null, spec.imageSize, spec.imageSize, spec.channels], meaning: 'x_t' },
      time: {
        shape: [null, spec.timeEmbedDim],
        meaning: 'sinusoidal embedding of the 0-based timestep t',
        formula: `half = ${spec.timeEmbedDim / 2}; w_i = exp(-ln(${TIME_EMBEDDING_MAX_PERIOD}) * i / half); emb = [sin(t * w_0..half-1), cos(t * w_0..half-1)]`,
      },
      class: {
        shape: [null, spec.numClasses + 1],
        meaning: `one-hot class; slot ${spec.numClasses} is the null class (unconditional, for classifier-free guidance)`,
      },
    },
    schedule: scheduleDescription(schedule),
    classDropout: meta.diffusion.classDropout,
    sampler: {
      defaults: meta.diffusion.sampler,
      timesteps:
        'trailing: t_i = round(T - i*T/steps) - 1 for i = 0..steps-1, then the clean image (alphaBar = 1)',
      guidance: 'eps = eps_null + guidanceScale * (eps_class - eps_null)',
      x0: 'x0_hat = (x_t - sqrt(1 - aBar_t) * eps) / sqrt(aBar_t); when clipDenoised it is clipped to [-1, 1] and DDIM uses eps = (x_t - sqrt(aBar_t) * x0_hat) / sqrt(1 - aBar_t)',
      ddim: "x_t' = sqrt(aBar_t') * x0_hat + sqrt(1 - aBar_t' - sigma^2) * eps + sigma * z, sigma = eta * sqrt((1 - aBar_t')/(1 - aBar_t)) * sqrt(1 - aBar_t/aBar_t')",
      ddpm: "beta = 1 - aBar_t/aBar_t'; x_t' = sqrt(aBar_t')*beta/(1-aBar_t) * x0_hat + sqrt(1-beta)*(1-aBar_t')/(1-aBar_t) * x_t + sqrt(beta) * z (no noise on the last step)",
    },
    history: meta.diffusion.history,
  };
}

/** Saves a diffusion model with its meta and, when it has a schedule, `diffusion.json`. */
export async function saveDiffusionModel(
  model: tf.LayersModel,
  dir: string,
  meta: DiffusionModelMeta,
): Promise<string> {
  await saveModel(model, dir, meta);
  if (meta.diffusion.schedule) {
    const schedule = createNoiseSchedule(meta.diffusion.schedule);
    writeFileSync(
      join(dir, DIFFUSION_JSON),
      JSON.stringify(diffusionDescription(meta, unetSpecOf(model), schedule), null, 2),
    );
  }
  return dir;
}
