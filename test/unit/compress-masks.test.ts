/**
 * Pruning masks: exact target sparsity (global and layer-wise), the AGP cubic schedule, the N:M
 * pattern in every group, applying masks to a real model, and the sparse-size estimate.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  agpSparsity,
  applyMasks,
  isAgpPruningStep,
  layerSparsity,
  magnitudeMasks,
  maskSparsity,
  MaskTensors,
  nmMask,
  overallSparsity,
  prunableWeights,
  readValues,
  supportsNm,
  type AgpSchedule,
} from '../../main/worker/compress/masks';
import { sparseSizeBytes, sparseTensorBytes } from '../../main/worker/compress/sparse-size';
import { buildCnn } from '../../main/worker/models/cnn';
import { buildMlp } from '../../main/worker/models/mlp';
import { thrown } from '../helpers/compress-fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** mulberry32: seeded values in [-scale, scale). */
function seededValues(count: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  });
}

function zerosOf(mask: Uint8Array): number {
  return mask.reduce((sum, keep) => sum + (keep === 0 ? 1 : 0), 0);
}

describe('AGP schedule (Zhu & Gupta 2017)', () => {
  const schedule: AgpSchedule = {
    initialSparsity: 0,
    finalSparsity: 0.9,
    startStep: 100,
    rampSteps: 1000,
    pruneEvery: 100,
  };

  it('follows s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³', () => {
    expect(agpSparsity(100, schedule)).toBe(0);
    expect(agpSparsity(350, schedule)).toBeCloseTo(0.9 - 0.9 * 0.75 ** 3, 12); // 0.52031…
    expect(agpSparsity(600, schedule)).toBeCloseTo(0.7875, 12);
    expect(agpSparsity(1100, schedule)).toBeCloseTo(0.9, 12);
    const withInitial = { ...schedule, initialSparsity: 0.5 };
    expect(agpSparsity(600, withInitial)).toBeCloseTo(0.9 - 0.4 * 0.125, 12);
  });

  it('holds s_i before t0 and s_f after the ramp, and never decreases', () => {
    expect(agpSparsity(0, { ...schedule, initialSparsity: 0.2 })).toBe(0.2);
    expect(agpSparsity(5000, schedule)).toBe(0.9);
    let previous = -1;
    for (let t = 0; t <= 1500; t += 7) {
      const s = agpSparsity(t, schedule);
      expect(s).toBeGreaterThanOrEqual(previous);
      previous = s;
    }
  });

  it('prunes at t0, every Δt, and at the end of the ramp', () => {
    const steps = Array.from({ length: 1300 }, (_, t) => t).filter((t) =>
      isAgpPruningStep(t, { ...schedule, rampSteps: 950 }),
    );
    expect(steps).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1050]);
  });
});

describe('magnitude masks', () => {
  const arrays = [
    seededValues(784 * 30, 1, 0.05),
    seededValues(30 * 20, 2, 0.3),
    seededValues(20 * 10, 3, 0.6),
  ];

  it('global: hits the target sparsity within 0.5% and ranks across layers', () => {
    for (const target of [0.5, 0.9, 0.92, 0.99]) {
      const masks = magnitudeMasks(arrays, target, 'global');
      expect(Math.abs(maskSparsity(masks) - target)).toBeLessThan(0.005);
      const total = arrays.reduce((s, a) => s + a.length, 0);
      expect(masks.reduce((s, m) => s + zerosOf(m), 0)).toBe(Math.round(target * total));
    }
    // One threshold: the layer with the largest weights keeps the most.
    const masks = magnitudeMasks(arrays, 0.9, 'global');
    const kept = masks.map((m) => 1 - zerosOf(m) / m.length);
    expect(kept[2]!).toBeGreaterThan(kept[1]!);
    expect(kept[1]!).toBeGreaterThan(kept[0]!);
    // Every kept weight is at least as large as every pruned one.
    let smallestKept = Infinity;
    let largestPruned = 0;
    masks.forEach((mask, a) =>
      mask.forEach((keep, i) => {
        const v = Math.abs(arrays[a]![i]!);
        if (keep) smallestKept = Math.min(smallestKept, v);
        else largestPruned = Math.max(largestPruned, v);
      }),
    );
    expect(largestPruned).toBeLessThanOrEqual(smallestKept);
  });

  it('layer-wise: every layer at the target within 0.5%', () => {
    const masks = magnitudeMasks(arrays, 0.8, 'layer');
    for (const mask of masks) expect(Math.abs(zerosOf(mask) / mask.length - 0.8)).toBeLessThan(0.005);
  });

  it('breaks ties so the count is exact, and sparsity 0 keeps everything', () => {
    const ties = [new Float32Array(100).fill(0.5)];
    expect(zerosOf(magnitudeMasks(ties, 0.37, 'global')[0]!)).toBe(37);
    expect(zerosOf(magnitudeMasks(arrays, 0, 'global')[0]!)).toBe(0);
  });

  it('refuses sparsity ≥ 1 with a coded error naming the param', () => {
    expect(thrown(() => magnitudeMasks(arrays, 1, 'global'))).toMatchObject({
      code: 'PARAM_OUT_OF_RANGE',
      details: { param: 'sparsity' },
    });
  });
});

describe('N:M masks', () => {
  function checkGroups(values: Float32Array, shape: number[], n: number, m: number) {
    const mask = nmMask(values, shape, n, m);
    const columns = shape.at(-1)!;
    const rows = values.length / columns;
    for (let column = 0; column < columns; column++) {
      for (let start = 0; start < rows; start += m) {
        const group = Array.from({ length: m }, (_, k) => (start + k) * columns + column);
        expect(group.reduce((s, i) => s + mask[i]!, 0)).toBe(n);
        const keptMin = Math.min(...group.filter((i) => mask[i]).map((i) => Math.abs(values[i]!)));
        const prunedMax = Math.max(0, ...group.filter((i) => !mask[i]).map((i) => Math.abs(values[i]!)));
        expect(prunedMax).toBeLessThanOrEqual(keptMin);
      }
    }
    expect(maskSparsity([mask])).toBeCloseTo(1 - n / m, 12);
  }

  it('2:4 holds in every group of a Dense kernel [in, out]', () => {
    checkGroups(seededValues(64 * 12, 4), [64, 12], 2, 4);
  });

  it('2:4 and 1:4 hold in every group of a Conv2D kernel [kh, kw, in, out] (along input channels)', () => {
    checkGroups(seededValues(3 * 3 * 8 * 5, 5), [3, 3, 8, 5], 2, 4);
    checkGroups(seededValues(3 * 3 * 8 * 5, 6), [3, 3, 8, 5], 1, 4);
    checkGroups(seededValues(16 * 6, 7), [16, 6], 4, 8);
  });

  it('refuses kernels whose input count is not a multiple of M', () => {
    expect(supportsNm([5, 5, 1, 6], 4)).toBe(false);
    expect(supportsNm([784, 300], 4)).toBe(true);
    expect(thrown(() => nmMask(seededValues(25 * 6, 8), [5, 5, 1, 6], 2, 4))).toMatchObject({
      code: 'INCOMPATIBLE_INPUTS',
    });
  });
});

describe('masks on a real model', () => {
  it('finds Dense and Conv2D kernels (not biases), applies masks, reports per-layer sparsity', () => {
    const cnn = buildCnn({
      inputShape: [28, 28, 1],
      numClasses: 10,
      filters: [4, 8],
      kernelSize: 3,
      padding: 'same',
      pooling: 'max',
      poolSize: 2,
      dense: [16],
      activation: 'relu',
      dropout: 0,
      seed: 3,
    });
    const weights = prunableWeights(cnn, ['conv_1']);
    expect(weights.map((w) => w.layer)).toEqual(['conv_2', 'hidden_1', 'output']);
    expect(weights.map((w) => w.name)).toEqual(['conv_2/kernel', 'hidden_1/kernel', 'output/kernel']);
    const masks = magnitudeMasks(readValues(weights), 0.75, 'layer');
    applyMasks(weights, masks);
    const layers = layerSparsity(weights);
    for (const layer of layers) expect(Math.abs(layer.sparsity - 0.75)).toBeLessThan(0.005);
    expect(overallSparsity(layers)).toBeCloseTo(0.75, 2);
    // Biases untouched.
    expect(
      cnn
        .getLayer('hidden_1')
        .weights[1]!.read()
        .dataSync()
        .every((v) => v === 0),
    ).toBe(true);
    cnn.dispose();
  });

  it('MaskTensors re-zeroes pruned weights after they moved', () => {
    const mlp = buildMlp({
      inputShape: [20],
      numClasses: 3,
      hidden: [8],
      activation: 'relu',
      dropout: 0,
      seed: 1,
    });
    const weights = prunableWeights(mlp);
    const masks = magnitudeMasks(readValues(weights), 0.5, 'global');
    const holder = new MaskTensors(weights);
    holder.set(masks);
    // Simulate an optimiser step that moves every weight.
    for (const weight of weights) weight.variable.write(tf.add(weight.variable.read(), 0.01));
    holder.apply();
    readValues(weights).forEach((values, i) =>
      values.forEach((v, j) => {
        // −0 (a negative weight times 0) is exactly zero too.
        expect(v === 0).toBe(masks[i]![j] === 0);
      }),
    );
    holder.dispose();
    mlp.dispose();
  });
});

describe('sparse size', () => {
  it('is a bitmask plus the non-zero values, or dense when smaller', () => {
    const values = new Float32Array(1000);
    for (let i = 0; i < 80; i++) values[i * 12] = 1;
    expect(sparseTensorBytes({ values, bytesPerValue: 4 })).toBe(125 + 80 * 4);
    expect(sparseTensorBytes({ values: new Float32Array(10).fill(1), bytesPerValue: 4 })).toBe(40);
    expect(sparseSizeBytes([{ values, bytesPerValue: 1 }])).toBe(125 + 80);
  });
});
