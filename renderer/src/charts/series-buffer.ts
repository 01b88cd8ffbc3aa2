/**
 * Columnar storage of one metric's points (step, epoch, time, value) in typed arrays. It grows by
 * doubling up to `capacity`, then keeps the newest `capacity` points as a ring, so memory stays
 * bounded however long a run streams. Not reactive: the runs store bumps a version once per frame.
 */
import type { MetricPointInfo } from '../../../preload/contract';
import { elapsedSeconds, fractionalEpochs, type XAxis } from './axis';

export type { XAxis } from './axis';

/** One line of a chart: a label and the buffer it draws. */
export interface ChartSeries {
  key: string;
  label: string;
  buffer: SeriesBuffer;
  /** Where its time axis starts (its run's start), in milliseconds since the epoch. */
  timeOrigin?: number | null;
  /** Steps per epoch of its task, when known before its first epoch ends. */
  stepsPerEpoch?: number | null;
  /** Its line colour, where a view keeps one colour per run across charts (Compare). */
  color?: string;
}

export interface SeriesColumns {
  step: Float64Array;
  epoch: Float64Array;
  time: Float64Array;
  value: Float64Array;
}

export class SeriesBuffer {
  private columns: SeriesColumns;
  private start = 0;
  private count = 0;

  constructor(
    readonly capacity = 2_000_000,
    initial = 256,
  ) {
    this.columns = allocate(Math.min(initial, capacity));
  }

  get length(): number {
    return this.count;
  }

  /** Step of the newest point, or -Infinity when empty. */
  get lastStep(): number {
    if (this.count === 0) return Number.NEGATIVE_INFINITY;
    return this.columns.step[(this.start + this.count - 1) % this.columns.step.length]!;
  }

  push(point: Pick<MetricPointInfo, 'step' | 'epoch' | 'time' | 'value'>): void {
    let size = this.columns.step.length;
    if (this.count === size && size < this.capacity) {
      this.grow(Math.min(size * 2, this.capacity));
      size = this.columns.step.length;
    }
    let at: number;
    if (this.count < size) {
      at = (this.start + this.count) % size;
      this.count++;
    } else {
      at = this.start;
      this.start = (this.start + 1) % size;
    }
    this.columns.step[at] = point.step;
    this.columns.epoch[at] = point.epoch ?? Number.NaN;
    this.columns.time[at] = point.time;
    this.columns.value[at] = point.value;
  }

  clear(): void {
    this.start = 0;
    this.count = 0;
  }

  /** The points oldest-first; views into the buffer when it has not wrapped, copies otherwise. */
  toColumns(): SeriesColumns {
    const size = this.columns.step.length;
    if (this.start + this.count <= size) {
      const end = this.start + this.count;
      return {
        step: this.columns.step.subarray(this.start, end),
        epoch: this.columns.epoch.subarray(this.start, end),
        time: this.columns.time.subarray(this.start, end),
        value: this.columns.value.subarray(this.start, end),
      };
    }
    const out = allocate(this.count);
    for (const key of ['step', 'epoch', 'time', 'value'] as const) {
      const head = this.columns[key].subarray(this.start);
      out[key].set(head, 0);
      out[key].set(this.columns[key].subarray(0, this.count - head.length), head.length);
    }
    return out;
  }

  /** The newest value, or undefined when empty. */
  last(): { step: number; value: number } | undefined {
    if (this.count === 0) return undefined;
    const at = (this.start + this.count - 1) % this.columns.step.length;
    return { step: this.columns.step[at]!, value: this.columns.value[at]! };
  }

  private grow(size: number): void {
    const next = allocate(size);
    const ordered = this.toColumns();
    for (const key of ['step', 'epoch', 'time', 'value'] as const) next[key].set(ordered[key]);
    this.columns = next;
    this.start = 0;
  }
}

function allocate(size: number): SeriesColumns {
  return {
    step: new Float64Array(size),
    epoch: new Float64Array(size),
    time: new Float64Array(size),
    value: new Float64Array(size),
  };
}

/** What the x column of a series is measured from, beyond the points themselves. */
export interface XColumnOptions {
  /** Time origin in milliseconds since the epoch (the run's start); else the series' first point. */
  timeOrigin?: number | null;
  /** Steps per epoch to assume until the series shows a complete epoch. */
  stepsPerEpoch?: number | null;
}

/**
 * The x column for an axis mode: steps; fractional epochs (steps when points carry no epoch, so
 * the chart never goes blank); or seconds since the time origin.
 */
export function xColumn(columns: SeriesColumns, axis: XAxis, options: XColumnOptions = {}): Float64Array {
  if (axis === 'step') return columns.step;
  if (axis === 'epoch')
    return fractionalEpochs(columns.step, columns.epoch, options.stepsPerEpoch) ?? columns.step;
  return elapsedSeconds(columns.time, options.timeOrigin);
}
