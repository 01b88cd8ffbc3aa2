/**
 * `distillery export REF --format onnx --out DIR` end to end: a real CLI subprocess runs a small
 * MNIST pipeline (train, then QAT to 4 bits) into a real SQLite registry, exports the trained and
 * the quantized versions, and independent readers check `DIR/model.onnx`: ONNX Runtime scores it
 * as the pipeline's own tfjs model does, python3-onnx accepts it, and its doc_string carries the
 * registry's lineage.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunInfo } from '../../preload/contract';
import { decodeModelProto } from '../../main/export/onnx-proto';
import { loadModel } from '../../main/worker/models/model-file';
import { cliJson } from '../helpers/cli';
import { ensureNoLeaks } from '../helpers/leak-check';
import {
  checkWithPythonOnnx,
  correctCount,
  maxAbsDifference,
  mnistTestInputs,
  pythonOnnxAvailable,
  runOnnxRuntime,
} from '../helpers/onnx-reader';
import { makeTempDir } from '../helpers/tmp';
import { mnistMlpPipeline } from '../helpers/pipelines';

const PIPELINE = mnistMlpPipeline({
  name: 'onnx-cli',
  seed: 5,
  data: { trainLimit: 1000, testLimit: 200 },
  net: { hidden: [32] },
  fit: { epochs: 2, batchSize: 32, learningRate: 0.003 },
  score: false,
});
PIPELINE.nodes.push({
  id: 'qat',
  type: 'quantize',
  params: { mode: 'qat', bits: 4, epochs: 1, learningRate: 0.0005 },
});
PIPELINE.edges.push({ from: 'fit.model', to: 'qat.model' }, { from: 'data.dataset', to: 'qat.dataset' });

describe('distillery export --format onnx', () => {
  ensureNoLeaks();
  const tmp = makeTempDir('distillery-onnx-cli-');
  const dataDir = join(tmp.dir, 'data');
  const mnist = mnistTestInputs(100);
  let run: RunInfo;

  beforeAll(async () => {
    const file = join(tmp.dir, 'onnx-cli.distillery.json');
    writeFileSync(file, JSON.stringify(PIPELINE, null, 2));
    const result = await cliJson<RunInfo>(['run', file], dataDir);
    expect(result.code, result.stderr).toBe(0);
    run = result.json;
    expect(run.status).toBe('done');
  }, 180_000);

  afterAll(() => tmp.cleanup());

  it('writes DIR/model.onnx that ONNX Runtime runs with the tfjs model’s predictions', async () => {
    const out = join(tmp.dir, 'fit-onnx');
    const result = await cliJson<{ files: string[] }>(
      ['export', 'onnx-cli/fit', '--format', 'onnx', '--out', out],
      dataDir,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.json.files).toEqual(['model.onnx']);
    const fit = run.tasks.find((task) => task.nodeId === 'fit')!;
    const { model } = await loadModel(join(fit.taskDir, 'model'));
    const x = tf.tensor(mnist.x, mnist.shape);
    const expected = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
    x.dispose();
    model.dispose();
    const { output } = await runOnnxRuntime(join(out, 'model.onnx'), {
      input: { data: mnist.x, shape: mnist.shape },
    });
    expect(maxAbsDifference(expected, output)).toBeLessThanOrEqual(1e-4);

    const decoded = decodeModelProto(readFileSync(join(out, 'model.onnx'))) as {
      docString: string;
      producerName: string;
    };
    expect(decoded.producerName).toBe('Distillery');
    // The registry's lineage: this version, made by train from the model node's version.
    expect(decoded.docString).toMatch(/^onnx-cli\/fit v1 \(/);
    expect(decoded.docString).toContain('← train {');
    expect(decoded.docString).toContain('onnx-cli/net v1');
  });

  it('exports the QAT model as int8 QDQ with 4-bit values that score like the quantized tfjs model', async () => {
    const out = join(tmp.dir, 'qat-onnx');
    const result = await cliJson<{ files: string[] }>(
      ['export', 'onnx-cli/qat', '--format', 'onnx', '--out', out],
      dataDir,
    );
    expect(result.code, result.stderr).toBe(0);
    const path = join(out, 'model.onnx');
    const qat = run.tasks.find((task) => task.nodeId === 'qat')!;
    const { model } = await loadModel(join(qat.taskDir, 'model'));
    const x = tf.tensor(mnist.x, mnist.shape);
    const tfjsProbabilities = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
    x.dispose();
    model.dispose();
    const { output } = await runOnnxRuntime(path, { input: { data: mnist.x, shape: mnist.shape } });
    const onnxCorrect = correctCount(output, mnist.y, 10);
    const tfjsCorrect = correctCount(tfjsProbabilities, mnist.y, 10);
    console.log(
      `QAT 4-bit: tfjs (uint8 manifest) ${tfjsCorrect}/100, ONNX Runtime (int8 QDQ) ${onnxCorrect}/100`,
    );
    expect(Math.abs(onnxCorrect - tfjsCorrect)).toBeLessThanOrEqual(1);
    const decoded = decodeModelProto(readFileSync(path)) as {
      docString: string;
      metadataProps: Array<{ key: string; value: string }>;
    };
    expect(decoded.docString).toContain('← quantize {');
    const quantization = decoded.metadataProps.find((prop) => prop.key === 'quantization')!;
    expect(JSON.parse(quantization.value)).toMatchObject({
      bits: 4,
      storage: expect.stringContaining('int8') as string,
    });
    if (pythonOnnxAvailable()) {
      const checked = checkWithPythonOnnx(path);
      expect(checked.dequantize.length).toBe(2);
      expect(checked.docString).toBe(decoded.docString);
    }
  });
});
