/**
 * Which params mattered: for each swept param, the share of the objective's variance explained by
 * its marginal means (a one-way analysis of variance, the idea behind fANOVA's main effects without
 * its random forest). Trials are grouped by the param's value: numeric params into ⌊√n⌋ (at most 10)
 * equal-count bins of their sorted values (ranks, so a log scale bins alike), choices one group per
 * value, and trials where a `when` left the param out into a group of their own. The importance is
 * the ε² estimate, (SS_between − (k − 1)·MS_within) / SS_total clipped at 0, which unlike the plain
 * η² does not grow with the number of groups on noise alone; the sweep view shows them normalised
 * to sum to 1.
 */
import { isCategorical, jsonEqual, type SearchSpace, type TrialParams } from './space';

export interface ImportanceTrial {
  params: TrialParams;
  objective: number | null;
}

export interface ParamImportance {
  key: string;
  /** ε²: the share of the objective's variance this param's groups explain, in [0, 1]. */
  importance: number;
  /** `importance` over the sum of all params' (0 when all are 0). */
  normalised: number;
  /** Number of groups the trials fell into. */
  groups: number;
}

const MAX_BINS = 10;

/** ε² of `values` split into `groups` (group index per value). */
function epsilonSquared(values: readonly number[], groups: readonly number[]): number {
  const n = values.length;
  const mean = values.reduce((sum, value) => sum + value, 0) / n;
  const total = values.reduce((sum, value) => sum + (value - mean) ** 2, 0);
  if (total === 0) return 0;
  const sums = new Map<number, { sum: number; count: number }>();
  values.forEach((value, i) => {
    const entry = sums.get(groups[i]!) ?? { sum: 0, count: 0 };
    entry.sum += value;
    entry.count += 1;
    sums.set(groups[i]!, entry);
  });
  const k = sums.size;
  if (k < 2 || n <= k) return 0;
  let between = 0;
  for (const { sum, count } of sums.values()) between += count * (sum / count - mean) ** 2;
  const within = (total - between) / (n - k);
  return Math.max(0, Math.min(1, (between - (k - 1) * within) / total));
}

/**
 * The importance of each param of `space`, most important first, from the trials with a finite
 * objective. Needs at least 3 such trials; with fewer every importance is 0.
 */
export function paramImportance(space: SearchSpace, trials: readonly ImportanceTrial[]): ParamImportance[] {
  const scored = trials.filter(
    (trial): trial is ImportanceTrial & { objective: number } =>
      trial.objective !== null && Number.isFinite(trial.objective),
  );
  const objectives = scored.map((trial) => trial.objective);
  const results = space.params.map((param) => {
    const domain = param.domain;
    const groups = new Array<number>(scored.length);
    const INACTIVE = -1;
    if (isCategorical(domain)) {
      scored.forEach((trial, i) => {
        groups[i] = Object.hasOwn(trial.params, param.key)
          ? domain.values.findIndex((value) => jsonEqual(value, trial.params[param.key]))
          : INACTIVE;
      });
    } else {
      const present = scored
        .map((trial, i) => ({ i, value: trial.params[param.key] }))
        .filter((entry): entry is { i: number; value: number } => typeof entry.value === 'number')
        .sort((a, b) => a.value - b.value || a.i - b.i);
      groups.fill(INACTIVE);
      const bins = Math.max(1, Math.min(MAX_BINS, Math.floor(Math.sqrt(present.length))));
      present.forEach(({ i }, rank) => (groups[i] = Math.floor((rank * bins) / present.length)));
      // Equal values must share a bin, or ties would be split by trial order alone.
      for (let r = 1; r < present.length; r++) {
        if (present[r]!.value === present[r - 1]!.value) groups[present[r]!.i] = groups[present[r - 1]!.i]!;
      }
    }
    const importance = scored.length >= 3 ? epsilonSquared(objectives, groups) : 0;
    return { key: param.key, importance, groups: new Set(groups).size };
  });
  const total = results.reduce((sum, result) => sum + result.importance, 0);
  return results
    .map((result) => ({ ...result, normalised: total > 0 ? result.importance / total : 0 }))
    .sort((a, b) => b.importance - a.importance || a.key.localeCompare(b.key));
}
