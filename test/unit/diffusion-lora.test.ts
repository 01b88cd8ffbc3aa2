/**
 * LoRA adapters on a tiny U-Net (wasm backend): exact parameter counts for rank r, a fresh adapter
 * leaves the model unchanged, merged weights give the same outputs as the adapted forward pass,
 * gradients reach only the adapters, and adapters round-trip through checkpoints and files.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoraAdapters } from '../../main/worker/diffusion/lora';
import { predictNoise, unetSpecOf } from '../../main/worker/diffusion/unet';
import { makeTempDir } from '../helpers/tmp';
import { randomUnet, useWasm } from '../helpers/diffusion-fixtures';

beforeAll(async () => {
  await useWasm();
});

/** Σ r·(fanIn + fanOut) computed from the layers' kernel shapes. */
function expectedCount(model: tf.LayersModel, rank: number, kinds: string[]): number {
  let count = 0;
  for (const layer of model.layers) {
    if (!kinds.includes(layer.getClassName())) continue;
    const kernel = layer.getWeights()[0]!;
    const shape = kernel.shape;
    count += rank * (shape.slice(0, -1).reduce((a, b) => a * b, 1) + shape.at(-1)!);
  }
  return count;
}

function inputs(n: number) {
  return {
    x: tf.randomNormal<tf.Rank.R4>([n, 8, 8, 1], 0, 1, 'float32', 31),
    t: Array.from({ length: n }, (_, i) => 10 * i + 3),
    labels: Array.from({ length: n }, (_, i) => (i % 4) - 1),
  };
}

describe('LoRA adapters', () => {
  const models: tf.LayersModel[] = [];
  afterAll(() => models.forEach((m) => m.dispose()));

  it('rank r adds exactly r·(fanIn + fanOut) parameters per adapted kernel', () => {
    const model = randomUnet();
    models.push(model);
    for (const [rank, targets, kinds] of [
      [1, 'all', ['Conv2D', 'Dense']],
      [4, 'all', ['Conv2D', 'Dense']],
      [3, 'conv', ['Conv2D']],
      [2, 'dense', ['Dense']],
    ] as const) {
      const adapters = LoraAdapters.create(model, { rank, alpha: 8, targets }, 1);
      const expected = expectedCount(model, rank, [...kinds]);
      expect(adapters.parameterCount).toBe(expected);
      expect(adapters.variables.reduce((sum, v) => sum + v.size, 0)).toBe(expected);
      expect(adapters.variables.length).toBe(2 * adapters.layerNames.length);
      adapters.dispose();
    }
    // A 3×3 conv from 8 to 16 channels with rank 4: 4·(3·3·8 + 16).
    const adapters = LoraAdapters.create(model, { rank: 4, alpha: 4, targets: 'conv' }, 1);
    const conv = model.getLayer('down2_block1_conv1');
    expect(conv.getWeights()[0]!.shape).toEqual([3, 3, 8, 16]);
    expect(expectedCount(model, 4, ['Conv2D'])).toBe(adapters.parameterCount);
    adapters.dispose();
  });

  it('starts as the base model (B = 0), and merged weights equal the adapted forward pass', () => {
    const model = randomUnet();
    models.push(model);
    const spec = unetSpecOf(model);
    const { x, t, labels } = inputs(4);
    const adapters = LoraAdapters.create(model, { rank: 2, alpha: 6, targets: 'all' }, 9);
    const base = tf.tidy(() => predictNoise(model, spec, x, t, labels));
    const fresh = tf.tidy(() => adapters.withAdapters(() => predictNoise(model, spec, x, t, labels)));
    expect(tf.max(tf.abs(tf.sub(base, fresh))).dataSync()[0]).toBe(0);

    // Give B values so the adapters change the output.
    adapters.variables.forEach((v, i) => {
      if (i % 2 === 1) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 50 + i));
    });
    const adapted = tf.tidy(() => adapters.withAdapters(() => predictNoise(model, spec, x, t, labels)));
    expect(tf.max(tf.abs(tf.sub(adapted, base))).dataSync()[0]).toBeGreaterThan(1e-3);
    // The base kernels are untouched outside withAdapters.
    const still = tf.tidy(() => predictNoise(model, spec, x, t, labels));
    expect(tf.max(tf.abs(tf.sub(still, base))).dataSync()[0]).toBe(0);

    adapters.merge();
    const merged = tf.tidy(() => predictNoise(model, spec, x, t, labels));
    const scale = tf.max(tf.abs(adapted)).dataSync()[0]!;
    expect(tf.max(tf.abs(tf.sub(merged, adapted))).dataSync()[0]! / scale).toBeLessThan(1e-5);
    adapters.dispose();
    tf.dispose([x, base, fresh, adapted, still, merged]);
  });

  it('gradients reach the adapters (B first, since B = 0 at the start) and not the frozen base', () => {
    const model = randomUnet();
    models.push(model);
    const spec = unetSpecOf(model);
    const { x, t, labels } = inputs(3);
    const adapters = LoraAdapters.create(model, { rank: 2, alpha: 2, targets: 'all' }, 3);
    const before = model.getWeights().map((w) => w.dataSync().slice());
    const { grads } = tf.variableGrads(
      () => adapters.withAdapters(() => tf.mean(tf.square(predictNoise(model, spec, x, t, labels)))),
      adapters.variables,
    );
    const norms = adapters.variables.map((v) => tf.norm(grads[v.name]!).dataSync()[0]!);
    expect(norms.filter((_, i) => i % 2 === 1).every((n) => n > 0)).toBe(true); // every B
    expect(norms.filter((_, i) => i % 2 === 0).every((n) => n === 0)).toBe(true); // A, while B = 0
    expect(model.getWeights().map((w) => w.dataSync().slice())).toEqual(before);
    tf.dispose(Object.values(grads));
    adapters.dispose();
    x.dispose();
  });

  it('round-trips through state() / load() and through files', () => {
    const model = randomUnet();
    models.push(model);
    const tmp = makeTempDir();
    try {
      const a = LoraAdapters.create(model, { rank: 3, alpha: 3, targets: 'all' }, 4);
      a.variables.forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', i)));
      const state = a.state();
      a.save(tmp.dir);
      const b = LoraAdapters.create(model, { rank: 3, alpha: 3, targets: 'all' }, 99);
      b.load(state, 'memory');
      const c = LoraAdapters.create(model, { rank: 3, alpha: 3, targets: 'all' }, 98);
      c.loadFile(tmp.dir);
      a.variables.forEach((v, i) => {
        expect(Array.from(b.variables[i]!.dataSync())).toEqual(Array.from(v.dataSync()));
        expect(Array.from(c.variables[i]!.dataSync())).toEqual(Array.from(v.dataSync()));
      });
      [a, b, c].forEach((adapters) => adapters.dispose());
    } finally {
      tmp.cleanup();
    }
  });
});
