/**
 * The x axes of metric charts, as pure functions: fractional epochs from global steps, elapsed time
 * from one origin shared by every chart of a run, and tick intervals with labels precise enough
 * that no two ticks read the same.
 */

/** What a chart's x axis counts. */
export type XAxis = 'step' | 'epoch' | 'time';

/**
 * Optimisation steps in one epoch, read from points that carry a global step and a 1-based epoch.
 * An epoch is known to be complete once a later epoch has points; its last step, divided by its
 * number, is the answer. Before the first epoch ends, `hint` (e.g. a task's total steps over its
 * epochs) is used when given, else the steps seen so far count as one epoch. Null when no point
 * has an epoch of 1 or more.
 */
export function stepsPerEpoch(
  step: ArrayLike<number>,
  epoch: ArrayLike<number>,
  hint?: number | null,
): number | null {
  const lastStep = new Map<number, number>();
  let newest = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < step.length; i++) {
    const e = epoch[i]!;
    if (!Number.isFinite(e) || e < 1) continue;
    lastStep.set(e, Math.max(lastStep.get(e) ?? Number.NEGATIVE_INFINITY, step[i]!));
    newest = Math.max(newest, e);
  }
  if (lastStep.size === 0) return null;
  let complete = Number.NEGATIVE_INFINITY;
  for (const e of lastStep.keys()) if (e < newest && e > complete) complete = e;
  if (Number.isFinite(complete)) return lastStep.get(complete)! / complete;
  if (hint !== undefined && hint !== null && Number.isFinite(hint) && hint > 0) return hint;
  const seen = lastStep.get(newest)! / newest;
  return seen > 0 ? seen : null;
}

/**
 * Epoch of each point as a fraction (step ÷ steps per epoch), so points within an epoch spread
 * along the axis instead of stacking on its number. Falls back to the recorded epochs when the
 * steps do not fit them (an op whose steps restart each epoch), and to null when some point has
 * no epoch (the caller then shows steps).
 */
export function fractionalEpochs(
  step: ArrayLike<number>,
  epoch: ArrayLike<number>,
  hint?: number | null,
): Float64Array | null {
  for (let i = 0; i < epoch.length; i++) if (!Number.isFinite(epoch[i]!)) return null;
  const perEpoch = stepsPerEpoch(step, epoch, hint);
  const recorded = Float64Array.from(epoch);
  if (perEpoch === null) return recorded;
  const out = new Float64Array(step.length);
  // Slack for rounding in step ÷ steps per epoch; a real mismatch is off by a whole step or more.
  const slack = 1e-9;
  for (let i = 0; i < step.length; i++) {
    const e = epoch[i]!;
    const x = step[i]! / perEpoch;
    // A point of epoch e lies in (e - 1, e]; one that does not means the steps are not global.
    if (e >= 1 && (x <= e - 1 - slack || x > e + slack)) return recorded;
    out[i] = x;
  }
  return out;
}

/** Seconds since `origin` (milliseconds since the epoch) of each time; the first time without one. */
export function elapsedSeconds(time: ArrayLike<number>, origin?: number | null): Float64Array {
  const t0 = origin ?? (time.length > 0 ? time[0]! : 0);
  const out = new Float64Array(time.length);
  for (let i = 0; i < time.length; i++) out[i] = (time[i]! - t0) / 1000;
  return out;
}

/**
 * The time every chart of a run measures from: the run's start, else (a run not started yet, or a
 * record without it) the earliest point any of its charts has.
 */
export function runTimeOrigin(startedAt: string | null, firstTimes: Iterable<number>): number | null {
  const started = startedAt === null ? Number.NaN : Date.parse(startedAt);
  if (Number.isFinite(started)) return started;
  let earliest = Number.POSITIVE_INFINITY;
  for (const time of firstTimes) if (Number.isFinite(time) && time < earliest) earliest = time;
  return Number.isFinite(earliest) ? earliest : null;
}

/** Ticks a chart aims for across its width. */
export const TARGET_TICKS = 6;

/** Time steps that read well on a clock: sub-second decimals, then seconds, minutes, hours, days. */
const TIME_INTERVALS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
];

/** The smallest of 1, 2, 5 × 10^k (k any integer) that is at least `rough`. */
function decimalNice(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= rough * (1 - 1e-12)) return factor * power;
  return 10 * power;
}

/**
 * Distance between ticks for an axis showing `span` units: 1, 2, 5 × 10^k for epochs, the same but
 * whole for steps, and clock steps (15 s, 5 min, 6 h, …) for time. Never zero.
 */
export function niceInterval(span: number, axis: XAxis, targetTicks = TARGET_TICKS): number {
  const rough = Number.isFinite(span) && span > 0 ? span / Math.max(1, targetTicks) : 1;
  if (axis === 'step') return Math.max(1, decimalNice(rough));
  if (axis === 'epoch') return decimalNice(rough);
  if (rough < 1) return decimalNice(rough);
  for (const interval of TIME_INTERVALS) if (interval >= rough) return interval;
  return Math.ceil(rough / 86_400) * 86_400;
}

/** Decimals needed to write multiples of `interval` exactly (0.25 → 2, 5 → 0). */
export function decimalsOf(interval: number): number {
  for (let decimals = 0; decimals < 12; decimals++) {
    const scaled = interval * 10 ** decimals;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9 * Math.max(1, scaled)) return decimals;
  }
  return 12;
}

/**
 * A duration in seconds, as precise as `resolution` (seconds) needs: `45s`, `12.5s`, `1m05s`,
 * `35m`, `1h05m`, `3h`.
 */
export function formatDuration(seconds: number, resolution: number): string {
  if (seconds < 0) return `-${formatDuration(-seconds, resolution)}`;
  if (resolution < 1) {
    const decimals = decimalsOf(resolution);
    const rounded = Math.round(seconds * 10 ** decimals) / 10 ** decimals;
    const minutes = Math.floor(rounded / 60);
    const rest = (rounded - minutes * 60).toFixed(decimals);
    if (minutes === 0) return `${rest}s`;
    return `${minutes}m${rest.padStart(decimals + 3, '0')}s`;
  }
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  if (resolution < 60) {
    if (hours > 0) return `${hours}h${pad(minutes)}m${pad(secs)}s`;
    return minutes > 0 ? `${minutes}m${pad(secs)}s` : `${secs}s`;
  }
  if (resolution < 3600) return hours > 0 ? `${hours}h${pad(minutes)}m` : `${minutes}m`;
  return `${hours}h`;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/** A label for a tick at `value` on an axis whose ticks are `interval` apart. */
export function formatTick(value: number, axis: XAxis, interval: number): string {
  if (axis === 'time') return formatDuration(value, interval);
  const decimals = axis === 'step' ? 0 : decimalsOf(interval);
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** The x value of one point, for a tooltip: finer than any tick. */
export function formatPointX(value: number, axis: XAxis): string {
  if (axis === 'time') return formatDuration(value, 0.1);
  if (axis === 'step') return Math.round(value).toLocaleString('en-US');
  return value.toLocaleString('en-US', { maximumFractionDigits: 3 });
}
