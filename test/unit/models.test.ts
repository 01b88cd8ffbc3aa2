import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { modelCnnNode } from '../../main/nodes/model-cnn';
import { ACTIVATIONS, modelMlpNode } from '../../main/nodes/model-mlp';
import { buildCnn, type CnnOptions } from '../../main/worker/models/cnn';
import { buildMlp, layerSeed, type MlpOptions } from '../../main/worker/models/mlp';
import { resolvedParams } from '../helpers/ops';

/** Weights + biases of a dense layer. */
const dense = (inputs: number, units: number): number => inputs * units + units;
/** Kernels + biases of a k×k convolution. */
const conv = (k: number, channels: number, filters: number): number => k * k * channels * filters + filters;

function mlp(overrides: Partial<MlpOptions> = {}): tf.LayersModel {
  return buildMlp({
    inputShape: [28, 28, 1],
    numClasses: 10,
    ...resolvedParams(modelMlpNode),
    seed: 7,
    ...overrides,
  });
}

function cnn(overrides: Partial<CnnOptions> = {}): tf.LayersModel {
  return buildCnn({
    inputShape: [28, 28, 1],
    numClasses: 10,
    ...resolvedParams(modelCnnNode),
    seed: 7,
    ...overrides,
  });
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

function thrown(fn: () => unknown): DistilleryError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DistilleryError);
    return error as DistilleryError;
  }
  throw new Error('expected a DistilleryError');
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('buildMlp', () => {
  it('LeNet-300-100 on 28×28×1 has 266,610 parameters', () => {
    const model = mlp();
    expect(dense(784, 300) + dense(300, 100) + dense(100, 10)).toBe(266_610);
    expect(model.countParams()).toBe(266_610);
    expect(model.layers.map((l) => l.name)).toEqual(['flatten', 'hidden_1', 'hidden_2', 'output']);
    model.dispose();
  });

  it('takes tabular inputs without a flatten layer and adds dropout after each hidden layer', () => {
    const model = buildMlp({
      inputShape: [4],
      numClasses: 3,
      hidden: [8, 5],
      activation: 'tanh',
      dropout: 0.2,
      seed: 1,
    });
    expect(model.layers.map((l) => l.name)).toEqual([
      'hidden_1',
      'dropout_1',
      'hidden_2',
      'dropout_2',
      'output',
    ]);
    expect(model.countParams()).toBe(dense(4, 8) + dense(8, 5) + dense(5, 3));
    model.dispose();
  });

  it('outputs probabilities', () => {
    const model = mlp({ hidden: [16] });
    const p = tf.tidy(() =>
      (model.predict(tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 3)) as tf.Tensor).sum(1),
    );
    for (const sum of p.dataSync()) expect(sum).toBeCloseTo(1, 5);
    p.dispose();
    model.dispose();
  });

  it('gives identical weights for the same seed and different ones for another', () => {
    const a = mlp({ hidden: [32, 16] });
    const b = mlp({ hidden: [32, 16] });
    const c = mlp({ hidden: [32, 16], seed: 8 });
    expect(weightsOf(a)).toEqual(weightsOf(b));
    const [kernelA] = weightsOf(a);
    const [kernelC] = weightsOf(c);
    expect(kernelA).not.toEqual(kernelC);
    // Layers of one model draw from different streams.
    expect(layerSeed(7, 0)).not.toBe(layerSeed(7, 1));
    expect(layerSeed(7, 1)).not.toBe(layerSeed(8, 0));
    for (const m of [a, b, c]) m.dispose();
  });

  it.each(ACTIVATIONS)('builds and round-trips the %s activation', async (activation) => {
    const model = mlp({ hidden: [8], activation });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return Promise.resolve({ modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) });
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 5);
    const original = model.predict(x) as tf.Tensor;
    const reloaded = loaded.predict(x) as tf.Tensor;
    expect(reloaded.dataSync()).toEqual(original.dataSync());
    tf.dispose([x, original, reloaded]);
    model.dispose();
    loaded.dispose();
  });

  it('gets its params from the model.mlp spec, which refuses bad ones with the param named', () => {
    const error = thrown(() => resolvedParams(modelMlpNode, { hidden: [10, 0] }));
    expect(error.code).toBe('PARAM_OUT_OF_RANGE');
    expect(error.details).toMatchObject({ param: 'hidden[1]', received: 0 });
    expect(thrown(() => resolvedParams(modelMlpNode, { dropout: 1 })).details).toMatchObject({
      param: 'dropout',
    });
    expect(thrown(() => resolvedParams(modelMlpNode, { activation: 'nope' })).code).toBe(
      'PARAM_INVALID_CHOICE',
    );
    // Every activation the spec offers builds (gelu among them, which the editor once lacked).
    expect(ACTIVATIONS).toContain('gelu');
  });
});

describe('buildCnn', () => {
  it('LeNet-5 with same padding on 28×28×1 has 107,786 parameters', () => {
    const model = cnn();
    // 28 → conv (same) 28 → pool 14 → conv (same) 14 → pool 7: 7·7·16 = 784 features.
    const expected = conv(5, 1, 6) + conv(5, 6, 16) + dense(7 * 7 * 16, 120) + dense(120, 84) + dense(84, 10);
    expect(expected).toBe(107_786);
    expect(model.countParams()).toBe(expected);
    expect(model.layers.map((l) => l.name)).toEqual([
      'conv_1',
      'pool_1',
      'conv_2',
      'pool_2',
      'flatten',
      'hidden_1',
      'hidden_2',
      'output',
    ]);
    model.dispose();
  });

  it('classic LeNet-5 (valid padding, 32×32×1) has 61,706 parameters', () => {
    const model = cnn({ inputShape: [32, 32, 1], padding: 'valid' });
    // 32 → 28 → 14 → 10 → 5: 5·5·16 = 400 features.
    expect(conv(5, 1, 6) + conv(5, 6, 16) + dense(400, 120) + dense(120, 84) + dense(84, 10)).toBe(61_706);
    expect(model.countParams()).toBe(61_706);
    model.dispose();
  });

  it('supports average and no pooling, and dropout in the dense head', () => {
    const avg = cnn({ pooling: 'avg', filters: [4], dense: [8], dropout: 0.5 });
    expect(avg.layers.map((l) => l.getClassName())).toEqual([
      'Conv2D',
      'AveragePooling2D',
      'Flatten',
      'Dense',
      'Dropout',
      'Dense',
    ]);
    const none = cnn({ inputShape: [6, 6, 3], pooling: 'none', filters: [2], kernelSize: 3, dense: [] });
    expect(none.countParams()).toBe(conv(3, 3, 2) + dense(6 * 6 * 2, 10));
    avg.dispose();
    none.dispose();
  });

  it('gives identical weights for the same seed and different ones for another', () => {
    const a = cnn({ filters: [4, 8], dense: [16] });
    const b = cnn({ filters: [4, 8], dense: [16] });
    const c = cnn({ filters: [4, 8], dense: [16], seed: 99 });
    expect(weightsOf(a)).toEqual(weightsOf(b));
    expect(weightsOf(a)[0]).not.toEqual(weightsOf(c)[0]);
    for (const m of [a, b, c]) m.dispose();
  });

  it('refuses non-image shapes', () => {
    const error = thrown(() => cnn({ inputShape: [4] }));
    expect(error.code).toBe('INCOMPATIBLE_INPUTS');
    expect(error.details).toMatchObject({
      param: 'inputShape',
      expected: '[height, width, channels]',
      received: [4],
    });
  });

  it('refuses inputs that valid convolutions and pooling would shrink below 1×1', () => {
    const error = thrown(() => cnn({ inputShape: [8, 8, 1], padding: 'valid' }));
    expect(error.code).toBe('INCOMPATIBLE_INPUTS');
    // 8 → conv 4 → pool 2 → conv (5×5) fails.
    expect(error.details).toMatchObject({ param: 'inputShape', received: [8, 8, 1], layer: 'conv_2' });
    // 16 → 12 → 6 → 2 → 1 is the smallest that survives.
    expect(error.details.expected).toContain('at least 16');
    expect(() => cnn({ inputShape: [16, 16, 1], padding: 'valid' }).dispose()).not.toThrow();
    const pooled = thrown(() => cnn({ inputShape: [3, 3, 1], filters: [2, 2] }));
    expect(pooled.details).toMatchObject({ layer: 'pool_2' });
    expect(pooled.details.expected).toContain('at least 4');
  });
});
