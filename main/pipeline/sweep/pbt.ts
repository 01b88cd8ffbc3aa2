/**
 * Population-based training (Jaderberg et al. 2017), as Ray Tune's `PopulationBasedTraining` does
 * it by default. Every trial of the sweep is a member of the population and runs in segments of
 * `interval` epochs (its target is the end of its current segment). When a trial reports at a
 * segment's end, the live trials are ranked by the score each reported at its latest segment end;
 * with q = ⌈n·quantile⌉ (at most ⌊n/2⌋), a trial among the q worst exploits one of the q best,
 * picked at random: it continues from that trial's checkpoint at its latest segment end (weights
 * and optimizer state) with that trial's params, and explores: each mutable param is drawn again
 * from the space with probability `resampleProbability`, else a number is multiplied by one of the
 * `perturbation` factors (clamped to the space's range) and a choice moves to a neighbouring value.
 * Trials that have finished their budget, failed or been cancelled no longer take part.
 *
 * Every random pick comes from a generator seeded by (seed, trial, how many times it exploited),
 * so replaying the same results gives the same decisions.
 */
import { mixSeed, Rng, SALT_PBT } from './random';
import type { ExploitDecision, ParamChange, SchedulerDecision, TrialEnd, TrialScheduler } from './scheduler';
import { compareByMode, type JsonValue, type SweepMode } from './spec';
import {
  clampToDomain,
  cloneJson,
  drawFromDomain,
  isCategorical,
  jsonEqual,
  type SearchSpace,
  type TrialParams,
} from './space';

export interface PbtConfig {
  /** Every trial's budget. */
  max: number;
  /** Epochs per segment. */
  interval: number;
  /** Fraction in the bottom (and top) group, in (0, 0.5]. */
  quantile: number;
  resampleProbability: number;
  /** Factors a numeric param is multiplied by: [down, up]. */
  perturbation: readonly [number, number];
  /** Space keys an exploit may change. */
  mutable: readonly string[];
  mode: SweepMode;
  seed: number;
}

/** One exploit, for the trial's record and the sweep view's exploit graph. */
export interface PbtHistoryEntry {
  trial: number;
  /** The resource at which the trial was judged. */
  resource: number;
  from: number;
  atResource: number;
  /** The trial's params before, and its new params. */
  before: TrialParams;
  after: TrialParams;
  changes: ParamChange[];
}

interface Member {
  params: TrialParams;
  /** Resource reached (after an exploit: the copied checkpoint's). */
  current: number;
  /** Score and resource at its latest segment end: what it is ranked by, and what others copy. */
  latest?: { resource: number; value: number };
  finished: boolean;
  ended: boolean;
  exploits: number;
}

export class PbtScheduler implements TrialScheduler {
  readonly type = 'pbt';
  private readonly members = new Map<number, Member>();
  private readonly log: PbtHistoryEntry[] = [];

  constructor(
    private readonly config: PbtConfig,
    private readonly space: SearchSpace,
  ) {}

  /** Every exploit so far, in order. */
  get history(): readonly PbtHistoryEntry[] {
    return this.log;
  }

  /** A trial's current params (changed by its exploits). */
  paramsOf(index: number): TrialParams | undefined {
    const member = this.members.get(index);
    return member ? structuredClone(member.params) : undefined;
  }

  addTrial(index: number, params: TrialParams): void {
    this.members.set(index, {
      params: structuredClone(params),
      current: 0,
      finished: false,
      ended: false,
      exploits: 0,
    });
  }

  targetFor(index: number): number {
    const current = this.member(index).current;
    return Math.min(this.config.max, (Math.floor(current / this.config.interval) + 1) * this.config.interval);
  }

  onResult(index: number, resource: number, value: number): SchedulerDecision {
    const member = this.member(index);
    member.current = resource;
    if (resource >= this.config.max) {
      member.latest = { resource, value };
      member.finished = true;
      return { kind: 'continue' };
    }
    if (resource % this.config.interval !== 0) return { kind: 'continue' };
    member.latest = { resource, value };
    const { bottom, top } = this.quantiles();
    if (!bottom.includes(index) || top.length === 0) return { kind: 'continue' };
    const rng = new Rng(mixSeed(this.config.seed, SALT_PBT, index, member.exploits));
    member.exploits += 1;
    const from = top[rng.nextInt(top.length)]!;
    const source = this.members.get(from)!;
    const { params, changes } = this.explore(source.params, rng);
    const atResource = source.latest!.resource;
    this.log.push({
      trial: index,
      resource,
      from,
      atResource,
      before: structuredClone(member.params),
      after: structuredClone(params),
      changes,
    });
    member.params = params;
    member.current = atResource;
    member.latest = { ...source.latest! };
    const decision: ExploitDecision = {
      kind: 'exploit',
      from,
      atResource,
      params: structuredClone(params),
      changes,
    };
    return decision;
  }

  onTrialEnd(index: number, end: TrialEnd): void {
    const member = this.members.get(index);
    if (!member) return;
    if (end === 'done') member.finished = true;
    else member.ended = true;
  }

  /** Each live trial's latest segment-end checkpoint: a later exploit may copy any of them. */
  retainedCheckpoints(): Array<{ trial: number; resource: number }> {
    const retained: Array<{ trial: number; resource: number }> = [];
    for (const [trial, member] of this.members) {
      if (!member.finished && !member.ended && member.latest)
        retained.push({ trial, resource: member.latest.resource });
    }
    return retained;
  }

  /** The q worst and q best live trials with a score (each list best first). */
  quantiles(): { bottom: number[]; top: number[] } {
    const ranked = [...this.members.entries()]
      .filter(([, member]) => member.latest && !member.finished && !member.ended)
      .sort(
        ([a, left], [b, right]) =>
          compareByMode(left.latest!.value, right.latest!.value, this.config.mode) || a - b,
      )
      .map(([trial]) => trial);
    if (ranked.length <= 1) return { bottom: [], top: [] };
    let size = Math.ceil(ranked.length * this.config.quantile);
    if (size > ranked.length / 2) size = Math.floor(ranked.length / 2);
    return { bottom: ranked.slice(ranked.length - size), top: ranked.slice(0, size) };
  }

  /** The source's params with the mutable ones explored, and what changed. */
  explore(source: Readonly<TrialParams>, rng: Rng): { params: TrialParams; changes: ParamChange[] } {
    const explored: TrialParams = structuredClone(source);
    const changes: ParamChange[] = [];
    for (const param of this.space.params) {
      if (!this.config.mutable.includes(param.key) || !Object.hasOwn(explored, param.key)) continue;
      const before = explored[param.key]!;
      const domain = param.domain;
      let after: JsonValue;
      let change: Omit<ParamChange, 'key' | 'from' | 'to'>;
      if (rng.next() < this.config.resampleProbability) {
        after = drawFromDomain(domain, rng);
        change = { how: 'resample' };
      } else if (isCategorical(domain)) {
        const at = Math.max(
          0,
          domain.values.findIndex((value) => jsonEqual(value, before)),
        );
        const step = rng.next() < 0.5 ? -1 : 1;
        after = cloneJson(domain.values[Math.min(domain.values.length - 1, Math.max(0, at + step))]!);
        change = { how: 'shift' };
      } else {
        const factor = rng.next() < 0.5 ? this.config.perturbation[0] : this.config.perturbation[1];
        after = clampToDomain(domain, (typeof before === 'number' ? before : domain.low) * factor);
        change = { how: 'perturb', factor };
      }
      explored[param.key] = after;
      changes.push({ key: param.key, from: before, to: after, ...change });
    }
    // A changed param may switch conditions: drop what no longer applies, draw what now does.
    const completed = this.space.complete(explored, (param) => drawFromDomain(param.domain, rng));
    for (const param of this.space.params) {
      const had = Object.hasOwn(explored, param.key);
      const has = Object.hasOwn(completed, param.key);
      if (had && !has)
        changes.push({ key: param.key, from: explored[param.key], to: undefined, how: 'deactivated' });
      if (!had && has)
        changes.push({ key: param.key, from: undefined, to: completed[param.key], how: 'activated' });
    }
    return { params: completed, changes };
  }

  private member(index: number): Member {
    let member = this.members.get(index);
    if (!member) {
      // A result for a trial never added: it joins with no known params.
      member = { params: {}, current: 0, finished: false, ended: false, exploits: 0 };
      this.members.set(index, member);
    }
    return member;
  }
}
