/**
 * Structured pruning: the rewired (physically smaller) model gives the same predictions as the
 * masked model (removed units' weights zeroed) for MLPs and CNNs built by the worker's own
 * builders, including activations with act(0) ≠ 0 whose constant is folded into the next bias.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  applyStructuredMask,
  describePlan,
  planStructuredPruning,
  rewireModel,
  unitNorms,
} from '../../main/worker/compress/structured';
import { buildCnn } from '../../main/worker/models/cnn';
import type { Activation } from '../../main/nodes/model-mlp';
import { buildMlp } from '../../main/worker/models/mlp';
import { thrown } from '../helpers/compress-fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Gives every weight seeded random values (biases too, so masking them matters). */
function randomize(model: tf.LayersModel, seed: number): void {
  model.weights.forEach((weight, i) => {
    const value = tf.randomNormal(weight.shape as number[], 0, 0.3, 'float32', seed + i);
    weight.write(value);
    value.dispose();
  });
}

function maxDifference(a: tf.LayersModel, b: tf.LayersModel, x: tf.Tensor): number {
  return tf.tidy(
    () => tf.max(tf.abs(tf.sub(a.predict(x) as tf.Tensor, b.predict(x) as tf.Tensor))).dataSync()[0]!,
  );
}

async function checkEquivalent(build: () => tf.LayersModel, fraction: number, inputShape: number[]) {
  const original = build();
  randomize(original, 7);
  const plan = planStructuredPruning(original, fraction, 'l1');
  const { model: small, warnings } = await rewireModel(original, plan);
  const masked = build();
  masked.setWeights(original.getWeights());
  applyStructuredMask(masked, plan);
  const x = tf.randomUniform([16, ...inputShape], 0, 1, 'float32', 3);
  const difference = maxDifference(masked, small, x);
  const changed = maxDifference(original, small, x);
  const result = {
    plan,
    warnings,
    difference,
    changed,
    before: original.countParams(),
    after: small.countParams(),
  };
  tf.dispose([x]);
  for (const model of [original, small, masked]) model.dispose();
  return result;
}

describe('structured pruning', () => {
  it('unit norms are L1 / L2 over each output column', () => {
    const kernel = Float32Array.from([1, -2, 3, -4, 0, 2]); // [3, 2]
    expect(unitNorms(kernel, [3, 2], 'l1')).toEqual([4, 8]);
    expect(unitNorms(kernel, [3, 2], 'l2')[1]).toBeCloseTo(Math.sqrt(4 + 16 + 4), 6);
  });

  for (const activation of ['relu', 'tanh', 'sigmoid'] as Activation[]) {
    it(`MLP (${activation}, with dropout): same predictions as the masked model, fewer parameters`, async () => {
      const build = () =>
        buildMlp({
          inputShape: [28, 28, 1],
          numClasses: 10,
          hidden: [64, 32],
          activation,
          dropout: 0.2,
          seed: 1,
        });
      const result = await checkEquivalent(build, 0.5, [28, 28, 1]);
      expect(describePlan(result.plan)).toEqual([
        { layer: 'hidden_1', before: 64, after: 32 },
        { layer: 'hidden_2', before: 32, after: 16 },
      ]);
      expect(result.after).toBe(784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10);
      expect(result.after).toBeLessThan(result.before);
      expect(result.difference).toBeLessThan(1e-5);
      expect(result.changed).toBeGreaterThan(1e-3); // pruning did change the function
      expect(result.warnings).toEqual([]);
    });
  }

  it('CNN (conv → pool → conv → pool → flatten → dense): same predictions as the masked model', async () => {
    const build = () =>
      buildCnn({
        inputShape: [28, 28, 1],
        numClasses: 10,
        filters: [8, 12],
        kernelSize: 3,
        padding: 'same',
        pooling: 'max',
        poolSize: 2,
        dense: [24],
        activation: 'relu',
        dropout: 0,
        seed: 2,
      });
    const result = await checkEquivalent(build, 0.5, [28, 28, 1]);
    expect(describePlan(result.plan)).toEqual([
      { layer: 'conv_1', before: 8, after: 4 },
      { layer: 'conv_2', before: 12, after: 6 },
      { layer: 'hidden_1', before: 24, after: 12 },
    ]);
    expect(result.after).toBeLessThan(result.before / 2);
    expect(result.difference).toBeLessThan(1e-5);
  });

  it('keeps the output layer whole, honours excluded layers, keeps at least one unit', async () => {
    const mlp = buildMlp({
      inputShape: [10],
      numClasses: 3,
      hidden: [4, 4],
      activation: 'relu',
      dropout: 0,
      seed: 5,
    });
    const plan = planStructuredPruning(mlp, 0.99, 'l2', ['hidden_2']);
    expect(describePlan(plan)).toEqual([{ layer: 'hidden_1', before: 4, after: 1 }]);
    const { model } = await rewireModel(mlp, plan);
    expect(model.outputs[0]!.shape).toEqual([null, 3]);
    model.dispose();
    mlp.dispose();
  });

  it('refuses layers it cannot rewire through, naming the layer', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [6], units: 8, name: 'a' }),
        tf.layers.batchNormalization({ name: 'norm' }),
        tf.layers.dense({ units: 2, name: 'b' }),
      ],
    });
    expect(thrown(() => planStructuredPruning(model, 0.5, 'l1'))).toMatchObject({
      code: 'MODEL_INVALID',
      details: { layer: 'norm' },
    });
    model.dispose();
  });
});
