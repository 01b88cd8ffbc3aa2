/**
 * Asynchronous successive halving (ASHA, Li et al. 2020). Trials run toward `max`; rungs sit at
 * min·η^k for every k with min·η^k < max. When a trial reports at a rung, it is compared with the
 * trials that reached that rung before it: it continues if it is at least as good as the k-th best
 * of them all (itself included), k = max(1, ⌊n/η⌋), else it is stopped. Decisions are taken as each
 * result arrives, so no trial ever waits for others; the first η − 1 trials at a rung continue only
 * if each is the best so far there (Optuna's `SuccessiveHalvingPruner` rule, since a stopped trial
 * is not resumed later).
 */
import type { SchedulerDecision, StopDecision, TrialEnd, TrialScheduler } from './scheduler';
import { compareByMode, type SweepMode } from './spec';
import type { TrialParams } from './space';

/** ASHA's rungs: min·η^k below max. */
export function ashaRungs(min: number, max: number, reductionFactor: number): number[] {
  const rungs: number[] = [];
  for (let rung = min; rung < max; rung *= reductionFactor) rungs.push(rung);
  return rungs;
}

/** A trial's result at one rung, and whether it went on. */
export interface RungRecord {
  rung: number;
  value: number;
  /** How many trials (itself included) had reached the rung, and how many of them go on. */
  reached: number;
  kept: number;
  continued: boolean;
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/**
 * Successive halving over fixed rungs, deciding asynchronously: ASHA's core, also run once per
 * bracket by Hyperband.
 */
export class AsyncSuccessiveHalving {
  /** Rung index → trial → value, in arrival order. */
  private readonly recorded: Array<Map<number, number>>;
  private readonly history = new Map<number, RungRecord[]>();
  private readonly stopped = new Map<number, StopDecision>();

  constructor(
    readonly rungs: readonly number[],
    private readonly reductionFactor: number,
    private readonly mode: SweepMode,
    private readonly metric = 'value',
  ) {
    this.recorded = rungs.map(() => new Map<number, number>());
  }

  decide(trial: number, resource: number, value: number): SchedulerDecision {
    const stopped = this.stopped.get(trial);
    if (stopped) return stopped;
    const records = this.history.get(trial) ?? [];
    const lastRung = records.length > 0 ? this.rungs.indexOf(records.at(-1)!.rung) : -1;
    // The highest rung this result reaches, as long as the trial has not recorded it (or a higher one).
    let rungIndex = -1;
    for (let k = this.rungs.length - 1; k > lastRung; k--) {
      if (this.rungs[k]! <= resource) {
        rungIndex = k;
        break;
      }
    }
    if (rungIndex < 0) return { kind: 'continue' };
    const atRung = this.recorded[rungIndex]!;
    atRung.set(trial, value);
    const values = [...atRung.values()].sort((a, b) => compareByMode(a, b, this.mode));
    const kept = Math.max(1, Math.floor(values.length / this.reductionFactor));
    const threshold = values[kept - 1]!;
    const continued = !Number.isNaN(value) && compareByMode(value, threshold, this.mode) <= 0;
    const rung = this.rungs[rungIndex]!;
    records.push({ rung, value, reached: values.length, kept, continued });
    this.history.set(trial, records);
    if (continued) return { kind: 'continue' };
    const decision: StopDecision = {
      kind: 'stop',
      rung,
      reason:
        `${this.metric} ${formatValue(value)} at ${rung} is not in the top ${kept} of the ${values.length} ` +
        `trials that reached it (threshold ${formatValue(threshold)})`,
    };
    this.stopped.set(trial, decision);
    return decision;
  }

  /** The trial's results at the rungs it reached, for the sweep view. */
  recordsOf(trial: number): RungRecord[] {
    return [...(this.history.get(trial) ?? [])];
  }

  /** Each rung's results so far, trial → value. */
  resultsAt(rungIndex: number): ReadonlyMap<number, number> {
    return new Map(this.recorded[rungIndex] ?? []);
  }
}

export interface AshaConfig {
  /** First rung (grace period), ≥ 1. */
  min: number;
  /** Every trial's target. */
  max: number;
  /** η, an integer ≥ 2. */
  reductionFactor: number;
  mode: SweepMode;
  /** The scheduler metric's name, for stop reasons. */
  metric?: string;
}

export class AshaScheduler implements TrialScheduler {
  readonly type = 'asha';
  readonly halving: AsyncSuccessiveHalving;

  constructor(private readonly config: AshaConfig) {
    this.halving = new AsyncSuccessiveHalving(
      ashaRungs(config.min, config.max, config.reductionFactor),
      config.reductionFactor,
      config.mode,
      config.metric,
    );
  }

  get rungs(): readonly number[] {
    return this.halving.rungs;
  }

  addTrial(_index: number, _params: TrialParams): void {}

  targetFor(): number {
    return this.config.max;
  }

  onResult(index: number, resource: number, value: number): SchedulerDecision {
    return this.halving.decide(index, resource, value);
  }

  /** Results already recorded stay: they were measured, and later trials are judged against them. */
  onTrialEnd(_index: number, _end: TrialEnd): void {}

  retainedCheckpoints(): Array<{ trial: number; resource: number }> {
    return [];
  }

  recordsOf(index: number): RungRecord[] {
    return this.halving.recordsOf(index);
  }
}
