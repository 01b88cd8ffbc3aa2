/**
 * Seeded randomness for training. Everything random in a training run is a pure function of the
 * task's seed and a position (epoch, global step), so a resumed run draws exactly what the
 * uninterrupted run would have drawn:
 * - data order: `permutation(n, mixSeed(seed, SALT_EPOCH, epoch))`;
 * - ops that draw inside the step (dropout, noise): `withSeededMathRandom(mixSeed(seed, SALT_STEP,
 *   step), …)`.
 */
import { Mulberry32, mixSeed } from '../../base/seeded-random';

export { mixSeed };

/** Salts that keep the streams of different purposes apart. */
export const SALT_EPOCH_ORDER = 0x4550_4f43;
export const SALT_STEP = 0x5354_4550;

/**
 * mulberry32 (main/base/seeded-random.ts) with training's draws, and its state for checkpoints.
 */
export class Rng extends Mulberry32 {
  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  state(): number {
    return this.generatorState;
  }

  restore(state: number): void {
    this.generatorState = state >>> 0;
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
