/**
 * Choices a merge makes on held-out data, each given an evaluation callback that scores a set of
 * weights (higher is better: accuracy, or minus the loss):
 *
 * - the greedy soup (Wortsman et al. 2022, Algorithm 1): rank the models by their own score, start
 *   the soup with the best, and add each next one only if the uniform average of the soup with it
 *   scores at least as well as the soup without it. The soup therefore never scores below its best
 *   ingredient;
 * - λ for task arithmetic and TIES, chosen from 0.1, 0.2, …, 1.0 (Ilharco et al. 2023).
 */
import { uniformAverage, type Weights } from './combine';

/** Scores a model's weights on held-out data; higher is better. */
export type Evaluate = (weights: Weights) => number;

export interface GreedySoupResult {
  weights: Float32Array[];
  /** Indices of the models in the soup, in the order they were added. */
  ingredients: number[];
  /** The soup's score. */
  score: number;
  /** Each model's own score, by input position. */
  scores: number[];
  /** Each model tried after the first, in rank order: the soup's score with it, and whether it stayed. */
  trials: Array<{ index: number; score: number; added: boolean }>;
}

/** Indices sorted by score, best first; equal scores keep input order. */
export function rankByScore(scores: readonly number[]): number[] {
  return scores
    .map((score, index) => ({ score, index }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .map((entry) => entry.index);
}

/** The greedy soup of `models`; see the file comment. */
export function greedySoup(
  models: readonly Weights[],
  evaluate: Evaluate,
  scores: readonly number[] = models.map((model) => evaluate(model)),
): GreedySoupResult {
  const order = rankByScore(scores);
  const first = order[0]!;
  const ingredients = [first];
  let soup: Float32Array[] = models[first]!.map((values) => Float32Array.from(values));
  let best = scores[first]!;
  const trials: GreedySoupResult['trials'] = [];
  for (const index of order.slice(1)) {
    const candidate = uniformAverage([...ingredients, index].map((i) => models[i]!));
    const score = evaluate(candidate);
    const added = score >= best;
    trials.push({ index, score, added });
    if (added) {
      ingredients.push(index);
      soup = candidate;
      best = score;
    }
  }
  return { weights: soup, ingredients, score: best, scores: [...scores], trials };
}

/** The λ grid task arithmetic chooses from on validation data: 0.1, 0.2, …, 1.0. */
export const LAMBDA_GRID: readonly number[] = Array.from({ length: 10 }, (_, i) => (i + 1) / 10);

/**
 * The λ of `grid` whose merge scores best (the smallest such λ on a tie), with every λ's score.
 * `merge` builds the weights for one λ.
 */
export function chooseLambda(
  merge: (lambda: number) => Weights,
  evaluate: Evaluate,
  grid: readonly number[] = LAMBDA_GRID,
): { lambda: number; score: number; weights: Weights; scores: Array<{ lambda: number; score: number }> } {
  let chosen: { lambda: number; score: number; weights: Weights } | undefined;
  const scores: Array<{ lambda: number; score: number }> = [];
  for (const lambda of grid) {
    const weights = merge(lambda);
    const score = evaluate(weights);
    scores.push({ lambda, score });
    if (!chosen || score > chosen.score) chosen = { lambda, score, weights };
  }
  if (!chosen) throw new RangeError('chooseLambda needs a non-empty grid');
  return { ...chosen, scores };
}
