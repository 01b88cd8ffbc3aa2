/**
 * Seeded randomness for training. Everything random in a training run is a pure function of the
 * task's seed and a position (epoch, global step), so a resumed run draws exactly what the
 * uninterrupted run would have drawn:
 * - data order: `permutation(n, mixSeed(seed, SALT_EPOCH, epoch))`;
 * - ops that draw inside the step (dropout, noise): `withSeededMathRandom(mixSeed(seed, SALT_STEP,
 *   step), …)`.
 */

/** Salts that keep the streams of different purposes apart. */
export const SALT_EPOCH_ORDER = 0x4550_4f43;
export const SALT_STEP = 0x5354_4550;

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
 * Mixes numbers (seeds, salts, epoch or step indices; any finite value, including ones above 2^32
 * or fractional) into one 32-bit seed. Order matters: `mixSeed(a, b) !== mixSeed(b, a)`.
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
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = mixSeed(seed);
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  state(): number {
    return this.s;
  }

  restore(state: number): void {
    this.s = state >>> 0;
  }
}

/** A seeded permutation of 0..n-1 (Fisher–Yates). */
export function permutation(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

/**
 * Runs `fn` with `Math.random` replaced by a PRNG seeded with `seed`, then puts the original back
 * (also when `fn` throws).
 *
 * Why: tfjs-core (4.22) seeds its own generators from `Math.random()` when an op is called without
 * an explicit seed — `UniformRandom` in `tfjs-core/dist/ops/rand_util.js` does
 * `if (seed == null) seed = Math.random();` before `seedrandom.alea(seed)` (used by
 * `tf.randomUniform`, hence by `tf.dropout` and the layers `Dropout` layer), and `MPRandGauss`
 * (randomNormal / truncatedNormal, used by initialisers) does `seed ? seed : Math.random()`. These
 * generators run in JavaScript whatever the backend, so seeding `Math.random` makes such ops
 * deterministic on every backend.
 *
 * `fn` must be synchronous: during an `await` other code would see the seeded `Math.random`.
 */
export function withSeededMathRandom<T>(seed: number, fn: () => T): T {
  const original = Math.random;
  const rng = new Rng(seed);
  Math.random = () => rng.next();
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}
