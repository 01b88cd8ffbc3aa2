import { describe, expect, it } from 'vitest';
import {
  decimalsOf,
  elapsedSeconds,
  formatDuration,
  formatPointX,
  formatTick,
  fractionalEpochs,
  niceInterval,
  runTimeOrigin,
  stepsPerEpoch,
  type XAxis,
} from '../../renderer/src/charts/axis';
import { appendMetricNames, rankMetrics } from '../../renderer/src/charts/metric-order';
import { SeriesBuffer, xColumn } from '../../renderer/src/charts/series-buffer';

/** Points as the train loop streams them: global step from 1, epoch from 1, `perEpoch` steps each. */
function trainPoints(perEpoch: number, steps: number): { step: number[]; epoch: number[] } {
  const step = Array.from({ length: steps }, (_, i) => i + 1);
  return { step, epoch: step.map((s) => Math.ceil(s / perEpoch)) };
}

/** The ticks an axis from `low` to `high` gets: multiples of the interval, as ECharts places them. */
function ticks(low: number, high: number, axis: XAxis): { interval: number; labels: string[] } {
  const interval = niceInterval(high - low, axis);
  const labels: string[] = [];
  for (let k = Math.ceil(low / interval); k * interval <= high + interval * 1e-9; k++)
    labels.push(formatTick(Number((k * interval).toPrecision(12)), axis, interval));
  return { interval, labels };
}

describe('epoch axis', () => {
  it('reads steps per epoch from the last step of a complete epoch', () => {
    const { step, epoch } = trainPoints(94, 200);
    expect(stepsPerEpoch(step, epoch)).toBe(94);
    // Per-epoch metrics (epoch_loss) sit on the last step of each epoch.
    expect(stepsPerEpoch([94, 188], [1, 2])).toBe(94);
  });

  it('uses the hint until the first epoch ends, else the steps seen so far', () => {
    const { step, epoch } = trainPoints(94, 50);
    expect(stepsPerEpoch(step, epoch, 94)).toBe(94);
    expect(stepsPerEpoch(step, epoch)).toBe(50);
    // Once an epoch is complete the data wins over a wrong hint.
    const later = trainPoints(94, 100);
    expect(stepsPerEpoch(later.step, later.epoch, 50)).toBe(94);
    expect(stepsPerEpoch([1, 2], [Number.NaN, Number.NaN])).toBeNull();
  });

  it('spreads the steps of an epoch between its neighbours', () => {
    const { step, epoch } = trainPoints(4, 12);
    expect(Array.from(fractionalEpochs(step, epoch)!)).toEqual([
      0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3,
    ]);
    // The epoch-end metrics land on whole epochs, where the step metrics end their epochs.
    expect(Array.from(fractionalEpochs([4, 8, 12], [1, 2, 3])!)).toEqual([1, 2, 3]);
  });

  it('falls back to the recorded epochs when steps restart each epoch, and to null without epochs', () => {
    const step = [1, 2, 3, 1, 2, 3];
    const epoch = [1, 1, 1, 2, 2, 2];
    expect(Array.from(fractionalEpochs(step, epoch)!)).toEqual(epoch);
    expect(fractionalEpochs([1, 2], [1, Number.NaN])).toBeNull();
  });

  it('is what a chart series draws on its epoch axis', () => {
    const buffer = new SeriesBuffer();
    const { step, epoch } = trainPoints(10, 15);
    step.forEach((s, i) => buffer.push({ step: s, epoch: epoch[i]!, time: 0, value: 1 }));
    const x = xColumn(buffer.toColumns(), 'epoch');
    expect(x[4]).toBeCloseTo(0.5);
    expect(x[14]).toBeCloseTo(1.5);
    // During the first epoch, a hint of 20 steps per epoch puts step 5 a quarter of the way.
    const early = new SeriesBuffer();
    for (let s = 1; s <= 5; s++) early.push({ step: s, epoch: 1, time: 0, value: 1 });
    expect(xColumn(early.toColumns(), 'epoch', { stepsPerEpoch: 20 })[4]).toBeCloseTo(0.25);
  });
});

describe('time axis', () => {
  it('measures every chart of a run from the run start', () => {
    const start = Date.parse('2025-03-01T10:00:00.000Z');
    // Two tasks of one run: the second started 90 s after the run.
    const first = elapsedSeconds([start + 1000, start + 2000], start);
    const second = elapsedSeconds([start + 90_000, start + 91_500], start);
    expect(Array.from(first)).toEqual([1, 2]);
    expect(Array.from(second)).toEqual([90, 91.5]);
    // Without an origin, a series counts from its own first point.
    expect(Array.from(elapsedSeconds([start + 90_000, start + 91_500]))).toEqual([0, 1.5]);
  });

  it('takes the run start as origin, else the earliest first point', () => {
    expect(runTimeOrigin('2025-03-01T10:00:00.000Z', [5])).toBe(Date.parse('2025-03-01T10:00:00.000Z'));
    expect(runTimeOrigin(null, [7000, 5000, Number.NaN])).toBe(5000);
    expect(runTimeOrigin(null, [])).toBeNull();
  });

  it('writes durations as precisely as the ticks need', () => {
    expect(formatDuration(45, 5)).toBe('45s');
    expect(formatDuration(12.5, 0.5)).toBe('12.5s');
    expect(formatDuration(65, 5)).toBe('1m05s');
    expect(formatDuration(62.5, 0.5)).toBe('1m02.5s');
    expect(formatDuration(59.96, 0.1)).toBe('1m00.0s');
    expect(formatDuration(35 * 60, 300)).toBe('35m');
    expect(formatDuration(65 * 60, 300)).toBe('1h05m');
    expect(formatDuration(3 * 3600, 3600)).toBe('3h');
    expect(formatDuration(-30, 10)).toBe('-30s');
  });
});

describe('tick labels', () => {
  it('picks 1-2-5 intervals for steps and epochs and clock intervals for time', () => {
    expect(niceInterval(1000, 'step')).toBe(200);
    expect(niceInterval(3, 'step')).toBe(1);
    expect(niceInterval(0.9, 'epoch')).toBe(0.2);
    expect(niceInterval(20, 'epoch')).toBe(5);
    expect(niceInterval(100, 'time')).toBe(30);
    expect(niceInterval(2 * 3600, 'time')).toBe(1800);
    expect(niceInterval(2, 'time')).toBe(0.5);
    expect(niceInterval(0, 'time')).toBe(1);
    expect(decimalsOf(0.25)).toBe(2);
    expect(decimalsOf(5)).toBe(0);
  });

  it('never gives two ticks the same label, on any axis and span', () => {
    const spans: Array<[number, number]> = [
      [0, 0.3],
      [0, 1.7],
      [0.2, 3],
      [0, 12],
      [0, 95],
      [30, 260],
      [0, 1900],
      [0, 5400],
      [100, 7300],
      [0, 200_000],
    ];
    for (const axis of ['step', 'epoch', 'time'] as const) {
      for (const [low, high] of spans) {
        if (axis === 'step' && high < 2) continue;
        const { labels } = ticks(low, high, axis);
        expect(labels.length, `${axis} ${low}–${high}: ${labels.join(' ')}`).toBeGreaterThanOrEqual(2);
        expect(labels.length).toBeLessThanOrEqual(12);
        expect(new Set(labels).size, `${axis} ${low}–${high}: ${labels.join(' ')}`).toBe(labels.length);
      }
    }
  });

  it('labels fractional epochs and seconds with the decimals their interval has', () => {
    expect(ticks(0, 0.9, 'epoch').labels).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8']);
    expect(ticks(0, 150, 'time').labels).toEqual(['0s', '30s', '1m00s', '1m30s', '2m00s', '2m30s']);
    expect(ticks(0, 2, 'time').labels).toEqual(['0.0s', '0.5s', '1.0s', '1.5s', '2.0s']);
    expect(ticks(0, 5000, 'step').labels).toEqual(['0', '1,000', '2,000', '3,000', '4,000', '5,000']);
    expect(formatPointX(1.23456, 'epoch')).toBe('1.235');
    expect(formatPointX(75.25, 'time')).toBe('1m15.3s');
  });
});

describe('chart order', () => {
  it('ranks names that arrive together: loss, epoch loss, the rest, validation last', () => {
    expect(rankMetrics(['val_loss', 'lr', 'epoch_loss', 'accuracy', 'loss'])).toEqual([
      'loss',
      'epoch_loss',
      'accuracy',
      'lr',
      'val_loss',
    ]);
  });

  it('puts later names after every name already shown', () => {
    const first = appendMetricNames([], ['lr', 'loss']);
    expect(first).toEqual(['loss', 'lr']);
    const same = appendMetricNames(first, ['loss', 'lr']);
    expect(same).toBe(first);
    expect(appendMetricNames(first, ['val_loss', 'loss', 'epoch_loss'])).toEqual([
      'loss',
      'lr',
      'epoch_loss',
      'val_loss',
    ]);
  });
});
