/**
 * Seeded numbers for tests: the same values on every run and every machine, so a failure can be
 * reproduced and a fuzz corpus or a set of kill points is the same each time.
 */
import { expect } from 'vitest';

/** mulberry32: a small, fast generator whose whole state is one 32-bit integer; values in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** As many values as a tensor of `shape` holds, drawn from `random` and spread over [-1, 1). */
export function uniformValues(random: () => number, shape: readonly number[]): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1);
}

/** ||a − b|| / max(||b||, tiny), after checking that the two have the same length. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let difference = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? NaN;
    const y = b[i] ?? NaN;
    difference += (x - y) ** 2;
    norm += y * y;
  }
  return Math.sqrt(difference) / Math.max(Math.sqrt(norm), 1e-30);
}
