/**
 * The Tree-structured Parzen Estimator (Bergstra et al. 2011) with Optuna's defaults: the first 10
 * trials are random search's; after that the finished trials are split at γ(n) = min(⌈0.1·n⌉, 25)
 * into the best ("below") and the rest ("above"), a Parzen estimator l(x) is fitted to the best
 * and g(x) to the rest, 24 candidates are drawn from l and the one maximising l(x)/g(x) (expected
 * improvement) is proposed.
 *
 * Params are handled one at a time (Optuna's default, not its multivariate mode): a conditional
 * param is modelled from the trials in which it was active, in each group. Log domains are modelled
 * in log space; integers as the mass of each integer's cell [k − ½, k + ½] (in log space for log
 * integers); `choice` and `grid` as categorical. Pruned trials count toward n and rank below every
 * finished one, deeper first (Optuna's treatment); failed trials are ignored.
 *
 * No npm package does this: the one TPE port (`hyperparameters`, a hyperopt port) is unmaintained
 * and draws from a global generator, so its proposals could not be replayed on resume.
 */
import {
  CategoricalParzenEstimator,
  DEFAULT_PARZEN_OPTIONS,
  NumericParzenEstimator,
  type ParzenOptions,
} from './parzen';
import { hashString, mixSeed, Rng, SALT_TPE } from './random';
import { randomConfiguration } from './random-sampler';
import type { RankingModes, Sampler, TrialObservation } from './sampler';
import {
  clampToDomain,
  cloneJson,
  jsonEqual,
  type Domain,
  type SearchSpace,
  type SpaceParam,
  type TrialParams,
} from './space';
import { compareByMode, type JsonValue } from './spec';

export interface TpeOptions extends ParzenOptions {
  /** Trials proposed by random search before TPE takes over. Optuna: 10. */
  startupTrials: number;
  /** Candidates drawn from l(x) per param. Optuna: 24. */
  candidates: number;
  /** Size of the "below" group out of n usable trials. Optuna: min(⌈0.1·n⌉, 25). */
  gamma: (n: number) => number;
}

export const DEFAULT_TPE_OPTIONS: TpeOptions = {
  ...DEFAULT_PARZEN_OPTIONS,
  startupTrials: 10,
  candidates: 24,
  gamma: (n) => Math.min(Math.ceil(0.1 * n), 25),
};

/**
 * The usable observations before trial `index`, best first: finished trials by objective, then
 * pruned ones by depth (resource reached, deepest first) and value there; ties by index.
 */
export function rankObservations(
  observations: readonly TrialObservation[],
  index: number,
  modes: RankingModes,
): TrialObservation[] {
  const intermediateMode = modes.intermediate ?? modes.objective;
  const finished = observations.filter(
    (trial) => trial.index < index && trial.objective !== null && Number.isFinite(trial.objective),
  );
  const pruned = observations.filter(
    (trial) =>
      trial.index < index &&
      !(trial.objective !== null && Number.isFinite(trial.objective)) &&
      trial.intermediate !== undefined &&
      Number.isFinite(trial.intermediate.value),
  );
  finished.sort((a, b) => compareByMode(a.objective!, b.objective!, modes.objective) || a.index - b.index);
  pruned.sort(
    (a, b) =>
      b.intermediate!.resource - a.intermediate!.resource ||
      compareByMode(a.intermediate!.value, b.intermediate!.value, intermediateMode) ||
      a.index - b.index,
  );
  return [...finished, ...pruned];
}

interface Scale {
  low: number;
  high: number;
  forward: (value: number) => number;
  inverse: (value: number) => number;
  /** For integers: the cell of integer k in the internal scale. */
  cell?: (k: number) => [number, number];
}

function scaleOf(domain: Domain & { kind: 'uniform' | 'logUniform' | 'int' }): Scale {
  const identity = (value: number) => value;
  switch (domain.kind) {
    case 'uniform':
      return { low: domain.low, high: domain.high, forward: identity, inverse: identity };
    case 'logUniform':
      return { low: Math.log(domain.low), high: Math.log(domain.high), forward: Math.log, inverse: Math.exp };
    case 'int':
      return domain.log
        ? {
            low: Math.log(domain.low - 0.5),
            high: Math.log(domain.high + 0.5),
            forward: Math.log,
            inverse: Math.exp,
            cell: (k) => [Math.log(k - 0.5), Math.log(k + 0.5)],
          }
        : {
            low: domain.low - 0.5,
            high: domain.high + 0.5,
            forward: identity,
            inverse: identity,
            cell: (k) => [k - 0.5, k + 0.5],
          };
  }
}

function valuesOf(group: readonly TrialObservation[], key: string): JsonValue[] {
  return group.filter((trial) => Object.hasOwn(trial.params, key)).map((trial) => trial.params[key]!);
}

/** Index of the best candidate by l − g; the first on ties, so the choice is reproducible. */
function argmax(scores: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
  return best;
}

export class TpeSampler implements Sampler {
  readonly algorithm = 'tpe';
  readonly size = Infinity;
  private readonly options: TpeOptions;

  constructor(
    private readonly space: SearchSpace,
    private readonly seed: number,
    private readonly modes: RankingModes,
    options: Partial<TpeOptions> = {},
  ) {
    this.options = { ...DEFAULT_TPE_OPTIONS, ...options };
  }

  propose(index: number, observations: readonly TrialObservation[]): TrialParams {
    const ranked = rankObservations(observations, index, this.modes);
    if (ranked.length < this.options.startupTrials) return randomConfiguration(this.space, this.seed, index);
    const belowCount = Math.max(1, Math.min(ranked.length, this.options.gamma(ranked.length)));
    const byIndex = (a: TrialObservation, b: TrialObservation) => a.index - b.index;
    const below = ranked.slice(0, belowCount).sort(byIndex);
    const above = ranked.slice(belowCount).sort(byIndex);
    return this.space.complete({}, (param) => {
      const rng = new Rng(mixSeed(this.seed, SALT_TPE, index, hashString(param.key)));
      return this.sampleParam(param, valuesOf(below, param.key), valuesOf(above, param.key), rng);
    });
  }

  private sampleParam(param: SpaceParam, below: JsonValue[], above: JsonValue[], rng: Rng): JsonValue {
    const domain = param.domain;
    const count = this.options.candidates;
    if (domain.kind === 'choice' || domain.kind === 'grid') {
      const indexOf = (value: JsonValue) =>
        domain.values.findIndex((candidate) => jsonEqual(candidate, value));
      const indices = (values: JsonValue[]) => values.map(indexOf).filter((i) => i >= 0);
      const size = domain.values.length;
      const l = new CategoricalParzenEstimator(indices(below), size, this.options);
      const g = new CategoricalParzenEstimator(indices(above), size, this.options);
      const candidates = l.sample(rng, count);
      const best = candidates[argmax(candidates.map((c) => l.logProbability(c) - g.logProbability(c)))]!;
      return cloneJson(domain.values[best]!);
    }
    const scale = scaleOf(domain);
    const internal = (values: JsonValue[]) =>
      values
        .filter((value): value is number => typeof value === 'number' && Number.isFinite(value))
        .map((value) =>
          Math.min(scale.high, Math.max(scale.low, scale.forward(clampToDomain(domain, value)))),
        );
    const l = new NumericParzenEstimator(internal(below), scale.low, scale.high, this.options);
    const g = new NumericParzenEstimator(internal(above), scale.low, scale.high, this.options);
    const draws = l.sample(rng, count);
    const cell = scale.cell;
    if (cell) {
      const candidates = draws.map((t) => clampToDomain(domain, scale.inverse(t)));
      const scores = candidates.map((k) => {
        const [from, to] = cell(k);
        return l.logMass(from, to) - g.logMass(from, to);
      });
      return candidates[argmax(scores)]!;
    }
    const best = draws[argmax(draws.map((t) => l.logDensity(t) - g.logDensity(t)))]!;
    return clampToDomain(domain, scale.inverse(best));
  }
}
