/**
 * What every trial scheduler (ASHA, Hyperband, PBT, none) offers the sweep layer: pure decisions
 * from the per-epoch results it is fed. It owns no processes and no clock; the sweep layer runs
 * each trial to {@link TrialScheduler.targetFor}, reports each epoch's validation metric through
 * {@link TrialScheduler.onResult} and acts on the decision. A scheduler's state is a function of
 * the calls made on it, so after a restart the sweep layer rebuilds it by replaying the recorded
 * results in their recorded order.
 */
import type { SchedulerType } from './spec';
import type { TrialParams } from './space';

/** A trial carries on toward its target. */
export interface ContinueDecision {
  kind: 'continue';
}

/** A trial is stopped and marked pruned; its metrics and checkpoint are kept. */
export interface StopDecision {
  kind: 'stop';
  /** The rung (resource) at which it fell out of the top 1/η. */
  rung: number;
  /** For logs and the sweep view, e.g. "val_accuracy 0.91 is not in the top 2 of 7 at epoch 3". */
  reason: string;
}

/** PBT: the trial continues from another trial's checkpoint, with new params. */
export interface ExploitDecision {
  kind: 'exploit';
  /** The trial whose checkpoint (weights and optimizer state) is copied. */
  from: number;
  /** The resource (epoch) of that checkpoint: the source's last segment end. */
  atResource: number;
  /** The trial's params from now on: the source's, with the mutable ones explored. */
  params: TrialParams;
  /** What changed from the source's params, per key. */
  changes: ParamChange[];
}

export type SchedulerDecision = ContinueDecision | StopDecision | ExploitDecision;

/** How PBT's explore step changed one param. */
export interface ParamChange {
  key: string;
  from: TrialParams[string] | undefined;
  to: TrialParams[string] | undefined;
  /**
   * `perturb` (×factor), `shift` (a choice's neighbouring value), `resample` (drawn from the
   * space again), or `activated` / `deactivated` (a `when` condition changed with the others).
   */
  how: 'perturb' | 'shift' | 'resample' | 'activated' | 'deactivated';
  factor?: number;
}

/** How a trial's run ended, as far as the scheduler cares. */
export type TrialEnd = 'done' | 'pruned' | 'failed' | 'cancelled';

export interface TrialScheduler {
  readonly type: SchedulerType;
  /** Registers trial `index` with its params before its first run. */
  addTrial(index: number, params: TrialParams): void;
  /**
   * The resource value (e.g. `fit.epochs`) to give the trial's next run: the full budget for
   * ASHA and Hyperband, the end of the current segment for PBT.
   */
  targetFor(index: number): number;
  /**
   * The trial's scheduler metric after `resource` units (an epoch's validation metric). Reports
   * must come in increasing resource order per trial; the runner reports once a checkpoint for
   * that resource exists.
   */
  onResult(index: number, resource: number, value: number): SchedulerDecision;
  /** The trial's run ended; a failed or cancelled trial no longer competes. */
  onTrialEnd(index: number, end: TrialEnd): void;
  /**
   * Checkpoints that must outlive their runs, as (trial, resource): those a future exploit may
   * copy. Empty except for PBT.
   */
  retainedCheckpoints(): Array<{ trial: number; resource: number }>;
}

/** The scheduler of a sweep without one: every trial runs the pipeline's own budget. */
export class NoScheduler implements TrialScheduler {
  readonly type = 'none';

  /** @param budget What `targetFor` answers; the runner leaves the pipeline's value unchanged. */
  constructor(private readonly budget: number = Infinity) {}

  addTrial(): void {}

  targetFor(): number {
    return this.budget;
  }

  onResult(): SchedulerDecision {
    return { kind: 'continue' };
  }

  onTrialEnd(): void {}

  retainedCheckpoints(): Array<{ trial: number; resource: number }> {
    return [];
  }
}
