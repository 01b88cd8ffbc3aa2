/**
 * LCSC (Liu et al. 2024, "linear combination of saved checkpoints"): searches the coefficients c of
 * θ = Σ c_k·θ_k over K checkpoints with an evolutionary search on a validation metric, which need
 * not be differentiable (accuracy here).
 *
 * The search is a (μ + λ) evolution strategy with elitism:
 * - coefficients live on the plane Σ c_k = 1 (an affine combination, so a checkpoint on its own and
 *   the uniform average are members; single coefficients may be negative or above 1);
 * - the first candidates are every checkpoint alone (one-hot c), the uniform average, and mutants of
 *   the uniform average up to `population`; the best `population` of them form the population;
 * - each generation makes `population` children: a parent picked by a tournament of two, blended with
 *   a second one half the time, plus Gaussian noise of scale σ (σ₀ = 1/K, times 0.7 after a
 *   generation that found nothing better), projected back onto Σ c = 1;
 * - parents and children together are ranked by score (ties: the older first) and the best
 *   `population` survive.
 *
 * Every draw comes from one seeded generator, so a seed (with a deterministic metric) gives the same
 * search; and since the checkpoints alone are among the first candidates and the best candidate
 * always survives, the result never scores below the best single checkpoint.
 */
import { Rng, mixSeed } from '../train/rng';

/** Salt that keeps the search's stream apart from training's. */
const SALT_LCSC = 0x4c43_5343;

export interface LcscOptions {
  population: number;
  generations: number;
  seed: number;
}

export interface LcscCandidate {
  coefficients: number[];
  score: number;
}

export interface LcscResult extends LcscCandidate {
  /** The best checkpoint on its own: its position and score. */
  bestSingle: { index: number; score: number };
  /** The best score after the initial population (index 0) and after each generation. */
  history: number[];
  /** How many combinations were scored. */
  evaluations: number;
}

/** A standard normal draw (Box–Muller) from the seeded generator. */
function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Moves c onto the plane Σ c = 1 along (1, …, 1). */
export function projectToAffine(coefficients: readonly number[]): number[] {
  const shift = (1 - coefficients.reduce((a, b) => a + b, 0)) / coefficients.length;
  return coefficients.map((c) => c + shift);
}

/**
 * Searches the coefficients of `count` checkpoints; `evaluate` scores one coefficient vector
 * (higher is better), typically by combining the checkpoints and measuring validation accuracy.
 */
export function searchCoefficients(
  count: number,
  evaluate: (coefficients: readonly number[]) => number,
  options: LcscOptions,
): LcscResult {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`LCSC needs checkpoints, got ${count}`);
  const size = Math.max(1, Math.floor(options.population));
  const rng = new Rng(mixSeed(options.seed, SALT_LCSC));
  let evaluations = 0;
  let born = 0;
  type Member = LcscCandidate & { born: number };
  const score = (coefficients: number[]): Member => {
    evaluations++;
    return { coefficients, score: evaluate(coefficients), born: born++ };
  };
  const rank = (members: Member[]): Member[] =>
    [...members].sort((a, b) => b.score - a.score || a.born - b.born);

  let sigma = 1 / count;
  const uniform = Array.from({ length: count }, () => 1 / count);
  const singles = Array.from({ length: count }, (_, k) =>
    score(Array.from({ length: count }, (_, j) => (j === k ? 1 : 0))),
  );
  const bestSingle = rank(singles)[0]!;
  const initial: Member[] = [...singles];
  if (count > 1) initial.push(score(uniform));
  while (initial.length < size) {
    initial.push(score(projectToAffine(uniform.map((c) => c + sigma * gaussian(rng)))));
  }
  let population = rank(initial).slice(0, size);
  const history = [population[0]!.score];

  const tournament = (): Member => {
    const a = population[rng.nextInt(population.length)]!;
    const b = population[rng.nextInt(population.length)]!;
    return a.score > b.score || (a.score === b.score && a.born <= b.born) ? a : b;
  };
  for (let generation = 0; generation < options.generations; generation++) {
    const before = population[0]!.score;
    const children: Member[] = [];
    for (let i = 0; i < size; i++) {
      let child = [...tournament().coefficients];
      if (rng.next() < 0.5) {
        const other = tournament().coefficients;
        const mix = rng.next();
        child = child.map((c, k) => mix * c + (1 - mix) * other[k]!);
      }
      children.push(score(projectToAffine(child.map((c) => c + sigma * gaussian(rng)))));
    }
    population = rank([...population, ...children]).slice(0, size);
    if (!(population[0]!.score > before)) sigma *= 0.7;
    history.push(population[0]!.score);
  }
  const best = population[0]!;
  return {
    coefficients: best.coefficients,
    score: best.score,
    bestSingle: { index: singles.indexOf(bestSingle), score: bestSingle.score },
    history,
    evaluations,
  };
}
