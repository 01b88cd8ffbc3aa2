/**
 * Largest-Triangle-Three-Buckets downsampling (Steinarsson 2013): keeps the first and last point
 * and, from each of `threshold - 2` equal buckets, the point that makes the largest triangle with
 * the point kept before it and the average of the next bucket. The line keeps its shape (spikes
 * included) at a fraction of the points, so a chart of a million steps draws as fast as one of two
 * thousand.
 */

/**
 * Indices of the points to keep, ascending. `xs` must be non-decreasing. With `threshold` ≥ the
 * number of points (or < 3) every index is returned.
 */
export function lttbIndices(xs: ArrayLike<number>, ys: ArrayLike<number>, threshold: number): Uint32Array {
  const length = Math.min(xs.length, ys.length);
  if (threshold >= length || threshold < 3) {
    const all = new Uint32Array(length);
    for (let i = 0; i < length; i++) all[i] = i;
    return all;
  }
  const kept = new Uint32Array(threshold);
  const bucketSize = (length - 2) / (threshold - 2);
  let a = 0;
  let out = 0;
  kept[out++] = 0;
  for (let bucket = 0; bucket < threshold - 2; bucket++) {
    // Average of the next bucket (the last point for the final bucket).
    const nextStart = Math.floor((bucket + 1) * bucketSize) + 1;
    const nextEnd = Math.min(Math.floor((bucket + 2) * bucketSize) + 1, length);
    let avgX = 0;
    let avgY = 0;
    const nextCount = nextEnd - nextStart;
    for (let i = nextStart; i < nextEnd; i++) {
      avgX += xs[i]!;
      avgY += ys[i]!;
    }
    avgX /= nextCount;
    avgY /= nextCount;

    const start = Math.floor(bucket * bucketSize) + 1;
    const end = Math.floor((bucket + 1) * bucketSize) + 1;
    const ax = xs[a]!;
    const ay = ys[a]!;
    let maxArea = -1;
    let chosen = start;
    for (let i = start; i < end; i++) {
      const area = Math.abs((ax - avgX) * (ys[i]! - ay) - (ax - xs[i]!) * (avgY - ay));
      if (area > maxArea) {
        maxArea = area;
        chosen = i;
      }
    }
    kept[out++] = chosen;
    a = chosen;
  }
  kept[out++] = length - 1;
  return kept;
}

/** Downsampled `[x, y]` pairs, ready for a chart series. */
export function lttb(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  threshold: number,
): Array<[number, number]> {
  const indices = lttbIndices(xs, ys, threshold);
  const points = new Array<[number, number]>(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i]!;
    points[i] = [xs[index]!, ys[index]!];
  }
  return points;
}
