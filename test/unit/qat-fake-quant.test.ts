/**
 * Fake quantization for QAT (compress/fake-quant.ts) on the wasm backend the worker uses here:
 * its forward pass equals quantize → dequantize (per-channel.ts, what the ONNX export stores) bit
 * for bit; its gradient is the straight-through one, zero where the rounded value falls outside
 * the clipping range; and FakeQuantizedKernels changes what the model computes only inside the
 * wrapped loss, so the training loop's variables, checkpoints and saves see the float weights.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../main/worker/backend';
import {
  fakeQuantize,
  fakeQuantizePerChannel,
  FakeQuantizedKernels,
  perChannelKernels,
  writeDequantizedKernels,
} from '../../main/worker/compress/fake-quant';
import { dequantizePerChannel, quantizePerChannel } from '../../main/worker/compress/per-channel';
import { buildCnn } from '../../main/worker/models/cnn';
import { sparseCrossEntropyLoss } from '../../main/worker/train/classifier-loss';
import { readWeights, trainableVariables } from '../../main/worker/train/loop';
import { ensureNoLeaks } from '../helpers/leak-check';
import { resolvedParams } from '../helpers/ops';
import { modelCnnNode } from '../../main/nodes/model-cnn';
import { mnistSlice } from '../helpers/train-fixtures';

beforeAll(async () => {
  const backend = await initBackend('wasm');
  expect(backend.name).toBe('wasm');
});

/** Seeded values in (−range, range), with some exact multiples of a step to exercise ties. */
function kernelValues(count: number, seed: number): Float32Array {
  const values = tf.tidy(
    () => tf.randomUniform([count], -0.6, 0.6, 'float32', seed).dataSync() as Float32Array,
  );
  const out = Float32Array.from(values);
  for (let i = 0; i < count; i += 17) out[i] = Math.fround((i % 9) * 0.0125 - 0.05);
  return out;
}

function smallCnn(seed: number): tf.LayersModel {
  return buildCnn({
    ...resolvedParams(modelCnnNode),
    filters: [4, 6],
    kernelSize: 3,
    dense: [16],
    inputShape: [28, 28, 1],
    numClasses: 10,
    seed,
  });
}

describe('fake quantization', () => {
  ensureNoLeaks();

  for (const bits of [8, 4]) {
    for (const { shape, channelAxes } of [
      { shape: [5, 5, 3, 8], channelAxes: 1 },
      { shape: [120, 84], channelAxes: 1 },
      { shape: [3, 3, 4, 2], channelAxes: 2 },
    ]) {
      it(`${bits} bits, kernel [${shape.join(', ')}]: the forward pass equals quantize → dequantize exactly`, () => {
        const count = shape.reduce((a, b) => a * b, 1);
        const values = kernelValues(count, bits * 31 + count);
        const expected = dequantizePerChannel(quantizePerChannel('k', values, shape, channelAxes, bits));
        const actual = tf.tidy(() =>
          fakeQuantizePerChannel(tf.tensor(values, shape), channelAxes, bits).dataSync(),
        );
        // === treats the −0 tfjs gives for a tiny negative value rounded to zero as 0, as a reader does.
        const mismatches = expected.reduce<Array<[number, number, number]>>(
          (list, v, i) => (v === actual[i] ? list : [...list, [i, v, actual[i]!]]),
          [],
        );
        expect(mismatches).toEqual([]);
      });
    }
  }

  it('passes the gradient straight through inside the clipping range and stops it outside', () => {
    // scale 0.1 at 4 bits: round(x / 0.1) must lie in [−7, 7], i.e. x in [−0.75, 0.75).
    const x = tf.tensor1d([-1.0, -0.76, -0.5, 0, 0.3, 0.74, 0.76, 2]);
    const scale = tf.scalar(0.1);
    const upstream = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8]);
    const forward = fakeQuantize(x, scale, 4);
    const values = Array.from(forward.dataSync());
    [-0.7, -0.7, -0.5, 0, 0.3, 0.7, 0.7, 0.7].forEach((v, i) => expect(values[i]).toBeCloseTo(v, 6));
    const [dx, dscale] = tf.grads((a: tf.Tensor, s: tf.Tensor) =>
      tf.sum(tf.mul(fakeQuantize(a, s, 4), upstream)),
    )([x, scale]);
    expect(Array.from(dx!.dataSync())).toEqual([0, 0, 3, 4, 5, 6, 0, 0]);
    // The scale is a constant of the step: no gradient reaches it.
    expect(Array.from(dscale!.dataSync())).toEqual([0]);
    tf.dispose([x, scale, upstream, forward, dx, dscale]);
  });

  it('per-channel: scales cover every weight, so the whole upstream gradient passes', () => {
    const values = kernelValues(3 * 3 * 2 * 5, 9);
    const x = tf.tensor(values, [3, 3, 2, 5]);
    const upstream = tf.randomUniform([3, 3, 2, 5], -1, 1, 'float32', 4);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(fakeQuantizePerChannel(a, 1, 4), upstream)))(x);
    expect(Array.from(dx.dataSync())).toEqual(Array.from(upstream.dataSync()));
    tf.dispose([x, upstream, dx]);
  });

  it('quantizes the kernels only inside the wrapped loss, with straight-through gradients to the float weights', () => {
    const model = smallCnn(3);
    const reference = smallCnn(3);
    const images = mnistSlice('t10k', 0, 16);
    const x = tf.tensor(
      Float32Array.from(images.x, (v) => v / 255),
      [16, 28, 28, 1],
    );
    const y = tf.tensor1d(images.y, 'int32');
    const floatBefore = readWeights(model);
    const fake = new FakeQuantizedKernels(model, 4);
    try {
      expect(fake.names).toEqual(['conv_1/kernel', 'conv_2/kernel', 'hidden_1/kernel', 'output/kernel']);
      // The reference holds the dequantized integers as ordinary weights.
      writeDequantizedKernels(reference, fake.quantizedKernels());
      const loss = fake.wrapLoss(sparseCrossEntropyLoss(model));
      const referenceLoss = sparseCrossEntropyLoss(reference);
      const scores = tf.tidy(() => {
        const out = loss(model, x, y, false);
        return (out as { scores: tf.Tensor }).scores.dataSync();
      });
      const referenceScores = tf.tidy(() =>
        (referenceLoss(reference, x, y, false) as { scores: tf.Tensor }).scores.dataSync(),
      );
      expect(Array.from(scores)).toEqual(Array.from(referenceScores));

      // Outside the wrapped loss the model computes with its float weights.
      const plain = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
      const quantizedPredictions = tf.tidy(() => (reference.predict(x) as tf.Tensor).dataSync());
      expect(Array.from(plain)).not.toEqual(Array.from(quantizedPredictions));

      // The trainable list holds the float variables and checkpoints read float values.
      const variables = trainableVariables(model);
      expect(variables.every((variable) => variable instanceof tf.Variable)).toBe(true);
      expect(readWeights(model)).toEqual(floatBefore);

      // Straight-through: the gradient w.r.t. each float kernel is the gradient at the quantized kernel.
      const grads = tf.variableGrads(() => (loss(model, x, y, false) as { loss: tf.Scalar }).loss, variables);
      const referenceGrads = tf.variableGrads(
        () => (referenceLoss(reference, x, y, false) as { loss: tf.Scalar }).loss,
        trainableVariables(reference),
      );
      const referenceByName = new Map(
        reference.trainableWeights.map((w, i) => [
          w.originalName,
          referenceGrads.grads[trainableVariables(reference)[i]!.name]!,
        ]),
      );
      model.trainableWeights.forEach((weight, i) => {
        const grad = grads.grads[variables[i]!.name]!;
        const expected = referenceByName.get(weight.originalName)!;
        const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(grad, expected))).dataSync()[0]!);
        expect({ weight: weight.originalName, difference }).toEqual({
          weight: weight.originalName,
          difference: 0,
        });
      });
      tf.dispose([
        grads.value,
        referenceGrads.value,
        ...Object.values(grads.grads),
        ...Object.values(referenceGrads.grads),
      ]);
    } finally {
      fake.dispose();
    }
    // Disposed: the variables read as before and the kernels are plain again.
    for (const kernel of perChannelKernels(model)) expect(Object.hasOwn(kernel.variable, 'read')).toBe(false);
    tf.dispose([x, y]);
    model.dispose();
    reference.dispose();
  });
});
