/**
 * Seeded randomness for sweeps. Every draw a sampler or scheduler makes comes from a generator
 * seeded by a pure mix of the sweep's seed and the draw's position (trial index, param key,
 * decision count), never from a generator that advances across trials: a resumed sweep, or one
 * whose trials finish in another order, draws exactly the same numbers for the same position.
 *
 * The worker has its own copy of these few lines (main/worker/train/rng.ts); layering keeps
 * pipeline/ and worker/ apart, and the two streams need not agree.
 */

/** Salts that keep the streams of different purposes apart. */
export const SALT_RANDOM = 0x5241_4e44;
export const SALT_TPE = 0x5450_4531;
export const SALT_PBT = 0x5042_5431;

/** murmur3's 32-bit finaliser: nearby inputs give unrelated outputs. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Mixes numbers (seeds, salts, indices; any finite value) into one 32-bit seed. Order matters:
 * `mixSeed(a, b) !== mixSeed(b, a)`.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    const whole = Math.floor(Math.abs(part));
    const low = whole >>> 0;
    const high = Math.floor(whole / 0x1_0000_0000) >>> 0;
    const fraction = Math.floor((Math.abs(part) - whole) * 0x1_0000_0000) >>> 0;
    for (const word of [low, high, fraction, part < 0 ? 1 : 0]) {
      h = fmix32((h ^ word) + 0x6d2b79f5);
    }
  }
  return h;
}

/** FNV-1a over a string's UTF-16 code units: a stable number for a param key. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: small and fast; the whole state is one 32-bit integer. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = mixSeed(seed);
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

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
