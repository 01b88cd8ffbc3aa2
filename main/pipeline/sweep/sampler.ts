/**
 * What every sampler (grid, random, TPE) offers: the configuration of trial `index`, as a pure
 * function of the sweep's seed, the index and the trials that had finished when it was asked for.
 * The sweep layer records which trials a proposal saw, so a resumed sweep asks again with the same
 * observations and gets the same configuration.
 */
import type { SweepAlgorithm, SweepMode } from './spec';
import type { TrialParams } from './space';

/** A trial a sampler may learn from. */
export interface TrialObservation {
  /** The trial's index in the sweep (0-based): older trials weigh less in TPE. */
  index: number;
  params: TrialParams;
  /** The objective of a trial that ran to its end; null for one that was pruned or failed. */
  objective: number | null;
  /**
   * For a pruned trial: the furthest resource it reached and the scheduler's metric there, by
   * which TPE ranks it below every finished trial (Optuna's treatment of pruned trials).
   */
  intermediate?: { resource: number; value: number };
}

export interface Sampler {
  readonly algorithm: SweepAlgorithm;
  /** How many configurations it can propose: the grid's size, or Infinity. */
  readonly size: number;
  /**
   * The configuration of trial `index`. The order of `observations` does not matter; trials with
   * the same or a higher index than `index` are ignored, so a proposal cannot depend on its future.
   */
  propose(index: number, observations: readonly TrialObservation[]): TrialParams;
}

/** How observations are ranked: by the objective's mode, and pruned ones by the scheduler's. */
export interface RankingModes {
  objective: SweepMode;
  /** Mode of `intermediate.value`; default: the objective's. */
  intermediate?: SweepMode;
}
