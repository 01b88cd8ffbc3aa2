/**
 * Deterministic helpers shared by the dataset loaders: a seeded PRNG, permutations, limits and
 * carving one split off another. Everything here is a pure function of its arguments and the seed,
 * so a re-run (or a resumed task) sees exactly the same examples in exactly the same order.
 */
import { DistilleryError } from '../../base/errors';
import type { SplitData } from './dataset-file';

/** Mixes a (possibly large or fractional) seed and a salt into 32 bits. */
export function deriveSeed(seed: number, salt = ''): number {
  const whole = Math.floor(Math.abs(seed));
  let h = (whole >>> 0) ^ Math.floor(whole / 0x1_0000_0000) ^ (seed < 0 ? 0x9e3779b9 : 0);
  for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 0x01000193);
  // Final avalanche (murmur3 fmix32) so nearby seeds give unrelated streams.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A seeded PRNG (mulberry32) returning floats in [0, 1). */
export function createRng(seed: number): () => number {
  let state = deriveSeed(seed);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** A seeded permutation of 0..n-1 (Fisher–Yates). */
export function permutation(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = createRng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

function sizeOf(split: SplitData): number {
  return split.count === 0 ? 0 : split.x.length / split.count;
}

/** The examples at `indices`, in that order (a copy). */
export function gather(split: SplitData, indices: ArrayLike<number>): SplitData {
  const size = sizeOf(split);
  const count = indices.length;
  const x = split.x instanceof Uint8Array ? new Uint8Array(count * size) : new Float32Array(count * size);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const from = indices[i]!;
    x.set(split.x.subarray(from * size, (from + 1) * size), i * size);
    y[i] = split.y[from]!;
  }
  return { count, x, y };
}

/** Examples `start` (inclusive) to `end` (exclusive), as views without copying. */
export function slice(split: SplitData, start: number, end: number): SplitData {
  const size = sizeOf(split);
  const from = Math.max(0, Math.min(start, split.count));
  const to = Math.max(from, Math.min(end, split.count));
  return { count: to - from, x: split.x.subarray(from * size, to * size), y: split.y.subarray(from, to) };
}

/** The first `limit` examples; a limit of 0 (or more than there are) keeps them all. */
export function takeFirst(split: SplitData, limit: number): SplitData {
  return limit > 0 && limit < split.count ? slice(split, 0, limit) : split;
}

/** The examples in a seeded random order. */
export function shuffle(split: SplitData, seed: number): SplitData {
  return gather(split, permutation(split.count, seed));
}

/**
 * How many examples a fraction of `count` is: rounded, and never all of them (the remaining part
 * keeps at least one example). A fraction of 0 gives 0.
 */
export function fractionCount(count: number, fraction: number): number {
  if (!(fraction > 0) || count < 2) return 0;
  return Math.min(count - 1, Math.max(1, Math.round(count * fraction)));
}

/** Splits off the last `fraction` of the examples: `{head, tail}`; `tail` is absent when empty. */
export function splitTail(split: SplitData, fraction: number): { head: SplitData; tail?: SplitData } {
  const tailCount = fractionCount(split.count, fraction);
  if (tailCount === 0) return { head: split };
  const cut = split.count - tailCount;
  return { head: slice(split, 0, cut), tail: slice(split, cut, split.count) };
}

/**
 * Carves a validation split off the END of the training split (deterministic: the same examples
 * for the same data, no shuffling). `validation` is absent when the fraction is 0.
 */
export function carveValidation(
  train: SplitData,
  fraction: number,
): { train: SplitData; validation?: SplitData } {
  const { head, tail } = splitTail(train, fraction);
  return tail ? { train: head, validation: tail } : { train: head };
}

/**
 * Splits one pool of examples into train and test for data without a separate test set: a seeded
 * shuffle, then the last `fraction` of the shuffled order becomes the test split.
 */
export function shuffledTestSplit(
  all: SplitData,
  fraction: number,
  seed: number,
): { train: SplitData; test: SplitData } {
  const shuffled = shuffle(all, deriveSeed(seed, 'test-split'));
  const { head, tail } = splitTail(shuffled, fraction);
  return { train: head, test: tail ?? slice(shuffled, 0, 0) };
}

/** What a split's examples are called in messages, and the file (or folder) they come from. */
export interface SplitSource {
  file: string;
  /** Singular: "row", "image". */
  noun: string;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * Refuses a split fraction that is asked for but carves nothing: a fraction of fewer than two
 * examples is 0 examples (the rest must keep one), and an empty test or validation split would fail
 * much later, in the node that reads it, with a message that no longer names the data. Takes the
 * pool's size only, so it runs before any example is loaded. `testSplit` is undefined when a
 * separate test file or folder is given; `trainLimit` (0 = none) caps the training split before
 * validation is carved off it, as `takeFirst` does.
 */
export function requireSplitsCarve(
  source: SplitSource,
  count: number,
  fractions: { testSplit?: number | undefined; validationSplit: number; trainLimit?: number },
): void {
  const { testSplit, validationSplit, trainLimit = 0 } = fractions;
  const test = testSplit === undefined ? 0 : fractionCount(count, testSplit);
  if (testSplit !== undefined) requireCarved(source, 'testSplit', testSplit, count, test);
  const rest = count - test;
  const train = trainLimit > 0 ? Math.min(rest, trainLimit) : rest;
  requireCarved(source, 'validationSplit', validationSplit, train, fractionCount(train, validationSplit));
}

function requireCarved(
  source: SplitSource,
  param: 'testSplit' | 'validationSplit',
  fraction: number,
  fromCount: number,
  carvedCount: number,
): void {
  if (!(fraction > 0) || carvedCount > 0) return;
  const split = param === 'testSplit' ? 'test' : 'validation';
  const pool = param === 'testSplit' ? source.noun : `training ${source.noun}`;
  throw new DistilleryError(
    'DATASET_INVALID',
    `${source.file}: ${param} ${fraction} of ${plural(fromCount, pool)} leaves 0 ${split} ${source.noun}s; ` +
      `at least 2 ${pool}s are needed, or set ${param} to 0`,
    {
      file: source.file,
      param,
      expected: `at least 2 ${pool}s to carve ${param} ${fraction} from`,
      received: plural(fromCount, pool),
    },
  );
}

/** How many examples of each class 0..numClasses-1 a label array holds. */
export function classHistogram(labels: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (label >= 0 && label < numClasses) counts[label]! += 1;
  }
  return counts;
}
