/**
 * Hyperband (Li et al. 2017): several brackets of successive halving that trade the number of
 * configurations against the budget each gets first. With s_max = ⌊log_η(max/min)⌋, bracket s
 * (s = s_max … 0) runs n_s = ⌈(s_max+1)/(s+1)·η^s⌉ configurations per Hyperband iteration, the
 * first rung at r_s = max·η^−s, then rungs η× apart up to max: bracket s_max halves most
 * aggressively from `min`, bracket 0 runs its configurations to `max` without stopping any.
 *
 * Within a bracket, halving is asynchronous (as ASHA, and as Optuna's `HyperbandPruner`): a
 * trial is judged when it reaches a rung against the bracket's trials that reached it before,
 * so no trial waits to be paused and resumed.
 *
 * Trials are handed to brackets by index, iteration after iteration: each iteration gives the
 * brackets n_s consecutive trial indices each, from s_max down to 0. When the sweep's `trials` end
 * inside an iteration, that last iteration's brackets are shrunk in proportion to n_s (largest
 * remainders, ties to the more aggressive bracket), so every bracket keeps its share.
 */
import { AsyncSuccessiveHalving, type RungRecord } from './asha';
import type { SchedulerDecision, TrialEnd, TrialScheduler } from './scheduler';
import type { SweepMode } from './spec';
import type { TrialParams } from './space';

export interface HyperbandBracket {
  /** s: log_η of how many times more configurations it starts than it finishes. */
  s: number;
  /** n_s: configurations per Hyperband iteration. */
  configurations: number;
  /** The resources at which its trials are judged (the first is r_s); empty for s = 0. */
  rungs: number[];
}

/** ⌊log_η(max/min)⌋, robust to the rounding of exact powers. */
export function hyperbandSMax(min: number, max: number, reductionFactor: number): number {
  let s = 0;
  while (min * reductionFactor ** (s + 1) <= max) s++;
  return s;
}

/** The brackets of one Hyperband iteration, s_max first. */
export function hyperbandBrackets(min: number, max: number, reductionFactor: number): HyperbandBracket[] {
  const sMax = hyperbandSMax(min, max, reductionFactor);
  const brackets: HyperbandBracket[] = [];
  for (let s = sMax; s >= 0; s--) {
    const numerator = (sMax + 1) * reductionFactor ** s;
    const whole = Math.floor(numerator / (s + 1));
    const configurations = whole * (s + 1) < numerator ? whole + 1 : whole;
    const rungs: number[] = [];
    for (let k = 0; k < s; k++) {
      const rung = Math.max(min, Math.round(max / reductionFactor ** (s - k)));
      if (rung < max && (rungs.length === 0 || rung > rungs.at(-1)!)) rungs.push(rung);
    }
    brackets.push({ s, configurations, rungs });
  }
  return brackets;
}

/** Trials in one full Hyperband iteration: Σ n_s (the default `trials` of a Hyperband sweep). */
export function hyperbandIterationSize(min: number, max: number, reductionFactor: number): number {
  return hyperbandBrackets(min, max, reductionFactor).reduce(
    (sum, bracket) => sum + bracket.configurations,
    0,
  );
}

/** Where a trial index goes: the iteration and the bracket. */
export interface BracketAssignment {
  iteration: number;
  s: number;
}

/**
 * The trials of each bracket in the sweep's last, partial iteration: n_s scaled to `remaining`
 * trials by largest remainders.
 */
function shrunkSizes(brackets: readonly HyperbandBracket[], remaining: number): number[] {
  const total = brackets.reduce((sum, bracket) => sum + bracket.configurations, 0);
  const quotas = brackets.map((bracket) => (remaining * bracket.configurations) / total);
  const sizes = quotas.map(Math.floor);
  let left = remaining - sizes.reduce((sum, size) => sum + size, 0);
  const order = quotas.map((quota, i) => ({ i, fraction: quota - Math.floor(quota) }));
  order.sort((a, b) => b.fraction - a.fraction || a.i - b.i);
  for (const { i } of order) {
    if (left === 0) break;
    sizes[i]! += 1;
    left--;
  }
  return sizes;
}

/** Assigns trial `index` of a sweep of `trials` to an iteration and a bracket (see the file's JSDoc). */
export function assignBracket(
  brackets: readonly HyperbandBracket[],
  trials: number,
  index: number,
): BracketAssignment {
  const iterationSize = brackets.reduce((sum, bracket) => sum + bracket.configurations, 0);
  const fullIterations = Math.floor(trials / iterationSize);
  const iteration = Math.floor(index / iterationSize);
  const sizes =
    iteration < fullIterations || index >= trials
      ? brackets.map((bracket) => bracket.configurations)
      : shrunkSizes(brackets, trials - fullIterations * iterationSize);
  let offset = index - iteration * iterationSize;
  for (let b = 0; b < brackets.length; b++) {
    if (offset < sizes[b]!) return { iteration, s: brackets[b]!.s };
    offset -= sizes[b]!;
  }
  return { iteration, s: brackets.at(-1)!.s };
}

export interface HyperbandConfig {
  min: number;
  max: number;
  reductionFactor: number;
  mode: SweepMode;
  /** The sweep's number of trials, which decides the last iteration's bracket sizes. */
  trials: number;
  metric?: string;
}

export class HyperbandScheduler implements TrialScheduler {
  readonly type = 'hyperband';
  readonly brackets: readonly HyperbandBracket[];
  private readonly halvings = new Map<string, AsyncSuccessiveHalving>();

  constructor(private readonly config: HyperbandConfig) {
    this.brackets = hyperbandBrackets(config.min, config.max, config.reductionFactor);
  }

  /** The iteration and bracket of trial `index`. */
  bracketOf(index: number): BracketAssignment & { rungs: number[] } {
    const assignment = assignBracket(this.brackets, this.config.trials, index);
    const bracket = this.brackets.find((candidate) => candidate.s === assignment.s)!;
    return { ...assignment, rungs: [...bracket.rungs] };
  }

  private halvingOf(index: number): AsyncSuccessiveHalving {
    const { iteration, s, rungs } = this.bracketOf(index);
    const key = `${iteration}:${s}`;
    let halving = this.halvings.get(key);
    if (!halving) {
      halving = new AsyncSuccessiveHalving(
        rungs,
        this.config.reductionFactor,
        this.config.mode,
        this.config.metric,
      );
      this.halvings.set(key, halving);
    }
    return halving;
  }

  addTrial(_index: number, _params: TrialParams): void {}

  targetFor(): number {
    return this.config.max;
  }

  onResult(index: number, resource: number, value: number): SchedulerDecision {
    return this.halvingOf(index).decide(index, resource, value);
  }

  onTrialEnd(_index: number, _end: TrialEnd): void {}

  retainedCheckpoints(): Array<{ trial: number; resource: number }> {
    return [];
  }

  recordsOf(index: number): RungRecord[] {
    return this.halvingOf(index).recordsOf(index);
  }
}
