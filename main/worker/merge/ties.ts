/**
 * TIES-merging (Yadav et al. 2023): for task vectors τ_i = θ_i − θ_base,
 *
 * 1. trim: keep each task vector's top k% entries by magnitude (over all of the model's weights
 *    together, as the paper flattens them), zero the rest;
 * 2. elect: one sign per weight, the sign of Σ_i τ̂_i (the side with the larger total magnitude);
 * 3. disjoint merge: the mean of the entries whose sign agrees with the elected one (zeros, trimmed
 *    or not, take no part), and θ = θ_base + λ·τ_merged.
 *
 * A weight whose trimmed entries sum to exactly 0 elects no sign and stays at the base's value.
 */
import { DistilleryError } from '../../base/errors';
import { addTaskVector, taskVectors, type Weights } from './combine';

/** How many of `total` entries trimming to `topK` percent keeps: round(total·k/100). */
export function keptCount(total: number, topK: number): number {
  return Math.min(total, Math.max(0, Math.round((total * topK) / 100)));
}

/**
 * The task vector with only its `keptCount` largest-magnitude entries (over all weights together);
 * among entries of equal magnitude at the threshold, the earlier ones (weight order, then index)
 * are kept, so exactly `keptCount` entries survive.
 */
export function trimTopK(vector: Weights, topK: number): Float32Array[] {
  if (!(topK > 0 && topK <= 100)) {
    throw new DistilleryError('PARAM_OUT_OF_RANGE', `topK must be a percentage in (0, 100], got ${topK}`, {
      param: 'topK',
      expected: '0 < topK ≤ 100',
      received: topK,
    });
  }
  const total = vector.reduce((sum, values) => sum + values.length, 0);
  const keep = keptCount(total, topK);
  const trimmed = vector.map((values) => new Float32Array(values.length));
  if (keep === 0) return trimmed;
  const magnitudes = new Float32Array(total);
  let offset = 0;
  for (const values of vector) {
    for (let i = 0; i < values.length; i++) magnitudes[offset + i] = Math.abs(values[i]!);
    offset += values.length;
  }
  // The keep-th largest magnitude: everything above it stays, and as many equal to it as fit.
  const sorted = Float32Array.from(magnitudes).sort();
  const threshold = sorted[total - keep]!;
  let above = 0;
  for (let i = 0; i < total; i++) if (magnitudes[i]! > threshold) above++;
  let atThreshold = keep - above;
  offset = 0;
  vector.forEach((values, w) => {
    const out = trimmed[w]!;
    for (let i = 0; i < values.length; i++) {
      const magnitude = magnitudes[offset + i]!;
      if (magnitude > threshold || (magnitude === threshold && atThreshold-- > 0)) out[i] = values[i]!;
    }
    offset += values.length;
  });
  return trimmed;
}

/** The elected sign of each entry: sign(Σ_i τ̂_i), −1, 0 or +1 (as an Int8Array per weight). */
export function electSigns(trimmed: readonly Weights[]): Int8Array[] {
  const first = trimmed[0]!;
  return first.map((_, w) => {
    const signs = new Int8Array(first[w]!.length);
    for (let i = 0; i < signs.length; i++) {
      let sum = 0;
      for (const vector of trimmed) sum += vector[w]![i]!;
      signs[i] = sum > 0 ? 1 : sum < 0 ? -1 : 0;
    }
    return signs;
  });
}

/** Mean of the non-zero entries whose sign is the elected one (0 where none agrees). */
export function disjointMean(trimmed: readonly Weights[], signs: readonly Int8Array[]): Float32Array[] {
  return signs.map((elected, w) => {
    const out = new Float32Array(elected.length);
    for (let i = 0; i < out.length; i++) {
      const sign = elected[i]!;
      if (sign === 0) continue;
      let sum = 0;
      let count = 0;
      for (const vector of trimmed) {
        const value = vector[w]![i]!;
        if ((sign > 0 && value > 0) || (sign < 0 && value < 0)) {
          sum += value;
          count++;
        }
      }
      out[i] = count > 0 ? sum / count : 0;
    }
    return out;
  });
}

export interface TiesResult {
  weights: Float32Array[];
  /** The merged task vector τ_m, before λ. */
  merged: Float32Array[];
}

/** TIES-merging of `models` onto `base`: trim to `topK` %, elect, disjoint mean, θ_base + λ·τ_m. */
export function tiesMerge(
  base: Weights,
  models: readonly Weights[],
  options: { topK: number; lambda: number },
): TiesResult {
  const trimmed = taskVectors(base, models).map((vector) => trimTopK(vector, options.topK));
  const merged = disjointMean(trimmed, electSigns(trimmed));
  return { weights: addTaskVector(base, merged, options.lambda), merged };
}
