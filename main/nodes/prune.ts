import {
  choice,
  defineNodeType,
  integer,
  list,
  number,
  port,
  type ParamProblem,
  type ParamValues,
} from './define';
import { checkOptimizerParams, optimizerParams, validationParams } from './shared-params';

export const PRUNE_METHODS = ['magnitude', 'n:m', 'structured'] as const;
export type PruneMethod = (typeof PRUNE_METHODS)[number];
/** Magnitude pruning ranks all layers' weights together or each layer on its own. */
export const PRUNE_SCOPES = ['global', 'layer'] as const;
export type PruneScope = (typeof PRUNE_SCOPES)[number];
export const PRUNING_SCHEDULES = ['one-shot', 'agp'] as const;
export type PruningSchedule = (typeof PRUNING_SCHEDULES)[number];
/** Norms that rank units and filters for structured pruning. */
export const NORM_CRITERIA = ['l1', 'l2'] as const;
export type NormCriterion = (typeof NORM_CRITERIA)[number];

const pruneParams = {
  method: choice({
    default: 'magnitude',
    choices: PRUNE_METHODS,
    help: 'Unstructured magnitude pruning, N:M semi-structured sparsity, or structured removal of units / filters.',
  }),
  sparsity: number({
    default: 0.9,
    min: 0,
    max: 1,
    exclusiveMax: true,
    help: 'Target fraction of kernel weights set to zero (magnitude), or of units / filters removed from each hidden layer (structured). Han et al.: 0.92 (8% kept).',
    visibleWhen: { method: ['magnitude', 'structured'] },
  }),
  scope: choice({
    default: 'global',
    choices: PRUNE_SCOPES,
    help: 'Magnitude pruning: rank all layers’ weights together (one threshold) or prune each layer to the same fraction.',
    visibleWhen: { method: ['magnitude'] },
  }),
  pruningSchedule: choice({
    default: 'agp',
    choices: PRUNING_SCHEDULES,
    help: 'Magnitude pruning: prune to the target at once, then fine-tune; or ramp sparsity up with AGP while fine-tuning.',
  }),
  initialSparsity: number({
    default: 0,
    min: 0,
    max: 1,
    exclusiveMax: true,
    help: 'AGP: sparsity s_i at the first pruning step.',
    visibleWhen: { pruningSchedule: ['agp'] },
  }),
  startStep: integer({
    default: 0,
    min: 0,
    max: 10_000_000,
    help: 'AGP: step t₀ of the first pruning.',
    visibleWhen: { pruningSchedule: ['agp'] },
  }),
  pruneEvery: integer({
    default: 50,
    min: 1,
    max: 10_000_000,
    help: 'AGP: steps Δt between prunings.',
    visibleWhen: { pruningSchedule: ['agp'] },
  }),
  rampSteps: integer({
    default: 0,
    min: 0,
    max: 10_000_000,
    help: 'AGP: steps n·Δt from the first pruning to the final sparsity; 0 = 75% of the fine-tuning steps after t₀ (the rest recovers at the final sparsity).',
    visibleWhen: { pruningSchedule: ['agp'] },
  }),
  n: integer({
    default: 2,
    min: 1,
    max: 64,
    help: 'N:M: weights kept in each group.',
    visibleWhen: { method: ['n:m'] },
  }),
  m: integer({
    default: 4,
    min: 1,
    max: 64,
    help: 'N:M: group size along the input axis.',
    visibleWhen: { method: ['n:m'] },
  }),
  criterion: choice({
    default: 'l1',
    choices: NORM_CRITERIA,
    help: 'Structured: norm of a unit’s / filter’s incoming weights used to rank it.',
    visibleWhen: { method: ['structured'] },
  }),
  excludeLayers: list({
    of: 'string',
    default: [],
    help: 'Names of layers left unpruned (e.g. "conv_1"). The output layer is never removed by structured pruning.',
  }),
  ...optimizerParams,
  epochs: integer({
    default: 2,
    min: 0,
    max: 10_000,
    help: 'Fine-tuning passes over the training set; 0 = prune only (one-shot), e.g. to find the accuracy knee.',
  }),
  validationSplit: validationParams.validationSplit,
};

/** Cross-param checks of `prune` (plus the optimiser's). */
function checkPruneParams(params: ParamValues<typeof pruneParams>): ParamProblem[] {
  const issues = checkOptimizerParams(params);
  const { method, pruningSchedule, n, m, sparsity, initialSparsity, epochs } = params;
  if (method === 'n:m' && n > m) {
    issues.push({
      param: 'n',
      expected: `≤ m (${m})`,
      received: n,
      message: `n must not exceed m (${m}), got ${n}`,
    });
  }
  if (pruningSchedule === 'agp') {
    if (method !== 'magnitude') {
      issues.push({
        param: 'pruningSchedule',
        expected: '"one-shot" for n:m and structured pruning',
        received: pruningSchedule,
        message: `the AGP schedule applies to magnitude pruning only; method "${method}" needs pruningSchedule "one-shot"`,
      });
    }
    if (initialSparsity > sparsity) {
      issues.push({
        param: 'initialSparsity',
        expected: `≤ sparsity (${sparsity})`,
        received: initialSparsity,
        message: `initialSparsity must not exceed sparsity (${sparsity}), got ${initialSparsity}`,
      });
    }
    if (epochs === 0) {
      issues.push({
        param: 'epochs',
        expected: '≥ 1 with the AGP schedule',
        received: epochs,
        message: 'the AGP schedule prunes while fine-tuning, so it needs at least 1 epoch',
      });
    }
  }
  return issues;
}

/**
 * Pruning: unstructured magnitude (global or layer-wise, one-shot or AGP), N:M semi-structured, or
 * structured (whole units / filters, rewired into a smaller model), then fine-tuning with the masks
 * held fixed.
 */
export const pruneNode = defineNodeType({
  type: 'prune',
  version: 1,
  title: 'Prune',
  category: 'compress',
  help:
    'Removes weights and fine-tunes. "magnitude": zeroes the smallest weights of Dense and Conv2D kernels, ' +
    'ranked over all layers (global) or per layer, at once (one-shot) or gradually with the AGP cubic schedule ' +
    '(Zhu & Gupta 2017); pruned weights stay exactly zero while fine-tuning. "n:m": keeps the N largest of every M ' +
    'consecutive input weights (2:4). "structured": removes whole units and filters with the lowest L1/L2 norm and ' +
    'rewires the next layer: a smaller, faster model. Reports per-layer sparsity. TensorFlow.js exports stay dense; ' +
    '`evaluate` reports the size a sparse encoding would need.',
  inputs: {
    model: port('model', { help: 'A classifier (a diffusion model is refused).' }),
    dataset: port('dataset', { help: 'Fine-tuning data (train split; validation split if present).' }),
  },
  outputs: { model: port('model', { help: 'The pruned, fine-tuned model.' }) },
  params: pruneParams,
  check: checkPruneParams,
  lineageParams: (params) => {
    switch (params.method) {
      case 'n:m':
        return ['method', 'n', 'm'];
      case 'structured':
        return ['method', 'sparsity', 'criterion'];
      default:
        return ['method', 'sparsity', 'scope', 'pruningSchedule'];
    }
  },
  metrics: [
    'accuracy_before',
    'accuracy_pruned',
    'sparsity',
    'accuracy',
    'loss',
    'epoch_loss',
    'val_accuracy',
    'val_loss',
    'param_count_before',
    'param_count_after',
    'latency_ms_before',
    'latency_ms_after',
  ],
});
