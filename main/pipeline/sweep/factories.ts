/**
 * Builds a resolved sweep's sampler and scheduler: the one place that maps the block's names
 * (`"tpe"`, `"asha"`, …) to implementations.
 */
import { AshaScheduler } from './asha';
import { GridSampler } from './grid-sampler';
import { HyperbandScheduler } from './hyperband';
import { PbtScheduler } from './pbt';
import { RandomSampler } from './random-sampler';
import type { ResolvedSweep } from './resolved-sweep';
import type { Sampler } from './sampler';
import { NoScheduler, type TrialScheduler } from './scheduler';
import { TpeSampler, type TpeOptions } from './tpe-sampler';

/** The sweep's sampler. `tpe` options default to Optuna's. */
export function createSampler(sweep: ResolvedSweep, tpe: Partial<TpeOptions> = {}): Sampler {
  switch (sweep.algorithm) {
    case 'grid':
      return new GridSampler(sweep.space);
    case 'random':
      return new RandomSampler(sweep.space, sweep.seed);
    case 'tpe': {
      const scheduler = sweep.scheduler;
      return new TpeSampler(
        sweep.space,
        sweep.seed,
        {
          objective: sweep.objective.mode,
          ...(scheduler.type !== 'none' ? { intermediate: scheduler.mode } : {}),
        },
        tpe,
      );
    }
  }
}

/** The sweep's scheduler; `none` answers the pipeline's own budget as every trial's target. */
export function createScheduler(sweep: ResolvedSweep): TrialScheduler {
  const scheduler = sweep.scheduler;
  switch (scheduler.type) {
    case 'none':
      return new NoScheduler();
    case 'asha':
      return new AshaScheduler({
        min: scheduler.min,
        max: scheduler.max,
        reductionFactor: scheduler.reductionFactor,
        mode: scheduler.mode,
        metric: scheduler.metric,
      });
    case 'hyperband':
      return new HyperbandScheduler({
        min: scheduler.min,
        max: scheduler.max,
        reductionFactor: scheduler.reductionFactor,
        mode: scheduler.mode,
        trials: sweep.trials,
        metric: scheduler.metric,
      });
    case 'pbt':
      return new PbtScheduler(
        {
          max: scheduler.max,
          interval: scheduler.interval,
          quantile: scheduler.quantile,
          resampleProbability: scheduler.resampleProbability,
          perturbation: scheduler.perturbation,
          mutable: scheduler.mutable,
          mode: scheduler.mode,
          seed: sweep.seed,
        },
        sweep.space,
      );
  }
}
