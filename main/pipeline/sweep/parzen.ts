/**
 * The Parzen estimators of TPE (Bergstra et al. 2011), one param at a time, as Optuna's
 * univariate `_ParzenEstimator` builds them with its defaults (prior weight 1, "magic clip" on,
 * endpoints not considered):
 *
 * - numeric: a mixture of normals truncated to [low, high], one per observation (centred on it,
 *   its width the larger gap to its sorted neighbours, clipped to [range / min(100, n + 2), range])
 *   plus a prior kernel centred on the middle of the range with the range as its width;
 * - categorical: per observation, a distribution with mass 1 on the observed value plus the
 *   prior weight spread evenly, plus a uniform prior kernel.
 *
 * Kernel weights: 1 each for the 25 most recent observations, ramping linearly down to 1/n for
 * older ones (Optuna's `default_weights`), then the prior's weight; normalised.
 */
import { logNormalMass, logNormalPdf, truncatedNormalQuantile } from './normal';
import type { Rng } from './random';

/** TPE's estimator settings; the defaults are Optuna's. */
export interface ParzenOptions {
  priorWeight: number;
}

export const DEFAULT_PARZEN_OPTIONS: ParzenOptions = { priorWeight: 1 };

/** Optuna's `default_weights`: recent observations weigh 1, older ones ramp down from 1 to 1/n. */
export function observationWeights(count: number): number[] {
  if (count < 25) return new Array<number>(count).fill(1);
  const ramp = count - 25;
  const weights: number[] = [];
  for (let i = 0; i < ramp; i++)
    weights.push(ramp === 1 ? 1 / count : 1 / count + ((1 - 1 / count) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) weights.push(1);
  return weights;
}

function normalise(weights: number[]): number[] {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  return weights.map((weight) => weight / total);
}

/** log Σ exp(values[i]), without overflow. */
function logSumExp(values: Float64Array): number {
  let max = -Infinity;
  for (const value of values) if (value > max) max = value;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const value of values) sum += Math.exp(value - max);
  return max + Math.log(sum);
}

/** Picks an index with probability proportional to `weights` (which sum to 1). */
function pickWeighted(weights: readonly number[], u: number): number {
  let cumulative = 0;
  for (let i = 0; i < weights.length; i++) {
    cumulative += weights[i]!;
    if (u < cumulative) return i;
  }
  return weights.length - 1;
}

/** A mixture of truncated normals on [low, high] over one numeric param (in its internal scale). */
export class NumericParzenEstimator {
  readonly mus: number[];
  readonly sigmas: number[];
  readonly weights: number[];
  /** log(weight / mass inside [low, high]) per kernel: what its density is scaled by. */
  private readonly logScales: Float64Array;
  /** Scratch space for one evaluation, so that scoring candidates allocates nothing. */
  private readonly terms: Float64Array;

  /**
   * @param observations In trial order (oldest first), already in the internal scale (log for log
   *   domains); all inside [low, high].
   */
  constructor(
    observations: readonly number[],
    readonly low: number,
    readonly high: number,
    options: ParzenOptions = DEFAULT_PARZEN_OPTIONS,
  ) {
    const range = high - low;
    const priorMu = 0.5 * (low + high);
    const withPrior = [...observations, priorMu];
    const order = withPrior.map((_, i) => i).sort((a, b) => withPrior[a]! - withPrior[b]! || a - b);
    const sorted = [low, ...order.map((i) => withPrior[i]!), high];
    const sortedSigmas: number[] = [];
    for (let i = 1; i < sorted.length - 1; i++) {
      sortedSigmas.push(Math.max(sorted[i]! - sorted[i - 1]!, sorted[i + 1]! - sorted[i]!));
    }
    // Endpoints are not considered: the outermost kernels take their inner gap only.
    if (sorted.length >= 4) {
      sortedSigmas[0] = sorted[2]! - sorted[1]!;
      sortedSigmas[sortedSigmas.length - 1] = sorted[sorted.length - 2]! - sorted[sorted.length - 3]!;
    }
    const sigmaOf = new Array<number>(withPrior.length);
    order.forEach((original, rank) => (sigmaOf[original] = sortedSigmas[rank]!));
    // The "magic clip": no kernel narrower than the range over min(100, kernels + 1).
    const minSigma = range / Math.min(100, 1 + observations.length + 1);
    this.mus = [...observations, priorMu];
    this.sigmas = [...observations.map((_, i) => Math.min(range, Math.max(minSigma, sigmaOf[i]!))), range];
    this.weights = normalise([...observationWeights(observations.length), options.priorWeight]);
    this.logScales = Float64Array.from(this.mus, (mu, k) => {
      const sigma = this.sigmas[k]!;
      return Math.log(this.weights[k]!) - logNormalMass((low - mu) / sigma, (high - mu) / sigma);
    });
    this.terms = new Float64Array(this.mus.length);
  }

  /** `count` draws from the mixture. */
  sample(rng: Rng, count: number): number[] {
    const draws: number[] = [];
    for (let i = 0; i < count; i++) {
      const k = pickWeighted(this.weights, rng.next());
      const mu = this.mus[k]!;
      const sigma = this.sigmas[k]!;
      const z = truncatedNormalQuantile((this.low - mu) / sigma, (this.high - mu) / sigma, rng.next());
      draws.push(Math.min(this.high, Math.max(this.low, mu + sigma * z)));
    }
    return draws;
  }

  /** log density at x (continuous params). */
  logDensity(x: number): number {
    for (let k = 0; k < this.terms.length; k++) {
      const sigma = this.sigmas[k]!;
      this.terms[k] = this.logScales[k]! + logNormalPdf((x - this.mus[k]!) / sigma) - Math.log(sigma);
    }
    return logSumExp(this.terms);
  }

  /** log of the mass in [from, to] (integer params: the cell of one integer). */
  logMass(from: number, to: number): number {
    for (let k = 0; k < this.terms.length; k++) {
      const mu = this.mus[k]!;
      const sigma = this.sigmas[k]!;
      this.terms[k] = this.logScales[k]! + logNormalMass((from - mu) / sigma, (to - mu) / sigma);
    }
    return logSumExp(this.terms);
  }
}

/** A categorical distribution over `size` values, from the indices of observed values. */
export class CategoricalParzenEstimator {
  /** Probability of each value. */
  readonly probabilities: number[];

  /** @param observations Indices of the observed values, in trial order (oldest first). */
  constructor(
    observations: readonly number[],
    size: number,
    options: ParzenOptions = DEFAULT_PARZEN_OPTIONS,
  ) {
    const kernels = observations.length + 1;
    const weights = normalise([...observationWeights(observations.length), options.priorWeight]);
    const smoothing = options.priorWeight / kernels;
    const probabilities = new Array<number>(size).fill(0);
    observations.forEach((observed, k) => {
      const rowTotal = size * smoothing + 1;
      for (let c = 0; c < size; c++) {
        probabilities[c]! += (weights[k]! * (smoothing + (c === observed ? 1 : 0))) / rowTotal;
      }
    });
    const prior = weights[observations.length]!;
    for (let c = 0; c < size; c++) probabilities[c]! += prior / size;
    this.probabilities = probabilities;
  }

  sample(rng: Rng, count: number): number[] {
    const draws: number[] = [];
    for (let i = 0; i < count; i++) draws.push(pickWeighted(this.probabilities, rng.next()));
    return draws;
  }

  logProbability(index: number): number {
    return Math.log(this.probabilities[index]!);
  }
}
