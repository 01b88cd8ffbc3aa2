/**
 * The `onnx` exporter, checked by two independent readers on real MNIST test images: ONNX Runtime
 * must give the same outputs as TensorFlow.js (max |Δ| ≤ 1e-4 on 100 inputs) for every layer type
 * the exporter supports, and Debian's python3-onnx must accept every exported file with
 * `onnx.checker.check_model(full_check=True)` and read back its metadata. Quantized models export
 * as int8 QDQ with per-channel scales equal to max |w| / 127 of each output channel, within half
 * a point of the float model's accuracy; layers ONNX cannot express are refused by name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { getExporter, listExporters } from '../../main/export/exporter';
import { ONNX_IR_VERSION, ONNX_OPSET } from '../../main/export/onnx';
import { decodeModelProto } from '../../main/export/onnx-proto';
import { productVersion } from '../../main/export/producer';
import { QUANTIZED_WEIGHTS_JSON } from '../../main/export/quantized-weights';
import { modelCnnNode } from '../../main/nodes/model-cnn';
import { modelUnetNode } from '../../main/nodes/model-unet';
import { ACTIVATIONS } from '../../main/nodes/model-mlp';
import { initBackend } from '../../main/worker/backend';
import { buildUnet, classOneHot, timeEmbedding } from '../../main/worker/diffusion/unet';
import { buildCnn } from '../../main/worker/models/cnn';
import { buildMlp } from '../../main/worker/models/mlp';
import { loadModel, saveModel, type ModelMeta } from '../../main/worker/models/model-file';
import { opContext, trainedMlp, writeMnistSplits } from '../helpers/compress-fixtures';
import { FakeOpContext } from '../helpers/fake-op-context';
import {
  checkWithPythonOnnx,
  correctCount,
  maxAbsDifference,
  mnistTestInputs,
  PYTHON_ONNX_MISSING,
  pythonOnnxAvailable,
  runOnnxRuntime,
} from '../helpers/onnx-reader';
import { exportOp, quantizeOp, resolvedParams, trainOp } from '../helpers/ops';
import { makeTempDir } from '../helpers/tmp';
import { writeBuiltModel } from '../helpers/train-fixtures';

const tmp = makeTempDir('distillery-onnx-');
const root = tmp.dir;
const CLASSES = Array.from({ length: 10 }, (_, i) => `digit ${i}`);
const TOLERANCE = 1e-4;
const mnist = mnistTestInputs(100);

beforeAll(async () => {
  expect((await initBackend('wasm')).name).toBe('wasm');
});
afterAll(() => tmp.cleanup());

function classifierMeta(architecture: string, inputShape: number[]): ModelMeta {
  return {
    format: 1,
    kind: 'classifier',
    architecture,
    architectureParams: { test: architecture },
    inputShape,
    numClasses: 10,
    classNames: CLASSES,
    trained: false,
  };
}

/**
 * Gives every weight tfjs initialises to a constant (biases, batch-norm statistics, a zero output
 * convolution) seeded random values, so that each one is exercised.
 */
function randomizeConstants(model: tf.LayersModel, seed: number): void {
  model.weights.forEach((weight, i) => {
    const name = weight.originalName;
    const shape = weight.shape as number[];
    const value = weight.read();
    const constant = tf.tidy(() => tf.min(value).dataSync()[0] === tf.max(value).dataSync()[0]);
    if (!constant) return;
    const [low, high] = /moving_variance|gamma/.test(name) ? [0.5, 1.5] : [-0.2, 0.2];
    const replacement = tf.randomUniform(shape, low, high, 'float32', seed + i);
    weight.write(replacement);
    replacement.dispose();
  });
}

/** Saves, exports to ONNX, checks the file with python3-onnx and returns the export's path. */
async function exportOnnx(
  name: string,
  model: tf.LayersModel,
  meta: ModelMeta,
  lineage?: string,
): Promise<string> {
  const modelDir = join(root, `${name}-model`);
  await saveModel(model, modelDir, meta);
  const outDir = join(root, `${name}-onnx`);
  const { files } = await getExporter('onnx').export(modelDir, outDir, lineage ? { lineage } : {});
  expect(files).toContain('model.onnx');
  return join(outDir, 'model.onnx');
}

/** tfjs predictions vs ONNX Runtime's on the 100 MNIST images (or `inputs` for multi-input models). */
async function compare(name: string, model: tf.LayersModel, path: string): Promise<number> {
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const x = tf.tensor(mnist.x, [100, ...inputShape]);
  const expected = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
  x.dispose();
  const { output, outputShape, inputNames, outputNames } = await runOnnxRuntime(path, {
    input: { data: mnist.x, shape: [100, ...inputShape] },
  });
  expect(inputNames).toEqual(['input']);
  expect(outputNames).toEqual([model.outputNames[0]!]);
  expect([...outputShape]).toEqual([100, ...(model.outputs[0]!.shape.slice(1) as number[])]);
  const difference = maxAbsDifference(expected, output);
  expect({ name, difference }).toEqual({ name, difference: expect.any(Number) as number });
  expect(difference, name).toBeLessThanOrEqual(TOLERANCE);
  return difference;
}

const checked: string[] = [];

describe('onnx exporter: every supported layer, tfjs vs ONNX Runtime on 100 MNIST test images', () => {
  it('is registered beside tfjs', () => {
    expect(listExporters().map((exporter) => exporter.format)).toEqual(['tfjs', 'onnx']);
  });

  for (const activation of ACTIVATIONS) {
    it(`MLP 784-32-16-10 with ${activation} and dropout`, async () => {
      const model = buildMlp({
        inputShape: [28, 28, 1],
        numClasses: 10,
        hidden: [32, 16],
        activation,
        dropout: 0.2,
        seed: 3,
      });
      randomizeConstants(model, 10);
      const path = await exportOnnx(`mlp-${activation}`, model, classifierMeta('mlp', [28, 28, 1]));
      await compare(activation, model, path);
      checked.push(path);
      model.dispose();
    });
  }

  it('LeNet-5 (same padding, max pooling) and a valid-padding, average-pooling CNN', async () => {
    for (const [name, params] of [
      ['lenet5', {}],
      [
        'cnn-valid-avg',
        { padding: 'valid', pooling: 'avg', kernelSize: 3, activation: 'tanh', filters: [5, 7], dense: [20] },
      ],
    ] as const) {
      const model = buildCnn({
        ...resolvedParams(modelCnnNode, params),
        inputShape: [28, 28, 1],
        numClasses: 10,
        seed: 4,
      });
      randomizeConstants(model, 20);
      const path = await exportOnnx(name, model, classifierMeta('cnn', [28, 28, 1]));
      await compare(name, model, path);
      checked.push(path);
      model.dispose();
    }
  });

  it('explicit padding, strides, dilation, depthwise and separable convolutions, batch norm, activation layers, SAME pooling, upsampling', async () => {
    const model = tf.sequential({ name: 'conv-layers' });
    const seed = (i: number) => tf.initializers.glorotUniform({ seed: 100 + i });
    model.add(
      tf.layers.zeroPadding2d({
        inputShape: [28, 28, 1],
        padding: [
          [1, 2],
          [0, 1],
        ],
        name: 'pad',
      }),
    );
    model.add(
      tf.layers.conv2d({
        filters: 4,
        kernelSize: 3,
        strides: 2,
        padding: 'valid',
        activation: 'relu',
        kernelInitializer: seed(1),
        name: 'strided',
      }),
    );
    model.add(
      tf.layers.conv2d({
        filters: 4,
        kernelSize: 3,
        dilationRate: 2,
        padding: 'same',
        kernelInitializer: seed(2),
        name: 'dilated',
      }),
    );
    model.add(
      tf.layers.depthwiseConv2d({
        kernelSize: 3,
        depthMultiplier: 2,
        padding: 'same',
        activation: 'softplus',
        depthwiseInitializer: seed(3),
        name: 'depthwise',
      }),
    );
    model.add(
      tf.layers.separableConv2d({
        filters: 6,
        kernelSize: 3,
        padding: 'same',
        strides: 2,
        activation: 'relu6',
        depthwiseInitializer: seed(4),
        pointwiseInitializer: seed(5),
        name: 'separable',
      }),
    );
    model.add(tf.layers.batchNormalization({ name: 'norm' }));
    model.add(tf.layers.reLU({ maxValue: 1.5, name: 'capped' }));
    model.add(tf.layers.leakyReLU({ alpha: 0.2, name: 'leaky' }));
    model.add(tf.layers.elu({ name: 'elu' }));
    model.add(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'max_same' }));
    model.add(tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'avg_same' }));
    model.add(tf.layers.upSampling2d({ size: [2, 2], name: 'upsample' }));
    model.add(tf.layers.upSampling2d({ size: [2, 3], interpolation: 'bilinear', name: 'upsample_bilinear' }));
    model.add(tf.layers.maxPooling2d({ poolSize: [2, 3], name: 'max_valid' }));
    model.add(tf.layers.dropout({ rate: 0.3, name: 'drop' }));
    model.add(tf.layers.flatten({ name: 'flatten' }));
    model.add(tf.layers.dense({ units: 10, kernelInitializer: seed(6), name: 'logits' }));
    model.add(tf.layers.softmax({ name: 'output' }));
    randomizeConstants(model, 30);
    const path = await exportOnnx('conv-layers', model, classifierMeta('custom', [28, 28, 1]));
    await compare('conv-layers', model, path);
    checked.push(path);
    model.dispose();
  });

  it('every other activation, as Dense activations and Activation layers', async () => {
    const model = tf.sequential({ name: 'activations' });
    model.add(tf.layers.flatten({ inputShape: [28, 28, 1], name: 'flatten' }));
    const names = ['softplus', 'softsign', 'hardSigmoid', 'mish', 'gelu_new', 'relu6', 'linear'] as const;
    names.forEach((activation, i) => {
      model.add(
        tf.layers.dense({
          units: 24,
          activation,
          kernelInitializer: tf.initializers.glorotUniform({ seed: 200 + i }),
          name: `dense_${activation}`,
        }),
      );
    });
    model.add(tf.layers.activation({ activation: 'tanh', name: 'tanh_layer' }));
    // Active only in training: identities at inference, in tfjs and in the export.
    model.add(tf.layers.gaussianNoise({ stddev: 0.5, name: 'noise' }));
    model.add(tf.layers.gaussianDropout({ rate: 0.3, name: 'gaussian_dropout' }));
    model.add(tf.layers.alphaDropout({ rate: 0.3, name: 'alpha_dropout' }));
    // tfjs registers logSoftmax but leaves it out of its ActivationIdentifier type.
    model.add(tf.layers.activation({ activation: 'logSoftmax' as 'softmax', name: 'log_softmax' }));
    model.add(
      tf.layers.dense({
        units: 10,
        kernelInitializer: tf.initializers.glorotUniform({ seed: 299 }),
        name: 'logits',
      }),
    );
    model.add(tf.layers.activation({ activation: 'softmax', name: 'output' }));
    randomizeConstants(model, 40);
    const path = await exportOnnx('activations', model, classifierMeta('custom', [28, 28, 1]));
    await compare('activations', model, path);
    checked.push(path);
    model.dispose();
  });

  it('functional merges (add, multiply, average, maximum, minimum, concatenate), global pooling, reshape', async () => {
    const input = tf.input({ shape: [28, 28, 1], name: 'input' });
    const conv = (name: string, seed: number, x: tf.SymbolicTensor) =>
      tf.layers
        .conv2d({
          filters: 4,
          kernelSize: 3,
          padding: 'same',
          strides: 2,
          activation: 'tanh',
          kernelInitializer: tf.initializers.glorotUniform({ seed }),
          name,
        })
        .apply(x) as tf.SymbolicTensor;
    const a = conv('a', 1, input);
    const b = conv('b', 2, input);
    const merged = ['add', 'multiply', 'average', 'maximum', 'minimum'].map(
      (kind) =>
        (tf.layers[kind as 'add']({ name: kind }) as tf.layers.Layer).apply([a, b]) as tf.SymbolicTensor,
    );
    const stacked = tf.layers.concatenate({ axis: -1, name: 'stack' }).apply(merged) as tf.SymbolicTensor;
    const average = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(stacked) as tf.SymbolicTensor;
    const maximum = tf.layers.globalMaxPooling2d({ name: 'gmp' }).apply(stacked) as tf.SymbolicTensor;
    const pooled = tf.layers.concatenate({ name: 'pooled' }).apply([average, maximum]) as tf.SymbolicTensor;
    const map = tf.layers
      .reshape({ targetShape: [5, 2, 4], name: 'to_map' })
      .apply(pooled) as tf.SymbolicTensor;
    const rows = tf.layers.reshape({ targetShape: [10, 4], name: 'to_rows' }).apply(map) as tf.SymbolicTensor;
    const flat = tf.layers.flatten({ name: 'flatten' }).apply(rows) as tf.SymbolicTensor;
    const output = tf.layers
      .dense({
        units: 10,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
        name: 'output',
      })
      .apply(flat) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: output, name: 'merges' });
    randomizeConstants(model, 50);
    const path = await exportOnnx('merges', model, classifierMeta('custom', [28, 28, 1]));
    await compare('merges', model, path);
    checked.push(path);
    model.dispose();
  });

  it('the U-Net: three inputs, FiLM conditioning, stride-2 convolutions, upsampling, skip concatenation', async () => {
    const model = buildUnet({
      ...resolvedParams(modelUnetNode),
      imageSize: 28,
      channels: 1,
      widths: [8, 12],
      blocksPerLevel: 1,
      timeEmbedDim: 16,
      activation: 'swish',
      conditioning: 'scale-shift',
      numClasses: 10,
      seed: 5,
    });
    randomizeConstants(model, 60);
    const meta: ModelMeta = { ...classifierMeta('unet', [28, 28, 1]), kind: 'diffusion' };
    const path = await exportOnnx('unet', model, meta);
    const image = Float32Array.from(mnist.x, (v) => v * 2 - 1);
    const steps = Array.from({ length: 100 }, (_, i) => (i * 37) % 1000);
    const time = timeEmbedding(steps, 16);
    const label = classOneHot(
      Array.from(mnist.y, (y, i) => (i % 5 === 0 ? -1 : y)),
      10,
    );
    const feeds = {
      image: { data: image, shape: [100, 28, 28, 1] },
      time: { data: time, shape: [100, 16] },
      class: { data: label, shape: [100, 11] },
    };
    const tensors = Object.values(feeds).map((feed) => tf.tensor(feed.data, feed.shape));
    const expected = tf.tidy(() => (model.predict(tensors) as tf.Tensor).dataSync());
    tf.dispose(tensors);
    const { output, inputNames, outputNames } = await runOnnxRuntime(path, feeds);
    expect([...inputNames].sort()).toEqual(['class', 'image', 'time']);
    expect(outputNames).toEqual(['out']);
    // ε̂ is not a probability: compare relative to its scale too.
    const scale = Math.max(...Array.from(expected, Math.abs));
    expect(scale).toBeGreaterThan(0.01);
    expect(maxAbsDifference(expected, output)).toBeLessThanOrEqual(TOLERANCE * Math.max(1, scale));
    checked.push(path);
    model.dispose();
  });

  it('python3-onnx accepts every exported file (onnx.checker, full check) and reads opset 13, a symbolic batch and the metadata', (ctx) => {
    ctx.skip(!pythonOnnxAvailable(), PYTHON_ONNX_MISSING);
    expect(checked.length).toBeGreaterThanOrEqual(ACTIVATIONS.length + 5);
    for (const path of checked) {
      const model = checkWithPythonOnnx(path);
      expect(model).toMatchObject({
        irVersion: ONNX_IR_VERSION,
        opsets: { '': ONNX_OPSET },
        producerName: 'Distillery',
        producerVersion: productVersion(),
      });
      for (const value of [...model.inputs, ...model.outputs]) expect(value.dims[0]).toBe('batch');
    }
    const lenet = checkWithPythonOnnx(checked.find((path) => path.includes('lenet5'))!);
    expect(lenet.inputs).toEqual([{ name: 'input', dims: ['batch', 28, 28, 1] }]);
    expect(lenet.outputs).toEqual([{ name: 'output', dims: ['batch', 10] }]);
    expect(lenet.opTypes).toEqual(
      expect.arrayContaining(['Conv', 'MaxPool', 'Transpose', 'MatMul', 'Softmax']),
    );
    expect(JSON.parse(lenet.metadata.class_names!)).toEqual(CLASSES);
    expect(JSON.parse(lenet.metadata.preprocessing!)).toMatchObject({
      layout: 'NHWC',
      formula: expect.stringContaining('/ 255') as string,
    });
    expect(lenet.metadata.input_layout).toContain('NHWC');
    expect(JSON.parse(lenet.metadata.distillery!)).toMatchObject({
      architecture: 'cnn',
      classNames: CLASSES,
    });
    expect(lenet.docString).toContain('cnn');
  });
});

describe('onnx exporter: metadata, refusals and the export op', () => {
  it('records producer, version, the lineage summary in doc_string and class names / preprocessing in metadata_props', async () => {
    const model = buildMlp({
      inputShape: [28, 28, 1],
      numClasses: 10,
      hidden: [8],
      activation: 'relu',
      dropout: 0,
      seed: 1,
    });
    const lineage =
      'mnist/fit v2 (m-123)\n  ← train {"epochs":3} from mnist/net v1 (m-100), made by model.mlp';
    const path = await exportOnnx(
      'metadata',
      model,
      { ...classifierMeta('mlp', [28, 28, 1]), trained: true },
      lineage,
    );
    model.dispose();
    // Read back with protobufjs against ONNX's own schema…
    const decoded = decodeModelProto(readFileSync(path)) as {
      producerName: string;
      producerVersion: string;
      docString: string;
      metadataProps: Array<{ key: string; value: string }>;
      opsetImport: Array<{ version: number }>;
    };
    expect(decoded).toMatchObject({
      producerName: 'Distillery',
      producerVersion: productVersion(),
      docString: lineage,
    });
    expect(decoded.opsetImport).toEqual([{ domain: '', version: ONNX_OPSET }]);
    const props = Object.fromEntries(decoded.metadataProps.map(({ key, value }) => [key, value]));
    expect(Object.keys(props)).toEqual(
      expect.arrayContaining([
        'class_names',
        'input_layout',
        'preprocessing',
        'architecture',
        'quantization',
        'distillery',
      ]),
    );
    expect(JSON.parse(props.quantization!)).toEqual({ weights: 'float32', activations: 'float32' });
    // …and with python3-onnx, when present.
    if (pythonOnnxAvailable()) {
      const checkedModel = checkWithPythonOnnx(path);
      expect(checkedModel.docString).toBe(lineage);
      expect(JSON.parse(checkedModel.metadata.class_names!)).toEqual(CLASSES);
    }
  });

  it('refuses layers ONNX cannot express, naming each one and its type', async () => {
    const model = tf.sequential();
    model.add(tf.layers.reshape({ inputShape: [28, 28, 1], targetShape: [28, 28], name: 'rows' }));
    model.add(tf.layers.lstm({ units: 8, name: 'memory' }));
    model.add(tf.layers.dense({ units: 10, activation: 'softmax', name: 'output' }));
    const modelDir = join(root, 'lstm-model');
    await saveModel(model, modelDir, classifierMeta('custom', [28, 28, 1]));
    model.dispose();
    const error = await getExporter('onnx')
      .export(modelDir, join(root, 'lstm-onnx'))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(DistilleryError);
    expect((error as DistilleryError).code).toBe('EXPORT_UNSUPPORTED');
    expect((error as DistilleryError).message).toBe(
      'Not exportable to ONNX: layer "memory" (LSTM): no ONNX conversion for this layer type',
    );
    expect((error as DistilleryError).details).toMatchObject({
      layer: 'memory',
      layerType: 'LSTM',
      file: join(modelDir, 'model.json'),
    });

    const transposed = tf.sequential();
    transposed.add(
      tf.layers.conv2dTranspose({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3, name: 'up' }),
    );
    transposed.add(tf.layers.flatten({ name: 'flatten' }));
    transposed.add(tf.layers.dense({ units: 10, activation: 'linear', name: 'output' }));
    const transposedDir = join(root, 'transposed-model');
    await saveModel(transposed, transposedDir, classifierMeta('custom', [28, 28, 1]));
    transposed.dispose();
    const refused = await getExporter('onnx')
      .export(transposedDir, join(root, 'transposed-onnx'))
      .then(
        () => undefined,
        (e: unknown) => e as DistilleryError,
      );
    expect(refused?.code).toBe('EXPORT_UNSUPPORTED');
    expect(refused?.message).toContain('layer "up" (Conv2DTranspose)');
  });

  it('the export node writes model.onnx with format onnx', async () => {
    const modelDir = await writeBuiltModel(join(root, 'op-model'), 'cnn', { filters: [3], dense: [8] }, 2);
    const outDir = join(root, 'op-onnx');
    const ctx = new FakeOpContext({
      taskDir: join(root, 'op-task'),
      nodeId: 'export-onnx',
      params: { format: 'onnx', outDir },
      inputs: { model: { kind: 'model', path: modelDir, meta: {} } },
    });
    const summary = await exportOp(ctx);
    expect(summary).toMatchObject({ format: 'onnx', outDir, files: ['model.onnx'] });
    expect(summary.bytes).toBe(readFileSync(join(outDir, 'model.onnx')).byteLength);
    const { model } = await loadModel(modelDir);
    await compare('export-op', model, join(outDir, 'model.onnx'));
    model.dispose();
  });
});

describe('int8 QDQ export of quantized models', () => {
  let dataset: string;
  let mlp: string;
  let cnn: string;

  beforeAll(async () => {
    dataset = writeMnistSplits(join(root, 'mnist'), { train: 2000, test: 100 });
    mlp = await trainedMlp(root, 'mlp', dataset, { hidden: [64], epochs: 2 });
    const initial = await writeBuiltModel(
      join(root, 'cnn-initial'),
      'cnn',
      { filters: [4, 8], dense: [32] },
      3,
    );
    const ctx = opContext(
      root,
      'cnn',
      { epochs: 1, batchSize: 32, learningRate: 3e-3 },
      {
        model: { kind: 'model', path: initial },
        dataset: { kind: 'dataset', path: dataset },
      },
    );
    await trainOp(ctx);
    cnn = ctx.artifacts[0]!.path;
  }, 180_000);

  async function onnxAccuracy(path: string): Promise<{ correct: number; probabilities: Float32Array }> {
    const { output } = await runOnnxRuntime(path, { input: { data: mnist.x, shape: [100, 28, 28, 1] } });
    return { correct: correctCount(output, mnist.y, 10), probabilities: output };
  }

  for (const name of ['mlp', 'cnn'] as const) {
    it(`${name}: int8 per-channel QDQ in ONNX Runtime scores within 0.5 points of the float model on 100 MNIST test images`, async () => {
      const floatDir = name === 'mlp' ? mlp : cnn;
      const quantize = opContext(
        root,
        `${name}-q8`,
        { dtype: 'uint8' },
        {
          model: { kind: 'model', path: floatDir },
          dataset: { kind: 'dataset', path: dataset },
        },
      );
      await quantizeOp(quantize);
      const quantizedDir = quantize.artifacts[0]!.path;
      await getExporter('onnx').export(floatDir, join(root, `${name}-float-onnx`));
      await getExporter('onnx').export(quantizedDir, join(root, `${name}-int8-onnx`));
      const floatPath = join(root, `${name}-float-onnx`, 'model.onnx');
      const int8Path = join(root, `${name}-int8-onnx`, 'model.onnx');
      const float = await onnxAccuracy(floatPath);
      const int8 = await onnxAccuracy(int8Path);
      console.log(`${name}: ONNX Runtime float32 ${float.correct}/100, int8 QDQ ${int8.correct}/100`);
      expect(float.correct).toBeGreaterThan(70);
      // 0.5 points of 100 examples: the same number correct.
      expect(Math.abs(int8.correct - float.correct)).toBeLessThanOrEqual(0.5);

      // The float export is the tfjs model; the int8 one stores each kernel value in 1 byte instead of 4.
      const { model } = await loadModel(floatDir);
      await compare(`${name}-float`, model, floatPath);
      const kernels = model.layers.filter((layer) => ['Dense', 'Conv2D'].includes(layer.getClassName()));
      const kernelValues = kernels.reduce((sum, layer) => sum + layer.weights[0]!.read().size, 0);
      const saved = readFileSync(floatPath).byteLength - readFileSync(int8Path).byteLength;
      // (less the per-channel scales and zero points)
      expect(saved).toBeGreaterThan(2.75 * kernelValues);

      // Per-channel scales: max |w| of each output channel / 127, from the float kernels by hand.
      const decoded = decodeModelProto(readFileSync(int8Path)) as {
        graph: {
          node: Array<{ opType: string; input: string[]; attribute?: Array<{ name: string; i?: number }> }>;
          initializer: Array<{ name: string; dims: number[]; dataType: number; rawData: Buffer }>;
        };
      };
      const initializers = new Map(decoded.graph.initializer.map((t) => [t.name, t]));
      const dequantize = decoded.graph.node.filter((node) => node.opType === 'DequantizeLinear');
      expect(dequantize).toHaveLength(kernels.length);
      for (const layer of kernels) {
        const kernel = layer.weights[0]!.read();
        const values = kernel.dataSync();
        const channels = kernel.shape.at(-1)!;
        const expected = new Float32Array(channels);
        for (let i = 0; i < values.length; i++)
          expected[i % channels] = Math.max(expected[i % channels]!, Math.abs(values[i]!));
        const node = dequantize.find((candidate) => candidate.input[0] === `${layer.name}/kernel_quantized`)!;
        expect(node, layer.name).toBeDefined();
        const integers = initializers.get(node.input[0]!)!;
        expect(integers.dataType).toBe(3); // INT8
        const scales = initializers.get(node.input[1]!)!;
        const actual = new Float32Array(
          scales.rawData.buffer.slice(
            scales.rawData.byteOffset,
            scales.rawData.byteOffset + scales.rawData.byteLength,
          ),
        );
        expect(Array.from(actual)).toEqual(Array.from(expected, (max) => Math.fround(max / 127)));
        // Output channels are axis 1 of a MatMul weight [in, out], axis 0 of a Conv weight [out, in, h, w].
        expect(node.attribute?.find((a) => a.name === 'axis')?.i ?? 1).toBe(
          layer.getClassName() === 'Dense' ? 1 : 0,
        );
      }
      model.dispose();

      if (pythonOnnxAvailable()) {
        const checkedModel = checkWithPythonOnnx(int8Path);
        expect(checkedModel.dequantize.every((entry) => entry.dtype === 'int8')).toBe(true);
        expect(JSON.parse(checkedModel.metadata.quantization!)).toMatchObject({
          bits: 8,
          activations: 'float32',
        });
      }
    }, 60_000);
  }

  it('a float16 model exports as float32 (no integers), and integers that no longer match the weights are refused', async () => {
    const half = opContext(
      root,
      'mlp-f16',
      { dtype: 'float16' },
      {
        model: { kind: 'model', path: mlp },
        dataset: { kind: 'dataset', path: dataset },
      },
    );
    await quantizeOp(half);
    const halfPath = join(root, 'mlp-f16-onnx');
    await getExporter('onnx').export(half.artifacts[0]!.path, halfPath);
    const decoded = decodeModelProto(readFileSync(join(halfPath, 'model.onnx'))) as {
      graph: { node: Array<{ opType: string }> };
    };
    expect(decoded.graph.node.some((node) => node.opType === 'DequantizeLinear')).toBe(false);

    // Integers from one model beside another model's weights: the export refuses to mix them.
    const q8 = opContext(
      root,
      'mlp-q8-mixed',
      { dtype: 'uint8' },
      {
        model: { kind: 'model', path: mlp },
        dataset: { kind: 'dataset', path: dataset },
      },
    );
    await quantizeOp(q8);
    const other = await trainedMlp(root, 'mlp-other', dataset, { hidden: [64], epochs: 1, seed: 9 });
    const { copyFileSync } = await import('node:fs');
    for (const file of [QUANTIZED_WEIGHTS_JSON, 'quantized-weights.bin']) {
      copyFileSync(join(q8.artifacts[0]!.path, file), join(other, file));
    }
    const error = await getExporter('onnx')
      .export(other, join(root, 'mixed-onnx'))
      .then(
        () => undefined,
        (e: unknown) => e as DistilleryError,
      );
    expect(error?.code).toBe('MODEL_INVALID');
    expect(error?.details.file).toBe(join(other, QUANTIZED_WEIGHTS_JSON));
    expect(error?.message).toContain('hidden_1/kernel');
  }, 60_000);
});
