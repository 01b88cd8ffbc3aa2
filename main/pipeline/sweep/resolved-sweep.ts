/**
 * What a valid `sweep` block resolves to (validate-sweep.ts): the block with every default filled
 * in, which the samplers and schedulers are built from.
 */
import type { SearchSpace } from './space';
import type { SweepAlgorithm, SweepMode, SweepObjective, SweepSpec } from './spec';

/** Fields every early-stopping scheduler resolves to. */
interface ResolvedSchedulerCommon {
  /** The resource param, `"node.param"`, and its parts. */
  resource: string;
  nodeId: string;
  param: string;
  /** The `val_*` metric of the resource's node that decisions read, and its direction. */
  metric: string;
  mode: SweepMode;
  max: number;
}

/** A scheduler with every default filled in. */
export type ResolvedScheduler =
  | { type: 'none' }
  | (ResolvedSchedulerCommon & { type: 'asha' | 'hyperband'; min: number; reductionFactor: number })
  | (ResolvedSchedulerCommon & {
      type: 'pbt';
      interval: number;
      quantile: number;
      resampleProbability: number;
      perturbation: [number, number];
      mutable: string[];
    });

/** A valid sweep block with every default filled in: what samplers and schedulers are built from. */
export interface ResolvedSweep {
  objective: SweepObjective;
  space: SearchSpace;
  algorithm: SweepAlgorithm;
  scheduler: ResolvedScheduler;
  trials: number;
  concurrency: number;
  seed: number;
  /** The block as written. */
  spec: SweepSpec;
}
