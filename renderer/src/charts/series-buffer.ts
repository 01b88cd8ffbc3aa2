/**
 * Columnar storage of one metric's points (step, epoch, time, value) in typed arrays. It grows by
 * doubling up to `capacity`, then keeps the newest `capacity` points as a ring, so memory stays
 * bounded however long a run streams. Not reactive: the runs store bumps a version once per frame.
 */
import type { MetricPointInfo } from '../../../preload/contract';

export type XAxis = 'step' | 'epoch' | 'time';

/** One line of a chart: a label and the buffer it draws. */
export interface ChartSeries {
  key: string;
  label: string;
  buffer: SeriesBuffer;
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

/** The x column for an axis mode; `time` is seconds since the first point. */
export function xColumn(columns: SeriesColumns, axis: XAxis): Float64Array {
  if (axis === 'step') return columns.step;
  if (axis === 'epoch') {
    // Per-step metrics carry no epoch; fall back to step so the chart never goes blank.
    let finite = 0;
    for (let i = 0; i < columns.epoch.length; i++) if (Number.isFinite(columns.epoch[i])) finite++;
    return finite === columns.epoch.length ? columns.epoch : columns.step;
  }
  const out = new Float64Array(columns.time.length);
  const t0 = columns.time[0] ?? 0;
  for (let i = 0; i < out.length; i++) out[i] = (columns.time[i]! - t0) / 1000;
  return out;
}
