import { choice, defineNodeType, integer, list, number, port } from './define';
import { NOISE_SCHEDULES, previewParams } from './diffusion-params';
import { checkOptimizerParams, optimizerParams, SCHEDULES } from './shared-params';

/** DDPM training (Ho et al. 2020) of a U-Net on an image dataset. */
export const diffusionTrainNode = defineNodeType({
  type: 'diffusion.train',
  version: 1,
  title: 'Train diffusion',
  category: 'diffusion',
  help:
    'Trains a denoising diffusion model: ε-prediction with the mean squared error at a uniformly drawn timestep, a linear or cosine noise schedule, ' +
    'classes dropped to a null class for classifier-free guidance, and an exponential moving average of the weights (saved as the result). ' +
    'Streams loss, smoothed loss (loss_ema), learning rate and samples/s per step and a grid of samples as it trains; checkpoints so a cancelled run resumes exactly.',
  inputs: {
    model: port('diffusion-model', { help: 'A U-Net (model.unet) or a diffusion model to train further.' }),
    dataset: port('dataset', {
      help: 'Images; resized to the model’s size. A validation split is scored each epoch.',
    }),
  },
  outputs: { model: port('diffusion-model') },
  params: {
    ...optimizerParams,
    epochs: integer({ default: 5, min: 1, max: 10_000, help: 'Passes over the training images.' }),
    batchSize: integer({ default: 64, min: 1, max: 65_536, help: 'Images per optimisation step.' }),
    learningRate: number({ default: 0.002, min: 0, max: 10, help: 'Peak learning rate η₀.' }),
    schedule: choice({
      default: 'warmup-cosine',
      choices: SCHEDULES,
      help: 'Learning-rate schedule (not the noise schedule).',
    }),
    warmupSteps: integer({
      default: 200,
      min: 0,
      max: 10_000_000,
      help: 'Linear warm-up steps (warmup-cosine).',
      visibleWhen: { schedule: ['warmup-cosine'] },
    }),
    gradientClip: number({
      default: 1,
      min: 0,
      max: 1e6,
      help: 'Clip gradients to this global L2 norm; 0 = off.',
    }),
    noiseSchedule: choice({
      default: 'linear',
      choices: NOISE_SCHEDULES,
      help: 'β schedule: linear from betaStart to betaEnd (Ho et al.) or cosine (Nichol & Dhariwal, s = 0.008, β ≤ 0.999).',
    }),
    timesteps: integer({ default: 1000, min: 2, max: 100_000, help: 'T, the number of diffusion steps.' }),
    betaStart: number({
      default: 0.0001,
      min: 0.0000001,
      max: 1,
      help: 'β₁ of the linear schedule.',
      visibleWhen: { noiseSchedule: ['linear'] },
    }),
    betaEnd: number({
      default: 0.02,
      min: 0.0000001,
      max: 1,
      help: 'β_T of the linear schedule.',
      visibleWhen: { noiseSchedule: ['linear'] },
    }),
    classDropout: number({
      default: 0.1,
      min: 0,
      max: 1,
      help: 'Fraction of examples trained with the null class, so the model also learns the unconditional ε (classifier-free guidance).',
    }),
    emaDecay: number({
      default: 0.999,
      min: 0,
      max: 1,
      exclusiveMax: true,
      help: 'Decay of the exponential moving average of the weights (warm-up min(decay, (1+n)/(10+n))); the average is the saved model. 0 = off.',
    }),
    classes: list({
      of: 'integer',
      default: [],
      min: 0,
      max: 100_000,
      help: 'Train only on these classes (indices); empty = all.',
    }),
    ...previewParams,
  },
  check: (params) => [
    ...checkOptimizerParams(params),
    ...(params.noiseSchedule === 'linear' && params.betaEnd <= params.betaStart
      ? [
          {
            param: 'betaEnd',
            expected: `> betaStart (${params.betaStart})`,
            received: params.betaEnd,
            message: `betaEnd must exceed betaStart (${params.betaStart}), got ${params.betaEnd}`,
          },
        ]
      : []),
  ],
  lineageParams: () => ['noiseSchedule', 'timesteps', 'epochs'],
});
