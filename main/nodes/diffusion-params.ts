/** Param groups shared by the diffusion node types. */
import { boolean, choice, integer, number, type ParamSpec } from './define';

export const SAMPLERS = ['ddim', 'ddpm'] as const;
export const LORA_TARGETS = ['all', 'conv', 'dense'] as const;
export const DIFFUSION_REWARDS = [
  'compressibility',
  'incompressibility',
  'brightness',
  'classifier',
] as const;

/** Sample grids streamed while a diffusion model trains. */
export const previewParams: Record<string, ParamSpec> = {
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
export function samplerParams(defaults: {
  steps: number;
  eta: number;
  guidanceScale: number;
}): Record<string, ParamSpec> {
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
export const loraParams: Record<string, ParamSpec> = {
  loraRank: integer({
    default: 4,
    min: 1,
    max: 1024,
    help: 'Rank r of each adapter (adds r·(fan-in + fan-out) parameters per kernel).',
  }),
  loraAlpha: number({ default: 4, min: 0.001, max: 1e6, help: 'LoRA α: the update is scaled by α / r.' }),
  loraTargets: choice({
    default: 'all',
    choices: LORA_TARGETS,
    help: 'Which kernels get adapters: every conv and dense kernel, or one kind.',
  }),
};
