import { describe, expect, it } from 'vitest';
import { lttb, lttbIndices } from '../../renderer/src/charts/lttb';

describe('LTTB downsampling', () => {
  it('returns every point when the threshold is not smaller', () => {
    const xs = [0, 1, 2, 3];
    const ys = [5, 1, 4, 2];
    expect(Array.from(lttbIndices(xs, ys, 10))).toEqual([0, 1, 2, 3]);
    expect(lttb(xs, ys, 2)).toEqual([
      [0, 5],
      [1, 1],
      [2, 4],
      [3, 2],
    ]);
  });

  it('keeps the ends, ascending indices and exactly `threshold` points', () => {
    const n = 10_000;
    const xs = Float64Array.from({ length: n }, (_, i) => i);
    const ys = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 100) + (i % 7) * 0.01);
    const kept = lttbIndices(xs, ys, 500);
    expect(kept.length).toBe(500);
    expect(kept[0]).toBe(0);
    expect(kept[499]).toBe(n - 1);
    for (let i = 1; i < kept.length; i++) expect(kept[i]!).toBeGreaterThan(kept[i - 1]!);
  });

  it('keeps a lone spike that averaging would flatten', () => {
    const n = 5000;
    const xs = Array.from({ length: n }, (_, i) => i);
    const ys = Array.from({ length: n }, (_, i) => (i === 3217 ? 100 : 1));
    const points = lttb(xs, ys, 100);
    expect(points.some(([x, y]) => x === 3217 && y === 100)).toBe(true);
  });

  it('downsamples a million points quickly', () => {
    const n = 1_000_000;
    const xs = new Float64Array(n);
    const ys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      xs[i] = i;
      ys[i] = Math.exp(-i / 200_000) + Math.sin(i) * 0.05;
    }
    const started = performance.now();
    const kept = lttbIndices(xs, ys, 2000);
    const elapsed = performance.now() - started;
    expect(kept.length).toBe(2000);
    // One linear pass: far under a frame budget of a slow laptop even on a loaded CI core.
    expect(elapsed).toBeLessThan(250);
  });
});
