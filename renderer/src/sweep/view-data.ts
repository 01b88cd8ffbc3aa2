/**
 * The sweep view's data, shaped from a sweep record by pure functions: the trials table best
 * first, the optimisation history with its best-so-far line, the comparison entries for parallel
 * coordinates, each trial's intermediate curve with the rung where a scheduler stopped it, the
 * rungs themselves, param importance as bars, and PBT's exploit graph as lanes and arrows. Each
 * runs in time linear in the trials (or n log n for a sort), so 1,000 trials stay cheap
 * (test/bench/sweep-view.ts).
 */
import type {
  JsonValue,
  ParamImportanceInfo,
  SweepInfo,
  SweepMode,
  SweepScheduler,
  TrialInfo,
  TrialResultPoint,
  TrialStatus,
} from '../../../preload/contract';
import type { ComparisonEntry } from '../compare/comparison';

/** Whether `a` is a better objective than `b` under `mode`. */
export function better(a: number, b: number, mode: SweepMode): boolean {
  return mode === 'max' ? a > b : a < b;
}

/**
 * Trials best first: those with an objective by it, then the rest by their last scheduler
 * reading (a pruned trial's), then by index. A new array; the record is left alone.
 */
export function trialsBestFirst(trials: readonly TrialInfo[], mode: SweepMode): TrialInfo[] {
  const sign = mode === 'max' ? -1 : 1;
  return [...trials].sort((a, b) => {
    if (a.objective !== null || b.objective !== null) {
      if (a.objective === null) return 1;
      if (b.objective === null) return -1;
      if (a.objective !== b.objective) return sign * (a.objective - b.objective);
      return a.index - b.index;
    }
    return a.index - b.index;
  });
}

/** One point of the optimisation history. */
export interface HistoryPoint {
  /** The trial's index. */
  trial: number;
  objective: number;
  /** The best objective of the trials up to and including this one. */
  best: number;
  /** Whether this trial set a new best. */
  improved: boolean;
}

/**
 * Objective per trial, in trial order, with the best-so-far line: only trials with an objective
 * take part (queued, running and pruned ones have none yet).
 */
export function optimisationHistory(trials: readonly TrialInfo[], mode: SweepMode): HistoryPoint[] {
  const scored = trials.filter((trial) => trial.objective !== null).sort((a, b) => a.index - b.index);
  const points: HistoryPoint[] = [];
  let best: number | null = null;
  for (const trial of scored) {
    const objective = trial.objective!;
    const improved = best === null || better(objective, best, mode);
    if (improved) best = objective;
    points.push({ trial: trial.index, objective, best: best!, improved });
  }
  return points;
}

/** A param value as a table cell or axis label. */
export function formatValue(value: JsonValue | undefined): string {
  if (value === undefined) return '—';
  if (Array.isArray(value)) return `[${value.map((item) => formatValue(item)).join(', ')}]`;
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return String(value);
    const magnitude = Math.abs(value);
    return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5)
      ? value.toExponential(2)
      : String(Number(value.toPrecision(4)));
  }
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The key of the objective as a comparison metric, e.g. `score.accuracy`. */
export function objectiveKey(sweep: Pick<SweepInfo, 'objective'>): string {
  return `${sweep.objective.node}.${sweep.objective.metric}`;
}

/**
 * The trials as comparison entries (RunComparison / ParallelCoordinates): each trial's params,
 * its objective (when it has one) and the epochs it used, keyed by trial index.
 */
export function trialEntries(sweep: Pick<SweepInfo, 'objective' | 'trials'>): ComparisonEntry[] {
  const key = objectiveKey(sweep);
  return sweep.trials.map((trial) => {
    const metrics: Record<string, number> = { epochs: trial.epochs };
    if (trial.objective !== null) metrics[key] = trial.objective;
    return { id: String(trial.index), label: `trial ${trial.index}`, params: { ...trial.params }, metrics };
  });
}

/** The rungs of ASHA or Hyperband's first bracket: min·η^k below max; none for other schedulers. */
export function rungs(scheduler: SweepScheduler | undefined, fallbackMax?: number): number[] {
  if (!scheduler || (scheduler.type !== 'asha' && scheduler.type !== 'hyperband')) return [];
  const min = scheduler.min ?? 1;
  const eta = scheduler.reductionFactor ?? 3;
  const max = scheduler.max ?? fallbackMax ?? 0;
  if (!(min > 0) || !(eta >= 2)) return [];
  const levels: number[] = [];
  // Multiplying an integer by an integer keeps the rungs exact (no floating-point drift).
  for (let rung = min; rung < max; rung *= eta) levels.push(rung);
  return levels;
}

/** One trial's intermediate curve and, for a pruned trial, where it was stopped. */
export interface TrialCurve {
  trial: number;
  status: TrialStatus;
  points: TrialResultPoint[];
  /** The reading at the rung where the scheduler stopped it; null unless pruned. */
  stop: TrialResultPoint | null;
}

/**
 * The curves of the trials (their scheduler readings), at most `limit` of them so a chart of a
 * 1,000-trial sweep stays light: the best ones by objective or last reading, then the rest in
 * index order. A pruned trial's stop marker is its reading at its stopping rung (or its last one).
 */
export function trialCurves(trials: readonly TrialInfo[], mode: SweepMode, limit = 60): TrialCurve[] {
  const withCurves = trials.filter((trial) => (trial.curve?.length ?? 0) > 0 || trial.lastResult);
  const score = (trial: TrialInfo) => trial.objective ?? trial.lastResult?.value ?? null;
  const ranked = [...withCurves].sort((a, b) => {
    const left = score(a);
    const right = score(b);
    if (left === null || right === null) return left === null ? (right === null ? a.index - b.index : 1) : -1;
    return mode === 'max' ? right - left : left - right;
  });
  return ranked
    .slice(0, limit)
    .sort((a, b) => a.index - b.index)
    .map((trial) => {
      const points = trial.curve?.length ? trial.curve : trial.lastResult ? [trial.lastResult] : [];
      let stop: TrialResultPoint | null = null;
      if (trial.status === 'pruned' && points.length) {
        const rung = trial.stopped?.rung;
        stop =
          (rung !== undefined ? points.find((point) => point.resource === rung) : undefined) ??
          points.at(-1)!;
      }
      return { trial: trial.index, status: trial.status, points, stop };
    });
}

/** One bar of the importance chart. */
export interface ImportanceBar {
  key: string;
  /** ε² as a percentage of the objective's variance, one decimal. */
  percent: number;
  /** Share of the largest importance, in [0, 1], for the bar's width. */
  width: number;
  groups: number;
}

/** The importance figures as bars, most important first. */
export function importanceBars(importance: readonly ParamImportanceInfo[]): ImportanceBar[] {
  const top = Math.max(0, ...importance.map((entry) => entry.importance));
  return [...importance]
    .sort((a, b) => b.importance - a.importance || a.key.localeCompare(b.key))
    .map((entry) => ({
      key: entry.key,
      percent: Math.round(entry.importance * 1000) / 10,
      width: top > 0 ? entry.importance / top : 0,
      groups: entry.groups,
    }));
}

/** PBT's exploits drawn as lanes (one per trial) over the resource axis. */
export interface ExploitGraph {
  /** Trial indices, one lane each, top to bottom. */
  lanes: number[];
  /** The furthest resource any lane reaches. */
  maxResource: number;
  /** Each lane's extent: from 0 to the resource it reached. */
  segments: Array<{ lane: number; trial: number; to: number }>;
  /** One arrow per exploit: from the source trial's lane at `atResource` to the target's at `resource`. */
  arrows: Array<{
    fromLane: number;
    toLane: number;
    from: number;
    to: number;
    atResource: number;
    resource: number;
    label: string;
  }>;
}

/**
 * Lays out the exploit graph: trials in index order as lanes; an arrow per exploit, labelled with
 * how the params changed (×1.2, resampled…). Trials without exploits that nobody copied are kept,
 * so the lanes say how big the population was.
 */
export function exploitGraph(trials: readonly TrialInfo[]): ExploitGraph {
  const ordered = [...trials].sort((a, b) => a.index - b.index);
  const laneOf = new Map(ordered.map((trial, lane) => [trial.index, lane]));
  let maxResource = 0;
  const segments = ordered.map((trial, lane) => {
    const to = Math.max(trial.epochs, ...trial.exploits.map((exploit) => exploit.resource));
    maxResource = Math.max(maxResource, to);
    return { lane, trial: trial.index, to };
  });
  const arrows: ExploitGraph['arrows'] = [];
  for (const trial of ordered)
    for (const exploit of trial.exploits) {
      const fromLane = laneOf.get(exploit.from);
      if (fromLane === undefined) continue;
      const label = exploit.changes
        .map((change) =>
          change.how === 'perturb' && change.factor !== undefined
            ? `${change.key.split('.').pop()} ×${change.factor}`
            : `${change.key.split('.').pop()} ${change.how}`,
        )
        .join(', ');
      arrows.push({
        fromLane,
        toLane: laneOf.get(trial.index)!,
        from: exploit.from,
        to: trial.index,
        atResource: exploit.atResource,
        resource: exploit.resource,
        label,
      });
    }
  return { lanes: ordered.map((trial) => trial.index), maxResource, segments, arrows };
}

/** The swept params' keys, in the space's order (the table's and the axes' columns). */
export function spaceKeys(sweep: Pick<SweepInfo, 'spec'>): string[] {
  return Object.keys(sweep.spec.space);
}

/**
 * The space keys searched on a log scale (log-uniform, or integers with `log`): their parallel
 * axes start logarithmic, however few trials have drawn values so far.
 */
export function logSpaceKeys(sweep: Pick<SweepInfo, 'spec'>): Set<string> {
  const keys = new Set<string>();
  for (const [key, domain] of Object.entries(sweep.spec.space))
    if ('logUniform' in domain || ('int' in domain && domain.log === true)) keys.add(key);
  return keys;
}

/** Applies a `trial.status` event to a sweep's trials (by index), keeping readings already held. */
export function mergeTrial(trials: readonly TrialInfo[], update: TrialInfo): TrialInfo[] {
  const next = [...trials];
  const previous = next[update.index];
  let curve = update.curve ?? previous?.curve;
  // The event carries the latest reading only: append it to the curve held, once.
  if (!update.curve && update.lastResult && curve && curve.at(-1)?.resource !== update.lastResult.resource)
    curve = [...curve, update.lastResult];
  else if (!curve && update.lastResult) curve = [update.lastResult];
  const merged: TrialInfo = { ...update };
  if (curve) merged.curve = curve;
  if (update.index >= next.length) {
    next.length = update.index + 1;
    next[update.index] = merged;
    return Array.from(next, (trial, index) => trial ?? placeholderTrial(update.sweepId, index));
  }
  next[update.index] = merged;
  return next;
}

function placeholderTrial(sweepId: string, index: number): TrialInfo {
  return {
    sweepId,
    index,
    params: {},
    status: 'queued',
    objective: null,
    epochs: 0,
    epochsTrained: 0,
    runId: null,
    runs: [],
    lastResult: null,
    stopped: null,
    exploits: [],
    error: null,
    startedAt: null,
    finishedAt: null,
  };
}
