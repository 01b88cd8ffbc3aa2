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
  }),
  beta1: number({
    default: 0.9,
    min: 0,
    max: 1,
    exclusiveMax: true,
    help: 'First-moment decay (Adam, AdamW, Lion).',
  }),
  beta2: number({
    default: 0.999,
    min: 0,
    max: 1,
    exclusiveMax: true,
    help: 'Second-moment decay (Adam, AdamW).',
  }),
  lionBeta2: number({
    default: 0.99,
    min: 0,
    max: 1,
    exclusiveMax: true,
    help: 'Momentum decay of Lion (β₂ in Chen et al.).',
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
  }),
  stepEvery: integer({
    default: 0,
    min: 0,
    max: 10_000_000,
    help: 'Step decay period in steps; 0 = one epoch.',
  }),
  stepGamma: number({ default: 0.1, min: 0, max: 1, help: 'Step decay factor.' }),
  minLearningRate: number({ default: 0, min: 0, max: 10, help: 'Floor of the cosine schedules.' }),
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
  }),
  patience: integer({ default: 3, min: 0, max: 1000, help: 'Epochs without improvement before stopping.' }),
  minDelta: number({ default: 0, min: 0, max: 1e6, help: 'Smallest change that counts as an improvement.' }),
  restoreBest: boolean({ default: true, help: 'On early stop, restore the weights of the best epoch.' }),
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
