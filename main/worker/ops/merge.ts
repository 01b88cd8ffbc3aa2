/**
 * The `merge` op: combines the models linked to `models` (in link order) and the checkpoints of a
 * checkpoint set on `checkpoints` into one model by arithmetic on their weights (merge/*.ts), and
 * saves it as the task's `model` artifact with the architecture of the first input.
 *
 * With a dataset, every candidate and the merged model are scored on the held-out `split`
 * (metrics `ingredient_accuracy` at step i for the i-th candidate, then `accuracy` and `loss`);
 * greedy-soup, lcsc and chooseLambda need it. The greedy soup reports `soup_size` after each model
 * it tries, chooseLambda `lambda_score` per λ of the grid, lcsc `search_score` per generation.
 *
 * The merged model's meta carries `merge`: the method, λ / topK / the search's coefficients, and
 * `parents`, one entry per input link in order ({port, link, versionId, params}) whose params
 * (the method and the link's weight, scale, coefficient or λ) are what its lineage edge records.
 */
import { join } from 'node:path';
import type { ParamsOf } from '../../nodes/define';
import { TASK_VECTOR_METHODS, type mergeNode } from '../../nodes/merge';
import type { OpContext, OpSummary } from '../context';
import {
  linearCombination,
  taskArithmetic,
  uniformAverage,
  weightedAverage,
  addTaskVector,
  type Weights,
} from '../merge/combine';
import { chooseLambda, greedySoup } from '../merge/greedy-soup';
import { loadMergeInputs, readHeldOut, type Candidate } from '../merge/inputs';
import { searchCoefficients } from '../merge/lcsc';
import { objective, setWeightValues, SplitScorer, type SplitScore } from '../merge/model-weights';
import { tiesMerge } from '../merge/ties';
import { MODEL_DIR, saveModel, type ModelMeta } from '../models/model-file';
import { modelStats } from '../models/stats';
import { modelInputShape } from '../compress/op-support';

type MergeParams = ParamsOf<typeof mergeNode>;

/** A lineage entry of the merged model: one input link and how it entered the merge. */
interface MergeParent {
  port: 'models' | 'checkpoints' | 'base';
  link: number;
  versionId: string | null;
  params: Record<string, unknown>;
}

/** What needs held-out data, in words for the MISSING_INPUT message; undefined when nothing does. */
function heldOutReason(params: MergeParams): string | undefined {
  if (params.method === 'greedy-soup' || params.method === 'lcsc') return `method "${params.method}"`;
  if (TASK_VECTOR_METHODS.includes(params.method) && params.chooseLambda) return 'chooseLambda';
  return undefined;
}

/** Per-candidate coefficients as lineage params: one entry per `models` link, one for the checkpoint set. */
function combinationParents(
  method: string,
  candidates: readonly Candidate[],
  coefficients: readonly number[],
  extra: (index: number) => Record<string, unknown> = () => ({}),
): MergeParent[] {
  const parents: MergeParent[] = [];
  const fromSet: number[] = [];
  candidates.forEach((candidate, i) => {
    if (candidate.port === 'models') {
      parents.push({
        port: 'models',
        link: candidate.link,
        versionId: candidate.versionId,
        params: { method, coefficient: coefficients[i]!, ...extra(i) },
      });
    } else {
      fromSet.push(i);
    }
  });
  if (fromSet.length > 0) {
    parents.push({
      port: 'checkpoints',
      link: 0,
      versionId: candidates[fromSet[0]!]!.versionId,
      params: {
        method,
        steps: fromSet.map((i) => candidates[i]!.step),
        coefficients: fromSet.map((i) => coefficients[i]!),
      },
    });
  }
  return parents;
}

/** Merges the inputs; see the file comment. */
export async function merge(ctx: OpContext, params: MergeParams): Promise<OpSummary> {
  const usesBase = TASK_VECTOR_METHODS.includes(params.method);
  const inputs = await loadMergeInputs(ctx, { needsBase: usesBase, method: params.method });
  const { model, meta, candidates, base } = inputs;
  try {
    const models = candidates.map((candidate) => candidate.weights);
    const count = candidates.length;
    if (base && !usesBase) ctx.log(`Input "base" is not used by method "${params.method}"`, 'warn');
    if (params.weights.length > 0 && params.method !== 'weighted' && params.method !== 'task-arithmetic') {
      ctx.log(
        `weights are used by methods "weighted" and "task-arithmetic" only, not "${params.method}"`,
        'warn',
      );
    }
    const heldOut = readHeldOut(ctx, model, params.split, heldOutReason(params));
    const inputShape = modelInputShape(model, heldOut?.manifest.inputShape ?? meta.inputShape);
    const scorer = heldOut ? new SplitScorer(model, heldOut.data, inputShape) : undefined;
    const scoreOf = (weights: Weights): SplitScore => scorer!.score(weights);
    const evaluate = (weights: Weights): number => objective(scoreOf(weights), params.metric);
    ctx.log(
      `Merging ${count} models (${candidates.map((c) => c.label).join(', ')}) by ${params.method}` +
        (heldOut ? `, scored on ${heldOut.data.count} ${params.split} examples by ${params.metric}` : ''),
    );

    // Each candidate's own held-out score (the greedy soup ranks by these).
    let ingredientScores: SplitScore[] | undefined;
    if (scorer) {
      ingredientScores = models.map((weights, i) => {
        const score = scoreOf(weights);
        ctx.metric('ingredient_accuracy', score.accuracy, { step: i + 1 });
        return score;
      });
    }

    let merged: Weights;
    let parents: MergeParent[];
    const details: Record<string, unknown> = {};
    switch (params.method) {
      case 'uniform': {
        merged = uniformAverage(models);
        parents = combinationParents(
          params.method,
          candidates,
          models.map(() => 1 / count),
        );
        break;
      }
      case 'weighted': {
        merged = weightedAverage(models, params.weights);
        const total = params.weights.reduce((a, b) => a + b, 0);
        parents = combinationParents(
          params.method,
          candidates,
          params.weights.map((w) => w / total),
        );
        break;
      }
      case 'greedy-soup': {
        const soup = greedySoup(
          models,
          evaluate,
          ingredientScores!.map((score) => objective(score, params.metric)),
        );
        let size = 1;
        ctx.metric('soup_size', size, { step: 0 });
        soup.trials.forEach((trial, i) => {
          if (trial.added) size++;
          ctx.metric('soup_size', size, { step: i + 1 });
        });
        merged = soup.weights;
        const inSoup = new Set(soup.ingredients);
        parents = combinationParents(
          params.method,
          candidates,
          models.map((_, i) => (inSoup.has(i) ? 1 / soup.ingredients.length : 0)),
          (i) => ({ inSoup: inSoup.has(i), heldOutScore: soup.scores[i] }),
        );
        const labels = soup.ingredients.map((i) => candidates[i]!.label);
        details.ingredients = labels;
        details.trials = soup.trials.map((trial) => ({ ...trial, label: candidates[trial.index]!.label }));
        ctx.log(
          `Greedy soup of ${labels.length} of ${count}: ${labels.join(', ')} (held-out ${params.metric} ${soup.score.toFixed(4)})`,
        );
        break;
      }
      case 'task-arithmetic':
      case 'ties': {
        const origin = base!.weights;
        const scales = params.weights.length > 0 ? params.weights : models.map(() => 1);
        let build: (lambda: number) => Weights;
        if (params.method === 'ties') {
          const vector = tiesMerge(origin, models, { topK: params.topK, lambda: 1 }).merged;
          build = (lambda) => addTaskVector(origin, vector, lambda);
        } else {
          build = (lambda) => taskArithmetic(origin, models, lambda, scales);
        }
        let lambda = params.lambda;
        if (params.chooseLambda) {
          const choice = chooseLambda(build, evaluate);
          choice.scores.forEach((entry, i) => ctx.metric('lambda_score', entry.score, { step: i + 1 }));
          lambda = choice.lambda;
          merged = choice.weights;
          details.lambdaScores = choice.scores;
          ctx.log(`Chose λ = ${lambda} on held-out ${params.metric} (${choice.score.toFixed(4)})`);
        } else {
          merged = build(lambda);
        }
        ctx.metric('lambda', lambda, { step: 0 });
        details.lambda = lambda;
        if (params.method === 'ties') details.topK = params.topK;
        parents = candidates.map((candidate, i) => ({
          port: candidate.port,
          link: candidate.link,
          versionId: candidate.versionId,
          params: {
            method: params.method,
            lambda,
            ...(params.method === 'ties' ? { topK: params.topK } : { scale: scales[i]! }),
            ...(candidate.step !== undefined ? { step: candidate.step } : {}),
          },
        }));
        parents.push({
          port: 'base',
          link: 0,
          versionId: base!.versionId,
          params: { method: params.method, role: 'base' },
        });
        break;
      }
      case 'lcsc': {
        const search = searchCoefficients(
          count,
          (coefficients) => evaluate(linearCombination(models, coefficients)),
          { population: params.population, generations: params.generations, seed: params.seed },
        );
        search.history.forEach((score, generation) =>
          ctx.metric('search_score', score, { step: generation }),
        );
        merged = linearCombination(models, search.coefficients);
        parents = combinationParents(params.method, candidates, search.coefficients);
        details.coefficients = search.coefficients;
        details.bestSingle = {
          label: candidates[search.bestSingle.index]!.label,
          score: search.bestSingle.score,
        };
        details.evaluations = search.evaluations;
        ctx.log(
          `LCSC: coefficients ${search.coefficients.map((c) => c.toFixed(3)).join(', ')} score ${search.score.toFixed(4)} ` +
            `(best single checkpoint ${candidates[search.bestSingle.index]!.label}: ${search.bestSingle.score.toFixed(4)}; ${search.evaluations} evaluations)`,
        );
        break;
      }
    }

    const metrics: Record<string, number> = {};
    let final: SplitScore | undefined;
    if (scorer) {
      final = scoreOf(merged);
      ctx.metric('accuracy', final.accuracy, { step: 0 });
      ctx.metric('loss', final.loss, { step: 0 });
      const prefix = params.split === 'validation' ? 'val_' : params.split === 'test' ? 'test_' : '';
      metrics[`${prefix}accuracy`] = final.accuracy;
      metrics[`${prefix}loss`] = final.loss;
    }
    setWeightValues(model, merged);
    const mergeMeta = { method: params.method, ...details, parents };
    const outMeta: ModelMeta = { ...meta, trained: true, merge: mergeMeta };
    const outDir = join(ctx.taskDir, MODEL_DIR);
    await saveModel(model, outDir, outMeta);
    ctx.artifact('model', 'model', outDir, {
      ...modelStats(model),
      kind: meta.kind,
      architecture: meta.architecture,
      inputShape: meta.inputShape,
      numClasses: meta.numClasses,
      trained: true,
      merge: mergeMeta,
      metrics,
    });
    ctx.flush();
    return {
      method: params.method,
      models: candidates.map((candidate) => candidate.label),
      ...(ingredientScores ? { ingredientAccuracy: ingredientScores.map((score) => score.accuracy) } : {}),
      ...details,
      ...(final ? { accuracy: final.accuracy, loss: final.loss, split: params.split } : {}),
    };
  } finally {
    model.dispose();
  }
}
