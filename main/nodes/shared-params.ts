/**
 * Param groups that several node types share (train, distill, prune, the diffusion trainers) and
 * the name lists they choose from, declared once for the editor, the validator and the worker.
 */
import { boolean, choice, integer, number, type ParamProblem, type ParamValues } from './define';

export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'adamw', 'lion'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];
export const SCHEDULES = ['constant', 'step', 'cosine', 'warmup-cosine', 'one-cycle', 'rex'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];
/** Metrics early stopping may watch. */
export const MONITORS = ['val_loss', 'val_accuracy', 'loss', 'accuracy'] as const;
export type Monitor = (typeof MONITORS)[number];
/** Dataset splits a node may score, in the order the editor offers them. */
export const SCORED_SPLITS = ['test', 'validation', 'train'] as const;

export const optimizerParams = {
  epochs: integer({ default: 3, min: 1, max: 10_000, help: 'Passes over the training set.' }),
  batchSize: integer({ default: 64, min: 1, max: 65_536, help: 'Examples per optimisation step.' }),
  optimizer: choice({
    default: 'adam',
    choices: OPTIMIZERS,
    help: 'sgd, heavy-ball momentum, Adam, AdamW (decoupled weight decay) or Lion (sign update; use a 3–10× smaller learning rate).',
  }),
  learningRate: number({ default: 0.001, min: 0, max: 10, help: 'Peak learning rate η₀.' }),
  momentum: number({
    default: 0.9,
    min: 0,
    max: 1,
    exclusiveMax: true,
    help: 'Momentum coefficient (momentum optimizer).',
    visibleWhen: { optimizer: ['momentum'] },
  }),
  beta1: number({
    default: 0.9,
    min: 0,
    max: 1,
    exclusiveMax: true,
    help: 'First-moment decay (Adam, AdamW, Lion).',
    visibleWhen: { optimizer: ['adam', 'adamw', 'lion'] },
  }),
  beta2: number({
    default: 0.999,
    min: 0,
    max: 1,
    exclusiveMax: true,
    help: 'Second-moment decay (Adam, AdamW).',
    visibleWhen: { optimizer: ['adam', 'adamw'] },
  }),
  lionBeta2: number({
    default: 0.99,
    min: 0,
    max: 1,
    exclusiveMax: true,
    help: 'Momentum decay of Lion (β₂ in Chen et al.).',
    visibleWhen: { optimizer: ['lion'] },
  }),
  weightDecay: number({
    default: 0,
    min: 0,
    max: 1,
    help: 'Decoupled decay λ for AdamW and Lion; classic L2 added to the gradient for sgd, momentum and Adam.',
  }),
  schedule: choice({
    default: 'constant',
    choices: SCHEDULES,
    help: 'Learning-rate schedule: constant, step decay, cosine, linear warm-up + cosine, one-cycle, or REX.',
  }),
  warmupSteps: integer({
    default: 0,
    min: 0,
    max: 10_000_000,
    help: 'Linear warm-up steps (warmup-cosine).',
    visibleWhen: { schedule: ['warmup-cosine'] },
  }),
  stepEvery: integer({
    default: 0,
    min: 0,
    max: 10_000_000,
    help: 'Step decay period in steps; 0 = one epoch.',
    visibleWhen: { schedule: ['step'] },
  }),
  stepGamma: number({
    default: 0.1,
    min: 0,
    max: 1,
    help: 'Step decay factor.',
    visibleWhen: { schedule: ['step'] },
  }),
  minLearningRate: number({
    default: 0,
    min: 0,
    max: 10,
    help: 'Floor of the cosine schedules.',
    visibleWhen: { schedule: ['cosine', 'warmup-cosine'] },
  }),
  gradientClip: number({
    default: 0,
    min: 0,
    max: 1e6,
    help: 'Clip gradients to this global L2 norm; 0 = off.',
  }),
  checkpointEvery: integer({
    default: 0,
    min: 0,
    max: 10_000_000,
    help: 'Checkpoint every N steps; 0 = at the end of each epoch.',
  }),
  shuffle: boolean({
    default: true,
    help: 'Shuffle the training set each epoch (seeded, so resume is exact).',
  }),
};

export const validationParams = {
  validationSplit: number({
    default: 0,
    min: 0,
    max: 0.5,
    help: 'Fraction of the training set held out for validation when the dataset has no validation split.',
  }),
  earlyStopping: boolean({ default: false, help: 'Stop when the monitored metric stops improving.' }),
  monitor: choice({
    default: 'val_loss',
    choices: MONITORS,
    help: 'Metric watched by early stopping.',
    visibleWhen: { earlyStopping: [true] },
  }),
  patience: integer({
    default: 3,
    min: 0,
    max: 1000,
    help: 'Epochs without improvement before stopping.',
    visibleWhen: { earlyStopping: [true] },
  }),
  minDelta: number({
    default: 0,
    min: 0,
    max: 1e6,
    help: 'Smallest change that counts as an improvement.',
    visibleWhen: { earlyStopping: [true] },
  }),
  restoreBest: boolean({
    default: true,
    help: 'On early stop, restore the weights of the best epoch.',
    visibleWhen: { earlyStopping: [true] },
  }),
};

/** The optimiser and schedule params every training node resolves (train, distill, prune, …). */
export type OptimizerParams = ParamValues<typeof optimizerParams>;
/** The validation and early-stopping params of train and distill. */
export type ValidationParams = ParamValues<typeof validationParams>;

/** Cross-param checks shared by every node that takes optimizerParams. */
export function checkOptimizerParams(params: Pick<OptimizerParams, 'learningRate' | 'minLearningRate'>) {
  const issues: ParamProblem[] = [];
  const lr = params.learningRate;
  const minLr = params.minLearningRate;
  if (minLr > lr) {
    issues.push({
      param: 'minLearningRate',
      expected: `≤ learningRate (${lr})`,
      received: minLr,
      message: `minLearningRate must not exceed learningRate (${lr}), got ${minLr}`,
    });
  }
  return issues;
}

/** How train and distill average weights along training (SWA, EMA) for the model they save. */
export const AVERAGING_METHODS = ['none', 'swa', 'ema'] as const;
export type AveragingMethod = (typeof AVERAGING_METHODS)[number];
/** Augmentations of training batches. */
export const AUGMENTATIONS = ['none', 'translate'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];

/**
 * Checkpoint averaging and kept checkpoints (train, distill): the `model` output is the averaged
 * model, `raw` the final weights before averaging, `checkpoints` the last kept checkpoints.
 */
export const averagingParams = {
  average: choice({
    default: 'none',
    choices: AVERAGING_METHODS,
    help:
      'Save an average of the weights along training as the model: "swa" (Izmailov et al. 2018) is the equal-weight mean of the weights at the end of each epoch from averageStart on; ' +
      '"ema" updates θ̄ ← d·θ̄ + (1 − d)·θ after every step from averageStart on. The final weights before averaging are the "raw" output.',
  }),
  averageStart: integer({
    default: 1,
    min: 1,
    max: 10_000,
    help: 'First epoch (1-based) whose weights enter the average: SWA takes its end, EMA starts after its first step.',
    visibleWhen: { average: ['swa', 'ema'] },
  }),
  averageDecay: number({
    default: 0.999,
    min: 0,
    max: 1,
    exclusiveMax: true,
    help: 'EMA decay d (0.999 averages over about the last 1,000 steps).',
    visibleWhen: { average: ['ema'] },
  }),
  keepCheckpoints: integer({
    default: 0,
    min: 0,
    max: 100,
    help: 'Keep the weights of the last N scheduled checkpoints (every checkpointEvery steps, or each epoch’s end) as the "checkpoints" output, for a merge node (LCSC); 0 = none.',
  }),
};

/** Augmentation of the training batches (train, distill). */
export const augmentParams = {
  augment: choice({
    default: 'none',
    choices: AUGMENTATIONS,
    help: '"translate": shift each training image by a random whole number of pixels, up to augmentShift in each direction, filling with zeros (Hinton et al. 2015 jittered MNIST by up to 2 pixels). Drawn per step from the run’s seed, so resume is exact. Needs image data [height, width, channels].',
  }),
  augmentShift: integer({
    default: 2,
    min: 1,
    max: 16,
    help: 'Largest translation, in pixels, along each axis.',
    visibleWhen: { augment: ['translate'] },
  }),
};

export type AveragingParams = ParamValues<typeof averagingParams>;
export type AugmentParams = ParamValues<typeof augmentParams>;

/** Cross-param checks of the averaging group: averaging must start within the run. */
export function checkAveragingParams(
  params: Pick<AveragingParams, 'average' | 'averageStart'> & { epochs: number },
) {
  const issues: ParamProblem[] = [];
  if (params.average !== 'none' && params.averageStart > params.epochs) {
    issues.push({
      param: 'averageStart',
      expected: `≤ epochs (${params.epochs})`,
      received: params.averageStart,
      message: `averageStart must not be after the last epoch (${params.epochs}), got ${params.averageStart}: nothing would be averaged`,
    });
  }
  return issues;
}
