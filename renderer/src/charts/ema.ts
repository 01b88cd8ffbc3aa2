/**
 * Debiased exponential moving average, as TensorBoard smooths scalar charts: the running average
 * starts at zero, so each value is divided by `1 - weight^n` to undo the pull towards zero in the
 * first steps. Non-finite values pass through unchanged and do not disturb the average.
 */

/** The smoothing TensorBoard and the run view default to. */
export const DEFAULT_SMOOTHING = 0.6;

/** Smoothed copy of `values` with `weight` in [0, 1): 0 returns the values, 0.99 is very smooth. */
export function debiasedEma(values: ArrayLike<number>, weight: number): Float64Array {
  const w = Math.min(Math.max(weight, 0), 0.999);
  const out = new Float64Array(values.length);
  let last = 0;
  // w^n as a running product (Math.pow per point would dominate a million-point redraw), snapped to
  // zero before it turns subnormal: subnormal arithmetic is many times slower.
  let decay = 1;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    // x - x is NaN exactly for NaN and ±Infinity; cheaper than Number.isFinite in this hot loop.
    if (value - value !== 0) {
      out[i] = value;
      continue;
    }
    last = last * w + (1 - w) * value;
    decay = decay > 1e-300 ? decay * w : 0;
    out[i] = last / (1 - decay);
  }
  return out;
}
