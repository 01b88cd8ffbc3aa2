import {
  boolean,
  choice,
  defineNodeType,
  integer,
  list,
  number,
  port,
  type ParamProblem,
  type ParamValues,
} from './define';

/** How a merge node combines its models. */
export const MERGE_METHODS = [
  'uniform',
  'weighted',
  'greedy-soup',
  'task-arithmetic',
  'ties',
  'lcsc',
] as const;
export type MergeMethod = (typeof MERGE_METHODS)[number];
/** Methods that add task vectors θ_i − θ_base to a `base` model. */
export const TASK_VECTOR_METHODS: readonly MergeMethod[] = ['task-arithmetic', 'ties'];
/** Splits a merge may score candidates on, held-out first. */
export const MERGE_SPLITS = ['validation', 'test', 'train'] as const;
/** What a merge's choices maximise on held-out data. */
export const MERGE_METRICS = ['accuracy', 'loss'] as const;

const mergeParams = {
  method: choice({
    default: 'uniform',
    choices: MERGE_METHODS,
    help:
      '"uniform": mean of the weights (uniform soup). "weighted": Σ wᵢθᵢ / Σ wᵢ. ' +
      '"greedy-soup" (Wortsman et al. 2022): rank the models by held-out score and add each to the soup only if the soup does not get worse. ' +
      '"task-arithmetic" (Ilharco et al. 2023): θ_base + λ·Σ sᵢ(θᵢ − θ_base). ' +
      '"ties" (Yadav et al. 2023): trim each task vector to its top-k% magnitudes, elect a sign per weight, average the agreeing entries, scale by λ. ' +
      '"lcsc" (Liu et al. 2024): evolutionary search for the coefficients of a linear combination (of a checkpoint set, or of the models) on held-out data.',
  }),
  weights: list({
    of: 'number',
    default: [],
    min: -1000,
    max: 1000,
    help: '"weighted": one weight per model, in link order (normalised by their sum). "task-arithmetic": one scale sᵢ per task vector (default 1 each; a negative one removes that task).',
    visibleWhen: { method: ['weighted', 'task-arithmetic'] },
  }),
  lambda: number({
    default: 1,
    min: -10,
    max: 10,
    help: 'task-arithmetic and ties: scale λ of the task vectors; λ < 0 subtracts them (negation: the model forgets those tasks).',
    visibleWhen: { method: ['task-arithmetic', 'ties'] },
  }),
  chooseLambda: boolean({
    default: false,
    help: 'task-arithmetic and ties: choose λ from 0.1, 0.2, …, 1.0 on the dataset’s held-out split instead of using lambda.',
    visibleWhen: { method: ['task-arithmetic', 'ties'] },
  }),
  topK: number({
    default: 20,
    min: 0,
    max: 100,
    help: 'ties: percentage of each task vector’s entries kept, by magnitude (Yadav et al.: 20).',
    visibleWhen: { method: ['ties'] },
  }),
  population: integer({
    default: 16,
    min: 2,
    max: 1000,
    help: 'lcsc: candidates kept per generation.',
    visibleWhen: { method: ['lcsc'] },
  }),
  generations: integer({
    default: 20,
    min: 0,
    max: 10_000,
    help: 'lcsc: generations of the search.',
    visibleWhen: { method: ['lcsc'] },
  }),
  seed: integer({
    default: 0,
    min: 0,
    max: 2_147_483_647,
    help: 'lcsc: seed of the search; the same seed and inputs give the same coefficients.',
    visibleWhen: { method: ['lcsc'] },
  }),
  split: choice({
    default: 'validation',
    choices: MERGE_SPLITS,
    help: 'The dataset split greedy-soup, lcsc and chooseLambda score on (and the merged model is reported on).',
  }),
  metric: choice({
    default: 'accuracy',
    choices: MERGE_METRICS,
    help: 'What those choices maximise: accuracy, or minus the cross-entropy loss.',
  }),
};

/** Cross-param checks of `merge`. */
function checkMergeParams(params: ParamValues<typeof mergeParams>): ParamProblem[] {
  const issues: ParamProblem[] = [];
  if (params.method === 'weighted') {
    const total = params.weights.reduce((a, b) => a + b, 0);
    if (params.weights.length === 0 || total === 0) {
      issues.push({
        param: 'weights',
        expected: 'one weight per model, with a non-zero sum',
        received: params.weights,
        message:
          params.weights.length === 0
            ? 'method "weighted" needs weights: one per model, in link order'
            : `weights must not sum to 0, got ${JSON.stringify(params.weights)}`,
      });
    }
  }
  if (params.method === 'ties' && params.topK <= 0) {
    issues.push({
      param: 'topK',
      expected: '0 < topK ≤ 100',
      received: params.topK,
      message: `topK must be above 0 (it is the percentage of each task vector kept), got ${params.topK}`,
    });
  }
  return issues;
}

/**
 * Merging models: averaging (uniform, weighted, greedy soup), task vectors (task arithmetic, TIES)
 * and LCSC over saved checkpoints. The merged model has the architecture of the first model, which
 * all inputs must share.
 */
export const mergeNode = defineNodeType({
  type: 'merge',
  version: 1,
  title: 'Merge',
  category: 'train',
  help:
    'Combines models of one architecture into one by arithmetic on their weights: uniform or weighted averaging, the greedy soup, task arithmetic (also negation, λ < 0), TIES-merging, ' +
    'or LCSC over a train task’s kept checkpoints. Models whose layers or weight shapes differ are refused, naming the first difference. ' +
    'With a dataset, reports the held-out accuracy of every ingredient and of the merged model.',
  inputs: {
    models: port('model', {
      multiple: true,
      minLinks: 2,
      optional: true,
      help: 'The models to merge, in link order (at least two once linked): e.g. fine-tunes of one initialisation.',
    }),
    base: port('model', {
      optional: true,
      help: 'The common starting point of the models (task-arithmetic and ties subtract it to get task vectors).',
    }),
    checkpoints: port('model', {
      optional: true,
      help: 'A checkpoint set (a train or distill task’s "checkpoints" output): its checkpoints join the candidates, after the models (lcsc).',
    }),
    dataset: port('dataset', {
      optional: true,
      help: 'Held-out data for greedy-soup, lcsc and chooseLambda (the split param chooses the split).',
    }),
  },
  outputs: { model: port('model', { help: 'The merged model.' }) },
  params: mergeParams,
  check: checkMergeParams,
  lineageParams: (params) => {
    switch (params.method) {
      case 'task-arithmetic':
        return ['method', 'lambda', 'chooseLambda'];
      case 'ties':
        return ['method', 'lambda', 'chooseLambda', 'topK'];
      case 'lcsc':
        return ['method', 'population', 'generations', 'seed'];
      default:
        return ['method'];
    }
  },
  metrics: ['accuracy', 'loss', 'ingredient_accuracy', 'soup_size', 'lambda', 'lambda_score', 'search_score'],
});
