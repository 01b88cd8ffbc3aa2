/** Param groups and name lists shared by the diffusion node types. */
import { boolean, choice, integer, number } from './define';

export const SAMPLERS = ['ddim', 'ddpm'] as const;
export type SamplerMethod = (typeof SAMPLERS)[number];
/** Which kernels get LoRA adapters. */
export const LORA_TARGETS = ['all', 'conv', 'dense'] as const;
export type LoraTargets = (typeof LORA_TARGETS)[number];
/** β schedules of the forward (noising) process. */
export const NOISE_SCHEDULES = ['linear', 'cosine'] as const;
export type NoiseScheduleKind = (typeof NOISE_SCHEDULES)[number];
/** Rewards computed from the images alone. */
export const IMAGE_REWARDS = ['compressibility', 'incompressibility', 'brightness'] as const;
/** Every reward DDPO can optimise: the image rewards and a classifier's probability of a class. */
export const DIFFUSION_REWARDS = [...IMAGE_REWARDS, 'classifier'] as const;
export type RewardName = (typeof DIFFUSION_REWARDS)[number];
/** What the fine-tuning nodes train: LoRA adapters or every weight. */
export const TUNING_METHODS = ['lora', 'full'] as const;

/** Sample grids streamed while a diffusion model trains. */
export const previewParams = {
  sampleEvery: integer({
    default: 0,
    min: 0,
    max: 10_000_000,
    help: 'Write a grid of samples (from the EMA weights when EMA is on) every N steps; 0 = at the end of each epoch.',
  }),
  sampleCount: integer({
    default: 20,
    min: 0,
    max: 400,
    help: 'Images per preview grid (each class in turn); 0 = no previews.',
  }),
  sampleSteps: integer({ default: 25, min: 1, max: 10_000, help: 'DDIM steps of the preview sampler.' }),
  guidanceScale: number({
    default: 2,
    min: 0,
    max: 50,
    help: 'Classifier-free guidance scale of the previews.',
  }),
};

/** Sampler settings (diffusion.sample, diffusion.evaluate). */
export function samplerParams(defaults: { steps: number; eta: number; guidanceScale: number }) {
  return {
    method: choice({
      default: 'ddim',
      choices: SAMPLERS,
      help: 'DDIM (Song et al.; deterministic with eta 0) or DDPM ancestral sampling (Ho et al.; respaced when steps < T).',
    }),
    steps: integer({
      default: defaults.steps,
      min: 1,
      max: 10_000,
      help: 'Denoising steps (at most the model’s T).',
    }),
    eta: number({
      default: defaults.eta,
      min: 0,
      max: 10,
      help: 'DDIM’s η: 0 = deterministic, 1 = DDPM-like noise (ignored by DDPM).',
      visibleWhen: { method: ['ddim'] },
    }),
    guidanceScale: number({
      default: defaults.guidanceScale,
      min: 0,
      max: 50,
      help: 'Classifier-free guidance w: ε = ε_null + w·(ε_class − ε_null). 1 = conditional only, 0 = unconditional.',
    }),
    clipDenoised: boolean({
      default: true,
      help: 'Clip the predicted clean image x̂₀ to [−1, 1] at every step.',
    }),
  };
}

/** LoRA adapters (diffusion.finetune, diffusion.ddpo). */
export const loraParams = {
  loraRank: integer({
    default: 4,
    min: 1,
    max: 1024,
    help: 'Rank r of each adapter (adds r·(fan-in + fan-out) parameters per kernel).',
    visibleWhen: { method: ['lora'] },
  }),
  loraAlpha: number({
    default: 4,
    min: 0.001,
    max: 1e6,
    help: 'LoRA α: the update is scaled by α / r.',
    visibleWhen: { method: ['lora'] },
  }),
  loraTargets: choice({
    default: 'all',
    choices: LORA_TARGETS,
    help: 'Which kernels get adapters: every conv and dense kernel, or one kind.',
    visibleWhen: { method: ['lora'] },
  }),
};
