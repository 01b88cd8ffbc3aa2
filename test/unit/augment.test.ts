/**
 * The `augment: translate` option (train/batches.ts): shifts are whole pixels within ±maxShift,
 * images move by exactly that with zero fill (CPU reference and tensor path alike), evaluation
 * batches pass unchanged, and the draws follow the loop's per-step seeding.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import {
  drawShifts,
  translateBatch,
  translatedLoss,
  translateImages,
  translationShape,
  type LossFn,
} from '../../main/worker/train/batches';
import { Rng, withSeededMathRandom } from '../../main/worker/train/rng';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A 4×5 one-channel image whose pixel (r, c) is 10·r + c + 1 (so 0 means "filled"). */
const image = Float32Array.from({ length: 20 }, (_, i) => 10 * Math.floor(i / 5) + (i % 5) + 1);

describe('translations', () => {
  it('move an image by whole pixels and fill with zeros', () => {
    // Down 1, left 2.
    const moved = translateImages(image, 1, [4, 5, 1], Int32Array.of(1, -2));
    // prettier-ignore
    expect([...moved]).toEqual([
      0, 0, 0, 0, 0,
      3, 4, 5, 0, 0,
      13, 14, 15, 0, 0,
      23, 24, 25, 0, 0,
    ]);
    // Up 2, right 1.
    // prettier-ignore
    expect([...translateImages(image, 1, [4, 5, 1], Int32Array.of(-2, 1))]).toEqual([
      0, 21, 22, 23, 24,
      0, 31, 32, 33, 34,
      0, 0, 0, 0, 0,
      0, 0, 0, 0, 0,
    ]);
    expect([...translateImages(image, 1, [4, 5, 1], Int32Array.of(0, 0))]).toEqual([...image]);
  });

  it('move each example by its own shift and keep channels together', () => {
    // Two 2×2 images with 3 channels: channel k of pixel p is 100·example + 10·p + k + 1.
    const x = Float32Array.from(
      { length: 24 },
      (_, i) => 100 * Math.floor(i / 12) + 10 * Math.floor((i % 12) / 3) + (i % 3) + 1,
    );
    const moved = translateImages(x, 2, [2, 2, 3], Int32Array.of(0, 1, 1, 0));
    expect([...moved]).toEqual([
      // example 0, right by 1: pixels (0,0) and (1,0) empty.
      0, 0, 0, 1, 2, 3, 0, 0, 0, 21, 22, 23,
      // example 1, down by 1: the first row empty.
      0, 0, 0, 0, 0, 0, 101, 102, 103, 111, 112, 113,
    ]);
  });

  it('the tensor path gives exactly the reference result', () => {
    const rng = new Rng(3);
    const x = Float32Array.from({ length: 6 * 28 * 28 }, () => rng.next());
    const shifts = drawShifts(6, 2, () => rng.next());
    const input = tf.tensor(x, [6, 784]);
    const moved = translateBatch(input, [28, 28, 1], shifts);
    expect(moved.shape).toEqual([6, 784]);
    expect(moved.dataSync()).toEqual(translateImages(x, 6, [28, 28, 1], shifts));
    tf.dispose([input, moved]);
  });

  it('draws whole-pixel shifts covering −maxShift … maxShift', () => {
    const rng = new Rng(9);
    const shifts = drawShifts(2000, 2, () => rng.next());
    expect(shifts).toHaveLength(4000);
    expect(new Set(shifts)).toEqual(new Set([-2, -1, 0, 1, 2]));
    expect(drawShifts(1, 3, () => 0.999_999_999)).toEqual(Int32Array.of(3, 3));
    expect(drawShifts(1, 3, () => 0)).toEqual(Int32Array.of(-3, -3));
  });

  it('jitter training batches only, with the shifts the per-step seed draws', () => {
    const seen: Float32Array[] = [];
    const inner: LossFn = (_model, x) => {
      seen.push(x.dataSync() as Float32Array);
      return tf.scalar(0);
    };
    const loss = translatedLoss(inner, [4, 5, 1], 2);
    const x = tf.tensor(Float32Array.from([...image, ...image]), [2, 20]);
    const y = tf.tensor1d([0, 1], 'int32');
    const model = tf.sequential();
    const run = (training: boolean, seed: number) =>
      withSeededMathRandom(seed, () => tf.dispose(loss(model, x, y, training) as tf.Scalar));
    run(false, 1);
    expect(seen[0]).toEqual(x.dataSync());
    run(true, 7);
    run(true, 7);
    run(true, 8);
    expect(seen[1]).toEqual(seen[2]);
    expect(seen[1]).not.toEqual(x.dataSync());
    expect(seen[3]).not.toEqual(seen[1]);
    // What the seed drew: the reference translation with the same shifts.
    const shifts = withSeededMathRandom(7, () => drawShifts(2, 2, Math.random));
    expect(seen[1]).toEqual(translateImages(x.dataSync() as Float32Array, 2, [4, 5, 1], shifts));
    tf.dispose([x, y]);
    model.dispose();
  });

  it('needs images: a table of features is refused naming the node and the param', () => {
    expect(translationShape('fit', [28, 28, 1])).toEqual([28, 28, 1]);
    expect(translationShape('fit', [8, 8])).toEqual([8, 8, 1]);
    let error: unknown;
    try {
      translationShape('fit', [13]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DistilleryError);
    expect(error).toMatchObject({
      code: 'INCOMPATIBLE_INPUTS',
      details: { nodeId: 'fit', param: 'augment' },
    });
  });
});
