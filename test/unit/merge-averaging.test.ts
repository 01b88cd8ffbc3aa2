/**
 * Checkpoint averaging along training (train/averaging.ts) on hand-made weight trajectories: SWA's
 * equal-weight mean, EMA against a hand-computed sequence, the loop hooks that drive them and the
 * state a checkpoint carries.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { averagingHooks, combineHooks, WeightAverage } from '../../main/worker/train/averaging';
import type { EpochRecord, StepInfo } from '../../main/worker/train/loop';

let model: tf.Sequential;

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, name: 'only' })] });
});
afterAll(() => model.dispose());

/** Puts `kernel` (3×2, row-major) and `bias` into the model. */
function setWeights(kernel: number[], bias: number[]): void {
  const tensors = [tf.tensor(kernel, [3, 2]), tf.tensor(bias, [2])];
  model.setWeights(tensors);
  tf.dispose(tensors);
}

function averaged(average: WeightAverage): number[][] {
  const values = average.values()!;
  const out = values.map((tensor) => [...tensor.dataSync()]);
  tf.dispose(values);
  return out;
}

const step = (globalStep: number, epoch: number): StepInfo => ({
  globalStep,
  epoch,
  batchInEpoch: 1,
  loss: 0,
  learningRate: 0,
});
const epochEnd = (epoch: number): EpochRecord => ({ epoch, loss: 0, learningRate: 0 });

describe('weight averaging', () => {
  it('SWA of a constant trajectory is that trajectory, bit for bit', () => {
    const kernel = [0.1, -0.7, 1 / 3, 2.5e-8, -4, 1e6];
    setWeights(kernel, [0.2, -0.3]);
    const average = new WeightAverage(model.weights, 'swa', 0);
    for (let i = 0; i < 7; i++) average.update();
    expect(average.count).toBe(7);
    const [k, b] = averaged(average);
    expect(Float32Array.from(k!)).toEqual(Float32Array.from(kernel));
    expect(Float32Array.from(b!)).toEqual(Float32Array.from([0.2, -0.3]));
    average.dispose();
  });

  it('SWA is the equal-weight mean of the weights it saw', () => {
    const average = new WeightAverage(model.weights, 'swa', 0);
    for (const value of [1, 2, 6]) {
      setWeights([value, 0, 0, 0, 0, -value], [value * 10, 0]);
      average.update();
    }
    const [k, b] = averaged(average);
    expect(k![0]).toBeCloseTo(3, 6);
    expect(k![5]).toBeCloseTo(-3, 6);
    expect(b![0]).toBeCloseTo(30, 5);
    average.dispose();
  });

  it('EMA follows θ̄ ← d·θ̄ + (1 − d)·θ from the first weights it sees', () => {
    const decay = 0.9;
    const sequence = [1, 2, 4, -3, 0.5];
    const average = new WeightAverage(model.weights, 'ema', decay);
    let expected = 0;
    sequence.forEach((value, i) => {
      setWeights([value, 0, 0, 0, 0, 0], [0, 2 * value]);
      average.update();
      expected = i === 0 ? value : decay * expected + (1 - decay) * value;
      const [k, b] = averaged(average);
      expect(k![0]).toBeCloseTo(expected, 5);
      expect(b![1]).toBeCloseTo(2 * expected, 5);
    });
    // By hand: 1, 1.1, 1.39, 0.951, 0.9059.
    expect(expected).toBeCloseTo(0.9059, 10);
    average.dispose();
  });

  it('hooks update SWA at epoch ends and EMA after steps, from the start epoch on', () => {
    setWeights([1, 1, 1, 1, 1, 1], [1, 1]);
    const swa = new WeightAverage(model.weights, 'swa', 0);
    const swaHooks = averagingHooks(swa, { method: 'swa', start: 2, decay: 0 });
    swaHooks.afterStep?.(step(1, 1));
    swaHooks.afterEpoch!(epochEnd(1));
    expect(swa.count).toBe(0);
    swaHooks.afterEpoch!(epochEnd(2));
    swaHooks.afterEpoch!(epochEnd(3));
    expect(swa.count).toBe(2);

    const ema = new WeightAverage(model.weights, 'ema', 0.5);
    const emaHooks = averagingHooks(ema, { method: 'ema', start: 2, decay: 0.5 });
    emaHooks.afterStep!(step(1, 1));
    emaHooks.afterEpoch?.(epochEnd(1));
    expect(ema.count).toBe(0);
    emaHooks.afterStep!(step(2, 2));
    emaHooks.afterStep!(step(3, 2));
    expect(ema.count).toBe(2);
    expect(averagingHooks(ema, { method: 'none', start: 1, decay: 0 })).toEqual({});
    swa.dispose();
    ema.dispose();
  });

  it('saves and restores its state exactly (as a checkpoint carries it)', () => {
    const average = new WeightAverage(model.weights, 'ema', 0.99);
    for (const value of [0.3, 0.7, 1.9]) {
      setWeights([value, -value, value / 3, 0, 1, 2], [value, 1]);
      average.update();
    }
    const state = average.state();
    expect(state['average/count']!.values).toEqual(Int32Array.of(3));
    const restored = new WeightAverage(model.weights, 'ema', 0.99);
    restored.load(state);
    expect(restored.count).toBe(3);
    expect(averaged(restored)).toEqual(averaged(average));
    // Both go on identically.
    average.update();
    restored.update();
    expect(averaged(restored)).toEqual(averaged(average));
    // A checkpoint from before averaging began holds no average: loading it resets.
    restored.load(new WeightAverage(model.weights, 'ema', 0.99).state());
    expect(restored.count).toBe(0);
    expect(restored.values()).toBeUndefined();
    average.dispose();
    restored.dispose();
  });

  it('combined hook sets each get every event and all saved arrays, and may not clash', () => {
    const seen: string[] = [];
    const combined = combineHooks(
      {
        afterStep: () => seen.push('a step'),
        saveState: () => ({ a: { shape: [1], values: Int32Array.of(1) } }),
      },
      {
        afterEpoch: () => seen.push('b epoch'),
        saveState: () => ({ b: { shape: [1], values: Int32Array.of(2) } }),
        loadState: (arrays) => seen.push(`b load ${Object.keys(arrays).join(',')}`),
      },
    );
    combined.afterStep!(step(1, 1));
    combined.afterEpoch!(epochEnd(1));
    const state = combined.saveState!();
    combined.loadState!(state);
    expect(seen).toEqual(['a step', 'b epoch', 'b load a,b']);
    const clash = combineHooks(
      { saveState: () => ({ a: state.a! }) },
      { saveState: () => ({ a: state.a! }) },
    );
    expect(() => clash.saveState!()).toThrow(/"a"/);
  });
});
