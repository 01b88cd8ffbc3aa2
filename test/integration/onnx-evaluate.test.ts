/**
 * `evaluate` with `runtime: both | onnxruntime` on a model trained on real MNIST: the ONNX export
 * is scored in ONNX Runtime beside TensorFlow.js, with the same accuracy for a float model (the
 * two runtimes' probabilities within 1e-4), its own latency and the export's size; a quantized
 * model is scored as the int8 QDQ file deployment gets.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExporter } from '../../main/export/exporter';
import { initBackend } from '../../main/worker/backend';
import { EVALUATION_FILE, type Evaluation } from '../../main/worker/ops/evaluate';
import { opContext, trainedMlp, writeMnistSplits } from '../helpers/compress-fixtures';
import { evaluateOp, quantizeOp } from '../helpers/ops';
import { makeTempDir } from '../helpers/tmp';

const tmp = makeTempDir('distillery-onnx-evaluate-');
let dataset: string;
let trained: string;

beforeAll(async () => {
  await initBackend('wasm');
  dataset = writeMnistSplits(join(tmp.dir, 'mnist'), { train: 2000, test: 500 });
  trained = await trainedMlp(tmp.dir, 'base', dataset, { hidden: [64], epochs: 2 });
}, 120_000);
afterAll(() => tmp.cleanup());

const inputs = (model: string) => ({
  model: { kind: 'model' as const, path: model },
  dataset: { kind: 'dataset' as const, path: dataset },
});

describe('evaluate in ONNX Runtime', () => {
  it('runtime both: same accuracy as tfjs for a float model, ONNX latency and size beside the tfjs figures', async () => {
    const ctx = opContext(tmp.dir, 'both', { runtime: 'both', latencySamples: 20 }, inputs(trained));
    const summary = (await evaluateOp(ctx)) as unknown as Evaluation;
    const onnx = summary.onnxruntime!;
    expect(summary.runtime).toBe('both');
    expect(summary.backend).toBe(ctx.backend.name);
    expect(onnx.maxAbsDifference).toBeLessThanOrEqual(1e-4);
    expect(onnx.agreement).toBe(1);
    expect(onnx.accuracy).toBe(summary.accuracy);
    expect(onnx.confusionMatrix).toEqual(summary.confusionMatrix);
    expect(onnx.quantized).toBe(false);
    expect(onnx.latencyMs).toBeGreaterThan(0);
    expect(summary.latencyMs).toBeGreaterThan(0);
    // The size is that of the file the exporter writes, less the `export` record naming the model
    // (a metadata prop of about 150 bytes: which version, its content hash).
    await getExporter('onnx').export(trained, join(tmp.dir, 'float-onnx'));
    const exported = readFileSync(join(tmp.dir, 'float-onnx', 'model.onnx')).byteLength;
    expect(exported - onnx.sizeBytes).toBeGreaterThan(0);
    expect(exported - onnx.sizeBytes).toBeLessThan(400);
    for (const name of [
      'onnx_accuracy',
      'onnx_latency_ms',
      'onnx_size_bytes',
      'onnx_max_abs_difference',
      'onnx_agreement',
    ]) {
      expect(ctx.series(name), name).toHaveLength(1);
    }
    const written = JSON.parse(readFileSync(join(ctx.taskDir, EVALUATION_FILE), 'utf8')) as Evaluation;
    expect(written.onnxruntime).toMatchObject({ accuracy: onnx.accuracy, sizeBytes: onnx.sizeBytes });
    // Progress covers both runtimes' passes.
    const last = ctx.progressReports.at(-1)!;
    expect(last).toEqual({ done: 2 * (500 + 20), total: 2 * (500 + 20) });
  }, 60_000);

  it('runtime onnxruntime: the main figures are ONNX Runtime’s', async () => {
    const ctx = opContext(
      tmp.dir,
      'onnx-only',
      { runtime: 'onnxruntime', latencySamples: 0 },
      inputs(trained),
    );
    const summary = (await evaluateOp(ctx)) as unknown as Evaluation;
    expect(summary.backend).toBe('onnxruntime');
    expect(summary.accuracy).toBe(summary.onnxruntime!.accuracy);
    expect(summary.latencyMs).toBeNull();
    expect(summary.onnxruntime!.maxAbsDifference).toBeNull();
    expect(ctx.series('onnx_latency_ms')).toEqual([]);
  }, 60_000);

  it('a quantized model is scored as its int8 QDQ export, close to the quantized tfjs model', async () => {
    const quantize = opContext(tmp.dir, 'q8', { dtype: 'uint8' }, inputs(trained));
    await quantizeOp(quantize);
    const ctx = opContext(
      tmp.dir,
      'both-q8',
      { runtime: 'both', latencySamples: 0 },
      inputs(quantize.artifacts[0]!.path),
    );
    const summary = (await evaluateOp(ctx)) as unknown as Evaluation;
    const onnx = summary.onnxruntime!;
    expect(onnx).toMatchObject({ quantized: true, bits: 8 });
    // Per-tensor uint8 (tfjs) and per-channel int8 (ONNX) round differently, but barely.
    expect(onnx.agreement).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(onnx.accuracy - summary.accuracy)).toBeLessThanOrEqual(0.005);
    expect(onnx.sizeBytes).toBeLessThan(0.3 * 4 * summary.paramCount);
  }, 60_000);
});
