/**
 * Hyperparameter sweeps, the pure part: the `sweep` block's types and validation, the search space,
 * the samplers (grid, random, TPE), the trial schedulers (ASHA, Hyperband, PBT), param importance
 * and the substitution of a trial's values into its pipeline. No processes, files or clocks: the
 * sweep layer in jobs/ feeds these results and acts on their decisions.
 */
export * from './apply-trial-params';
export * from './asha';
export * from './factories';
export * from './grid-sampler';
export * from './hyperband';
export * from './importance';
export * from './pbt';
export * from './random-sampler';
export * from './resolved-sweep';
export * from './sampler';
export * from './scheduler';
export * from './space';
export * from './spec';
export * from './tpe-sampler';
export * from './validate-sweep';
