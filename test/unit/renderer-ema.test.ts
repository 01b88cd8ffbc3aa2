import { describe, expect, it } from 'vitest';
import { debiasedEma, DEFAULT_SMOOTHING } from '../../renderer/src/charts/ema';
import { SeriesBuffer, xColumn } from '../../renderer/src/charts/series-buffer';

describe('debiased EMA', () => {
  it('defaults to 0.6 like TensorBoard', () => {
    expect(DEFAULT_SMOOTHING).toBe(0.6);
  });

  it('starts at the first value instead of being pulled towards zero', () => {
    const smoothed = debiasedEma([10, 10, 10, 10], 0.9);
    for (const value of smoothed) expect(value).toBeCloseTo(10, 10);
  });

  it('matches the debiased recurrence', () => {
    const values = [1, 2, 3, 4];
    const w = 0.6;
    let last = 0;
    const expected = values.map((value, i) => {
      last = last * w + (1 - w) * value;
      return last / (1 - w ** (i + 1));
    });
    const smoothed = debiasedEma(values, w);
    expected.forEach((value, i) => expect(smoothed[i]).toBeCloseTo(value, 12));
  });

  it('returns the values unchanged at weight 0 and passes non-finite values through', () => {
    expect(Array.from(debiasedEma([3, 1, 2], 0))).toEqual([3, 1, 2]);
    const smoothed = debiasedEma([1, Number.NaN, 1, Number.POSITIVE_INFINITY, 1], 0.5);
    expect(Number.isNaN(smoothed[1])).toBe(true);
    expect(smoothed[3]).toBe(Number.POSITIVE_INFINITY);
    expect(smoothed[4]).toBeCloseTo(1, 12);
  });

  it('smooths a million points exactly as the plain recurrence does', () => {
    // Speed is for test/bench; a wall-clock bound here only fails on a busy machine. What this
    // input checks is that the fast path (running decay snapped to zero) stays correct far out.
    const values = Float64Array.from({ length: 1_000_000 }, (_, i) => Math.exp(-i / 1e5) + (i % 13) * 0.01);
    const w = 0.6;
    const smoothed = debiasedEma(values, w);
    expect(smoothed.length).toBe(values.length);
    let last = 0;
    let mismatches = 0;
    let firstMismatch = -1;
    for (let i = 0; i < values.length; i++) {
      last = last * w + (1 - w) * values[i]!;
      const expected = last / (1 - w ** (i + 1));
      if (!(Math.abs(smoothed[i]! - expected) <= 1e-12 * Math.max(1, Math.abs(expected)))) {
        mismatches++;
        if (firstMismatch < 0) firstMismatch = i;
      }
    }
    expect(mismatches, `first mismatch at index ${firstMismatch}`).toBe(0);
    expect(smoothed[999_999]).toBeCloseTo(values[999_999]!, 0);
  });

  it('lags a step change more as the weight grows', () => {
    const values = [...Array<number>(50).fill(0), ...Array<number>(50).fill(1)];
    const light = debiasedEma(values, 0.3)[55]!;
    const heavy = debiasedEma(values, 0.95)[55]!;
    expect(light).toBeGreaterThan(heavy);
  });
});

describe('series ring buffer', () => {
  it('grows, then keeps only the newest points in order', () => {
    const buffer = new SeriesBuffer(5, 2);
    for (let step = 0; step < 8; step++) buffer.push({ step, time: step * 1000, value: step * 10 });
    expect(buffer.length).toBe(5);
    const columns = buffer.toColumns();
    expect(Array.from(columns.step)).toEqual([3, 4, 5, 6, 7]);
    expect(Array.from(columns.value)).toEqual([30, 40, 50, 60, 70]);
    expect(buffer.lastStep).toBe(7);
    expect(Array.from(xColumn(columns, 'time'))).toEqual([0, 1, 2, 3, 4]);
    // No epochs recorded: the epoch axis falls back to steps.
    expect(Array.from(xColumn(columns, 'epoch'))).toEqual([3, 4, 5, 6, 7]);
  });
});
