/**
 * The `sweep` block of a pipeline file: a search over some of the pipeline's params. Its JSON shape
 * is a contract (users write it by hand and scripts generate it); these types are that shape as
 * written, before validation fills in defaults (see {@link ResolvedSweep} in validate-sweep.ts).
 *
 * ```json
 * "sweep": {
 *   "objective": { "node": "score", "metric": "accuracy", "mode": "max" },
 *   "space": {
 *     "fit.learningRate": { "logUniform": [0.0001, 0.1] },
 *     "fit.batchSize":    { "choice": [32, 64, 128] },
 *     "fit.momentum":     { "uniform": [0.5, 0.99], "when": { "fit.optimizer": "momentum" } }
 *   },
 *   "algorithm": "tpe",
 *   "scheduler": { "type": "asha", "resource": "fit.epochs", "min": 1, "max": 27, "reductionFactor": 3 },
 *   "trials": 32, "concurrency": 2, "seed": 1
 * }
 * ```
 */

/** Any value a JSON file can hold: what `choice` and `grid` lists and `when` conditions carry. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Whether the objective is minimised or maximised. */
export type SweepMode = 'min' | 'max';
export const SWEEP_MODES = ['min', 'max'] as const;

/**
 * Orders two values best first in `mode`: negative when `a` is better, 0 when equal. NaN (a
 * diverged trial) counts as worse than any number.
 */
export function compareByMode(a: number, b: number, mode: SweepMode): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  if (a === b) return 0;
  return mode === 'max' ? (a > b ? -1 : 1) : a < b ? -1 : 1;
}

/** What a trial is scored by: the last value of `metric` reported by the task of `node`. */
export interface SweepObjective {
  node: string;
  metric: string;
  mode: SweepMode;
}

/**
 * `when`: the param takes part in a trial only if every named param (`"node.param"`, swept or
 * not) has exactly the given value in that trial (JSON equality); otherwise the pipeline's own
 * value stays.
 */
export type SweepCondition = Record<string, JsonValue>;

interface DomainCommon {
  when?: SweepCondition;
}

/** A number drawn uniformly from `[low, high)`. */
export interface UniformDomain extends DomainCommon {
  uniform: [number, number];
}

/** A number whose logarithm is uniform on `[log low, log high)`: learning rates, weight decay. */
export interface LogUniformDomain extends DomainCommon {
  logUniform: [number, number];
}

/**
 * An integer from `low` to `high`, both included, each equally likely; with `log: true`, each
 * integer k weighs log((k + ½) / (k − ½)) (log-uniform on [low − ½, high + ½], then rounded).
 */
export interface IntDomain extends DomainCommon {
  int: [number, number];
  log?: boolean;
}

/** One of the listed values (any JSON values valid for the param), each equally likely. */
export interface ChoiceDomain extends DomainCommon {
  choice: JsonValue[];
}

/**
 * Values to enumerate: the `grid` algorithm tries every combination of every grid (and choice)
 * param; the other algorithms draw from the list as from a `choice`.
 */
export interface GridDomain extends DomainCommon {
  grid: JsonValue[];
}

export type SweepDomain = UniformDomain | LogUniformDomain | IntDomain | ChoiceDomain | GridDomain;

/** The name of a domain's kind: the one key, besides `when` and `log`, that a domain object has. */
export type DomainKind = 'uniform' | 'logUniform' | 'int' | 'choice' | 'grid';
export const DOMAIN_KINDS = ['uniform', 'logUniform', 'int', 'choice', 'grid'] as const;

/** How configurations are proposed: every grid point in turn, seeded random draws, or TPE. */
export type SweepAlgorithm = 'grid' | 'random' | 'tpe';
export const SWEEP_ALGORITHMS = ['grid', 'random', 'tpe'] as const;

export type SchedulerType = 'none' | 'asha' | 'hyperband' | 'pbt';
export const SCHEDULER_TYPES = ['none', 'asha', 'hyperband', 'pbt'] as const;

/** Fields every early-stopping scheduler has. */
interface SchedulerCommon {
  /**
   * The integer param that measures a trial's budget, `"node.param"` (e.g. `"fit.epochs"`); the
   * scheduler sets it, so it may not be in the space. Its node is the one whose per-epoch metric
   * the scheduler reads.
   */
  resource: string;
  /**
   * The per-epoch validation metric of the resource's node the scheduler ranks trials by. Default:
   * the objective's metric when the objective is that node's `val_*` metric, else `val_accuracy`
   * when the objective is maximised and `val_loss` when it is minimised.
   */
  metric?: string;
  /**
   * Whether `metric` is better low or high. Default: the objective's mode, when `metric` is
   * defaulted too; required with an explicit `metric`, since a loss and an accuracy go opposite ways.
   */
  mode?: SweepMode;
}

/**
 * Asynchronous successive halving (Li et al. 2020). Every trial runs toward `max`; at each rung
 * `min·η^k` below `max` it continues only if it is in the top 1/η of the trials that reached that
 * rung so far (at least the best one), else it is stopped (pruned).
 */
export interface AshaSchedulerSpec extends SchedulerCommon {
  type: 'asha';
  /** The first rung (the grace period). Default 1. */
  min?: number;
  /** The budget of a trial that is never stopped. Default: the resource param's value in the pipeline. */
  max?: number;
  /** η, an integer ≥ 2. Default 3. */
  reductionFactor?: number;
}

/**
 * Hyperband (Li et al. 2017): trials are split among brackets s = s_max … 0, s_max =
 * ⌊log_η(max/min)⌋; bracket s starts ⌈(s_max+1)/(s+1)·η^s⌉ configurations per Hyperband iteration
 * at first rung max·η^−s and halves them asynchronously at each rung, as ASHA does. Same fields
 * and defaults as ASHA.
 */
export interface HyperbandSchedulerSpec extends SchedulerCommon {
  type: 'hyperband';
  min?: number;
  max?: number;
  reductionFactor?: number;
}

/**
 * Population-based training (Jaderberg et al. 2017). Trials run in segments of `interval` epochs;
 * at each segment's end a trial in the bottom `quantile` copies a top-`quantile` trial's checkpoint
 * (weights and optimizer state) and params, then perturbs its `mutable` params.
 */
export interface PbtSchedulerSpec extends SchedulerCommon {
  type: 'pbt';
  /** Epochs between exploit decisions. Required. */
  interval: number;
  /** The budget of every trial. Default: the resource param's value in the pipeline. */
  max?: number;
  /** Fraction of the population in the bottom (and top) group, in (0, 0.5]. Default 0.25 (Ray). */
  quantile?: number;
  /** Chance that a mutable param is drawn again from the space instead of perturbed. Default 0.25. */
  resampleProbability?: number;
  /** Factors a numeric param is multiplied by, one picked at random. Default [0.8, 1.2]. */
  perturbation?: [number, number];
  /**
   * The space keys an exploit may change. Default: the numeric (uniform, logUniform, int) space
   * keys of the resource's node. Only that node's params can change, since the copied checkpoint
   * fixes the model and the data.
   */
  mutable?: string[];
}

export type SweepScheduler = { type: 'none' } | AshaSchedulerSpec | HyperbandSchedulerSpec | PbtSchedulerSpec;

/** The `sweep` block as written in a pipeline file. */
export interface SweepSpec {
  objective: SweepObjective;
  /** `"node.param"` → where its values come from. */
  space: Record<string, SweepDomain>;
  /** Default `random`. */
  algorithm?: SweepAlgorithm;
  /** Default: none (every trial runs its full budget). */
  scheduler?: SweepScheduler;
  /**
   * Configurations to try. Default: the grid's size for `grid`, one Hyperband iteration's total
   * for a Hyperband scheduler; required otherwise.
   */
  trials?: number;
  /** Trials running at once. Default 1. */
  concurrency?: number;
  /** Seed of the samplers and schedulers. Default: the pipeline's seed. */
  seed?: number;
}

/** The defaults users of Ray Tune and Optuna know, named once. */
export const SWEEP_DEFAULTS = {
  algorithm: 'random',
  concurrency: 1,
  min: 1,
  reductionFactor: 3,
  quantile: 0.25,
  resampleProbability: 0.25,
  perturbation: [0.8, 1.2],
} as const;

/** The largest number of trials a sweep may ask for, and of points a grid may enumerate. */
export const MAX_TRIALS = 100_000;
/** The most trials a sweep may run at once. */
export const MAX_CONCURRENCY = 256;
