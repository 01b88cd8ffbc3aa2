/**
 * Seeded randomness for sweeps. Every draw a sampler or scheduler makes comes from a generator
 * seeded by a pure mix of the sweep's seed and the draw's position (trial index, param key,
 * decision count), never from a generator that advances across trials: a resumed sweep, or one
 * whose trials finish in another order, draws exactly the same numbers for the same position.
 *
 * The seed mixer and the generator are main/base/seeded-random.ts, shared with training; the draws
 * built on them here are the sweeps' own.
 */
import { Mulberry32, mixSeed } from '../../base/seeded-random';

export { mixSeed };

/** Salts that keep the streams of different purposes apart. */
export const SALT_RANDOM = 0x5241_4e44;
export const SALT_TPE = 0x5450_4531;
export const SALT_PBT = 0x5042_5431;

/** FNV-1a over a string's UTF-16 code units: a stable number for a param key. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32 (main/base/seeded-random.ts) with the sweeps' draws. */
export class Rng extends Mulberry32 {
  /** A float in [0, 1) with 53 random bits. */
  next(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67_108_864 + low) / 9_007_199_254_740_992;
  }

  /**
   * An integer in [0, n), each exactly equally likely: draws that fall in the incomplete last
   * block of 2^32 are rejected rather than folded in (which would favour small values).
   */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x1_0000_0000) throw new RangeError(`nextInt(${n})`);
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    let draw = this.nextUint32();
    while (draw >= limit) draw = this.nextUint32();
    return draw % n;
  }
}
