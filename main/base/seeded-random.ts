/**
 * The seeded-randomness core shared by training (worker/train/rng.ts) and sweeps
 * (pipeline/sweep/random.ts): a seed mixer and the mulberry32 generator. Each side builds its own
 * draws on top (their streams need not agree), and every draw is a pure function of a seed and a
 * position, so resumed work draws exactly what uninterrupted work would have.
 */

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
 * Mixes numbers (seeds, salts, indices; any finite value, including ones above 2^32 or
 * fractional) into one 32-bit seed. Order matters: `mixSeed(a, b) !== mixSeed(b, a)`.
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

/**
 * mulberry32: a small, fast PRNG whose whole state is one 32-bit integer, so it can be saved in a
 * checkpoint as a plain number and restored exactly.
 */
export class Mulberry32 {
  protected generatorState: number;

  constructor(seed: number) {
    this.generatorState = mixSeed(seed);
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    this.generatorState = (this.generatorState + 0x6d2b79f5) >>> 0;
    let t = this.generatorState;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}
