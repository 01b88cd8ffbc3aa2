/**
 * The `sweep` block of a pipeline file: a search over some of the pipeline's params. Its JSON shape
 * is a contract (users write it by hand and scripts generate it); these types are that shape as
 * written, before validation fills in defaults (see {@link ResolvedSweep} in resolved-sweep.ts).
 * The types are declared in preload/contract.ts, since the editor reads and writes the block too,
 * and re-exported here with the name lists and defaults the engine uses.
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

import type { SweepMode } from '../../../preload/contract';

export type {
  AshaSchedulerSpec,
  ChoiceDomain,
  DomainKind,
  GridDomain,
  HyperbandSchedulerSpec,
  IntDomain,
  JsonValue,
  LogUniformDomain,
  PbtSchedulerSpec,
  SchedulerType,
  SweepAlgorithm,
  SweepCondition,
  SweepDomain,
  SweepMode,
  SweepObjective,
  SweepScheduler,
  SweepSpec,
  UniformDomain,
} from '../../../preload/contract';

export const SWEEP_MODES = ['min', 'max'] as const;
export const DOMAIN_KINDS = ['uniform', 'logUniform', 'int', 'choice', 'grid'] as const;
export const SWEEP_ALGORITHMS = ['grid', 'random', 'tpe'] as const;
export const SCHEDULER_TYPES = ['none', 'asha', 'hyperband', 'pbt'] as const;

/**
 * Orders two values best first in `mode`: negative when `a` is better, 0 when equal. NaN (a
 * diverged trial) counts as worse than any number.
 */
export function compareByMode(a: number, b: number, mode: SweepMode): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  if (a === b) return 0;
  return mode === 'max' ? (a > b ? -1 : 1) : a < b ? -1 : 1;
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
