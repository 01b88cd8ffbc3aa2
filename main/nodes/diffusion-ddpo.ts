import { boolean, choice, defineNodeType, integer, list, number, port } from './define';
import { DIFFUSION_REWARDS, SAMPLERS, TUNING_METHODS, loraParams } from './diffusion-params';
import { OPTIMIZERS, SCHEDULES, optimizerParams } from './shared-params';

export const DDPO_ALGORITHMS = ['ddpo-is', 'ddpo-sf'] as const;
export type DdpoAlgorithm = (typeof DDPO_ALGORITHMS)[number];
/** How rewards become advantages: over the batch, per prompt class, or as they are. */
export const ADVANTAGE_NORMALIZATIONS = ['batch', 'per-class', 'none'] as const;
export type AdvantageNormalization = (typeof ADVANTAGE_NORMALIZATIONS)[number];

/** DDPO (Black et al. 2023): reinforcement-learning fine-tuning of a diffusion model on a reward. */
export const diffusionDdpoNode = defineNodeType({
  type: 'diffusion.ddpo',
  version: 1,
  title: 'DDPO (RL fine-tune)',
  category: 'diffusion',
  help:
    'Policy-gradient fine-tuning through the sampling chain (“Training Diffusion Models with Reinforcement Learning”): each epoch samples chains with the current model, ' +
    'scores the images with a reward (PNG compressibility or incompressibility, brightness, or a classifier’s probability of a target class) and updates the model with ' +
    'the per-step log-likelihoods: DDPO-SF (REINFORCE) or DDPO-IS (importance sampling with PPO clipping). Advantages normalised per batch or per class. ' +
    'Streams reward mean/std/min/max, approx KL, clipped fraction, KL to the starting model and weight drift per epoch, and sample grids.',
  inputs: {
    model: port('diffusion-model', { help: 'A trained diffusion model.' }),
    reward_model: port('model', { optional: true, help: 'The classifier of the `classifier` reward.' }),
  },
  outputs: { model: port('diffusion-model') },
  params: {
    reward: choice({
      default: 'compressibility',
      choices: DIFFUSION_REWARDS,
      help: 'compressibility = −PNG size (kB), incompressibility = +PNG size, brightness = mean pixel, classifier = p(targetClass) under reward_model.',
    }),
    targetClass: integer({
      default: 0,
      min: 0,
      max: 100_000,
      help: 'Class whose probability the classifier reward maximises.',
      visibleWhen: { reward: ['classifier'] },
    }),
    algorithm: choice({
      default: 'ddpo-is',
      choices: DDPO_ALGORITHMS,
      help: 'DDPO-IS (importance sampling + clipping) or DDPO-SF (score function / REINFORCE).',
    }),
    epochs: integer({ default: 20, min: 1, max: 100_000, help: 'Sampling + update rounds.' }),
    samplesPerEpoch: integer({
      default: 32,
      min: 2,
      max: 100_000,
      help: 'Chains sampled (and scored) per epoch.',
    }),
    trainBatchSize: integer({
      default: 16,
      min: 1,
      max: 100_000,
      help: 'Chains per optimiser step (gradients averaged over their timesteps).',
    }),
    innerEpochs: integer({
      default: 1,
      min: 1,
      max: 100,
      help: 'Passes over each epoch’s samples (DDPO-IS reuses them; SF is on-policy only for 1).',
    }),
    promptClasses: list({
      of: 'integer',
      default: [-1],
      min: -1,
      max: 100_000,
      help: 'Classes the chains are conditioned on, in turn (the “prompts”); −1 = unconditional.',
    }),
    clipRange: number({
      default: 0.0001,
      min: 0.0000001,
      max: 10,
      help: 'ε of DDPO-IS: ratios are clipped to [1 − ε, 1 + ε] (paper: 1e-4).',
      visibleWhen: { algorithm: ['ddpo-is'] },
    }),
    advantageClip: number({ default: 5, min: 0.001, max: 1e6, help: 'Advantages are clipped to ±this.' }),
    advantageNormalization: choice({
      default: 'batch',
      choices: ADVANTAGE_NORMALIZATIONS,
      help: 'Normalise rewards to advantages over the whole batch, per prompt class (the paper’s per-prompt stat tracking), or not at all.',
    }),
    timestepFraction: number({
      default: 1,
      min: 0.01,
      max: 1,
      help: 'Fraction of the stochastic denoising steps trained per minibatch (drawn at random).',
    }),
    sampler: choice({
      default: 'ddim',
      choices: SAMPLERS,
      help: 'Sampler whose steps are the policy’s actions (DDIM needs eta > 0).',
    }),
    sampleSteps: integer({
      default: 20,
      min: 2,
      max: 10_000,
      help: 'Denoising steps per chain (paper: 50).',
    }),
    eta: number({
      default: 1,
      min: 0.01,
      max: 10,
      help: 'DDIM η (paper: 1).',
      visibleWhen: { sampler: ['ddim'] },
    }),
    guidanceScale: number({
      default: 1,
      min: 0,
      max: 50,
      help: 'Classifier-free guidance of the sampled chains.',
    }),
    clipDenoised: boolean({ default: true, help: 'Clip x̂₀ to [−1, 1] in every step.' }),
    method: choice({
      default: 'lora',
      choices: TUNING_METHODS,
      help: 'Update LoRA adapters (merged into the saved model) or all weights.',
    }),
    ...loraParams,
    optimizer: choice({ default: 'adam', choices: OPTIMIZERS, help: optimizerParams.optimizer.help }),
    learningRate: number({
      default: 0.0003,
      min: 0,
      max: 10,
      help: 'Learning rate (paper: 3e-4 with LoRA).',
    }),
    beta1: optimizerParams.beta1,
    beta2: optimizerParams.beta2,
    lionBeta2: optimizerParams.lionBeta2,
    momentum: optimizerParams.momentum,
    weightDecay: optimizerParams.weightDecay,
    schedule: choice({
      default: 'constant',
      choices: SCHEDULES,
      help: 'Learning-rate schedule over all optimiser steps.',
    }),
    warmupSteps: optimizerParams.warmupSteps,
    minLearningRate: optimizerParams.minLearningRate,
    stepEvery: optimizerParams.stepEvery,
    stepGamma: optimizerParams.stepGamma,
    gradientClip: number({
      default: 1,
      min: 0,
      max: 1e6,
      help: 'Clip gradients to this global L2 norm; 0 = off.',
    }),
    sampleEvery: integer({
      default: 1,
      min: 0,
      max: 100_000,
      help: 'Write a grid of the epoch’s samples every N epochs; 0 = only the final grid.',
    }),
    reportKl: boolean({
      default: true,
      help: 'Report KL to the starting model along the sampled chains (one extra forward pass per step).',
    }),
  },
  lineageParams: (params) => [
    'algorithm',
    'reward',
    ...(params.reward === 'classifier' ? ['targetClass'] : []),
    'epochs',
    'method',
    'promptClasses',
  ],
});
