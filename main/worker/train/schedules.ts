/**
 * Learning-rate schedules as one pure function of (step, total steps, config), so the rate at any
 * step is known without replaying earlier steps (resume needs nothing but the step number).
 *
 * Conventions: `step` is the 0-based index of the optimiser step about to be taken (t), `totalSteps`
 * the number of steps of the whole run (T). Formulas follow docs PAPERS.md "Optimizers and
 * schedules".
 */

import type { ScheduleName } from '../../nodes/shared-params';

export interface ScheduleConfig {
  name: ScheduleName;
  /** η0 (the peak rate η_max for one-cycle). */
  learningRate: number;
  /** Floor reached at the end by `cosine` and `warmup-cosine` (default 0). */
  minLearningRate?: number;
  /** `warmup-cosine`: W in steps; a value in (0, 1) is a fraction of `totalSteps` (default 0). */
  warmupSteps?: number;
  /** `step`: multiply by `stepGamma` every `stepEvery` steps (default: never). */
  stepEvery?: number;
  /** `step`: the factor (default 0.1). */
  stepGamma?: number;
  /** `one-cycle`: fraction of the steps spent warming up (default 0.3). */
  pctStart?: number;
  /** `one-cycle`: the start rate is η_max / div (default 25). */
  div?: number;
  /** `one-cycle`: the final rate is η_max / (div · finalDiv) (default 1e4). */
  finalDiv?: number;
}

/** ½(1 + cos(π·p)) going from `from` (p = 0) to `to` (p = 1). */
function cosineBetween(from: number, to: number, p: number): number {
  const clamped = Math.min(1, Math.max(0, p));
  return to + (from - to) * 0.5 * (1 + Math.cos(Math.PI * clamped));
}

/** W in steps from `warmupSteps` (a fraction of T when in (0, 1)). */
export function warmupStepCount(totalSteps: number, warmupSteps: number | undefined): number {
  const w = warmupSteps ?? 0;
  if (!(w > 0)) return 0;
  return w < 1 ? Math.round(w * totalSteps) : Math.floor(w);
}

/**
 * The learning rate for optimiser step `step` (0-based) of `totalSteps`.
 * - `constant`: η0.
 * - `step`: η0 · γ^⌊t / stepEvery⌋.
 * - `cosine`: η_min + (η0 − η_min) · ½(1 + cos(π t / T)).
 * - `warmup-cosine`: η0 · t / W for t < W (linear from 0, so step W is the first at η0), then
 *   η_min + (η0 − η_min) · ½(1 + cos(π (t − W) / (T − W))).
 * - `one-cycle` (as PyTorch's OneCycleLR with cosine annealing): from η_max/div at t = 0 up to η_max
 *   at t = pctStart·T − 1, then down to η_max/(div·finalDiv) at t = T − 1, both phases following a
 *   half cosine.
 * - `rex`: with z = t/T, η0 · (1 − z) / (½ + (1 − z)/2).
 */
export function learningRateAt(step: number, totalSteps: number, config: ScheduleConfig): number {
  const eta = config.learningRate;
  const t = Math.max(0, step);
  const T = Math.max(1, totalSteps);
  const min = config.minLearningRate ?? 0;
  switch (config.name) {
    case 'constant':
      return eta;
    case 'step': {
      const every = config.stepEvery ?? 0;
      if (!(every > 0)) return eta;
      return eta * Math.pow(config.stepGamma ?? 0.1, Math.floor(t / every));
    }
    case 'cosine':
      return cosineBetween(eta, min, t / T);
    case 'warmup-cosine': {
      const w = Math.min(warmupStepCount(T, config.warmupSteps), T);
      if (t < w) return (eta * t) / w;
      return cosineBetween(eta, min, T > w ? (t - w) / (T - w) : 1);
    }
    case 'one-cycle': {
      const div = config.div ?? 25;
      const finalDiv = config.finalDiv ?? 1e4;
      const start = eta / div;
      const end = start / finalDiv;
      const peakStep = Math.max(1, (config.pctStart ?? 0.3) * T - 1);
      const lastStep = Math.max(peakStep + 1, T - 1);
      if (t <= peakStep) return cosineBetween(start, eta, t / peakStep);
      return cosineBetween(eta, end, (t - peakStep) / (lastStep - peakStep));
    }
    case 'rex': {
      const remaining = 1 - Math.min(1, t / T);
      return (eta * remaining) / (0.5 + remaining / 2);
    }
  }
}
