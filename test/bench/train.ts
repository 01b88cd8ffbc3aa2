/**
 * `npm run bench:train`: training throughput (samples/s, batch 128, Adam 1e-3) of three
 * classifiers on real MNIST, through the product's own training path — the model builders of
 * main/worker/models, the optimisers of main/worker/train/optimizers.ts and `runTrainingLoop` with
 * the train op's loss — against PyTorch (CPU) measured in the same invocation when
 * `/usr/bin/python3 -c "import torch"` works. Figures are ratios against references measured here
 * and now; absolute numbers only mean something on the machine that printed them.
 *
 * Per model it prints one machine-readable line
 *   RATIO model=<name> tfjs=<samples/s> pytorch=<samples/s> ratio=<x>
 * plus the 1024² matmul GFLOP/s of each side (`MATMUL …`, the best of the PyTorch processes), the
 * thread settings and the backend. PyTorch runs with 1 torch thread + 2 OpenBLAS threads and with
 * 2 + 1 (on a 2-core machine; generally 1 + cores and cores + 1), right after tfjs for each model;
 * both are printed and the faster one is kept.
 *
 * Options: --backend NAME (default wasm; auto, webgpu, cpu, …), --models a,b (default all),
 * --seconds S (time per measurement; also BENCH_SECONDS, default 3). DISTILLERY_WASM_THREADS sets
 * the wasm thread count as it does for the worker.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, type BackendChoice } from '../../main/worker/backend';
import type { SplitData } from '../../main/worker/data/dataset-file';
import { loadMnist, mnistPaths } from '../../main/worker/data/mnist';
import { buildCnn } from '../../main/worker/models/cnn';
import { buildMlp } from '../../main/worker/models/mlp';
import { sparseCrossEntropyLoss } from '../../main/worker/train/classifier-loss';
import { runTrainingLoop, type LoopConfig } from '../../main/worker/train/loop';
import { createOptimizer } from '../../main/worker/train/optimizers';
import type { BackendInfo } from '../../main/worker/protocol';
import { FakeOpContext } from '../helpers/fake-op-context';

const BATCH = 128;
const LEARNING_RATE = 1e-3;
const PYTHON = '/usr/bin/python3';
const INPUT_SHAPE = [28, 28, 1];

type ModelName = 'lenet-300-100' | 'mlp-800-800' | 'cnn-32-64-128';
const MODELS: readonly ModelName[] = ['lenet-300-100', 'mlp-800-800', 'cnn-32-64-128'];

const { values: flags } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    models: { type: 'string' },
    seconds: { type: 'string' },
  },
});
const SECONDS = Number(flags.seconds ?? process.env.BENCH_SECONDS ?? 3);
const SELECTED = (flags.models?.split(',') ?? MODELS).map((name) => {
  const model = MODELS.find((candidate) => candidate === name.trim());
  if (model === undefined) throw new Error(`--models: unknown model "${name}"; known: ${MODELS.join(', ')}`);
  return model;
});

function buildModel(name: ModelName): tf.LayersModel {
  const common = {
    inputShape: INPUT_SHAPE,
    numClasses: 10,
    activation: 'relu',
    dropout: 0,
    seed: 1,
  } as const;
  switch (name) {
    case 'lenet-300-100':
      return buildMlp({ ...common, hidden: [300, 100] });
    case 'mlp-800-800':
      return buildMlp({ ...common, hidden: [800, 800] });
    case 'cnn-32-64-128':
      return buildCnn({
        ...common,
        filters: [32, 64],
        kernelSize: 3,
        padding: 'valid',
        pooling: 'max',
        dense: [128],
      });
  }
}

function loopConfig(examples: number): LoopConfig {
  return {
    epochs: 1,
    batchSize: BATCH,
    shuffle: true,
    schedule: {
      name: 'constant',
      learningRate: LEARNING_RATE,
      minLearningRate: 0,
      warmupSteps: 0,
      stepEvery: Math.ceil(examples / BATCH),
      stepGamma: 1,
    },
    gradientClip: 0,
    checkpointEvery: 0,
    earlyStopping: { enabled: false, monitor: 'loss', patience: 0, minDelta: 0, restoreBest: false },
    keepCheckpoints: 1,
  };
}

function firstExamples(all: SplitData, count: number): SplitData {
  const size = INPUT_SHAPE.reduce((a, b) => a * b, 1);
  return { count, x: all.x.subarray(0, count * size), y: all.y.subarray(0, count) };
}

/**
 * Trains `name` with the product's loop: a short warm-up epoch (kernels compile, buffers settle),
 * then one epoch sized to take about SECONDS; returns the loop's own samples/s (steps only).
 */
async function measureTfjs(name: ModelName, mnist: SplitData, backend: BackendInfo): Promise<number> {
  const model = buildModel(name);
  const optimizer = createOptimizer({ name: 'adam' });
  const lossFn = sparseCrossEntropyLoss(model);
  const taskDir = mkdtempSync(path.join(os.tmpdir(), 'distillery-bench-train-'));
  const run = async (count: number): Promise<number> => {
    const ctx = new FakeOpContext({ taskDir, seed: 1, backend });
    const train = firstExamples(mnist, count);
    const result = await runTrainingLoop({
      ctx,
      model,
      train,
      inputShape: INPUT_SHAPE,
      lossFn,
      optimizer,
      config: loopConfig(count),
    });
    return result.samplesPerSecond;
  };
  try {
    const warm = await run(4 * BATCH);
    const steps = Math.max(
      8,
      Math.min(Math.floor(mnist.count / BATCH), Math.round((warm * SECONDS) / BATCH)),
    );
    return await run(steps * BATCH);
  } finally {
    optimizer.dispose();
    model.dispose();
    rmSync(taskDir, { recursive: true, force: true });
  }
}

/** GFLOP/s of a 1024×1024 by 1024×1024 float32 matmul on the active backend (best of three). */
function matmulGflops(): number {
  const n = 1024;
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const once = (): void => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  try {
    once();
    let best = 0;
    for (let round = 0; round < 3; round++) {
      let count = 0;
      const start = performance.now();
      while (count < 2 || performance.now() - start < 500) {
        once();
        count++;
      }
      best = Math.max(best, (2 * n ** 3 * count) / ((performance.now() - start) / 1000) / 1e9);
    }
    return best;
  } finally {
    tf.dispose([a, b]);
  }
}

const TORCH_SCRIPT = String.raw`
import json, sys, time
import numpy as np
import torch
from torch import nn
threads, seconds, batch, samples, images_path, labels_path = sys.argv[1:7]
torch.set_num_threads(int(threads))
torch.manual_seed(1)
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
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
a @ b
blas = sorted({line.split()[-1] for line in open('/proc/self/maps') if 'blas' in line.split()[-1]})
best = 0.0
for _ in range(3):
    count, start = 0, time.perf_counter()
    while count < 2 or time.perf_counter() - start < 0.5:
        a @ b; count += 1
    best = max(best, 2 * 1024 ** 3 * count / (time.perf_counter() - start) / 1e9)
print(json.dumps({'blas': blas, 'matmulGflops': best, 'threads': torch.get_num_threads(),
                  'torch': torch.__version__}), flush=True)
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
    print(json.dumps({'model': name, 'samplesPerSecond': steps * batch / (time.perf_counter() - start)}), flush=True)
`;

interface TorchSetting {
  torchThreads: number;
  blasThreads: number;
}

interface TorchRun extends TorchSetting {
  version: string;
  blas: string[];
  matmulGflops: number;
  rates: Partial<Record<ModelName, number>>;
}

function torchAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

function measureTorch(setting: TorchSetting, models: readonly ModelName[]): TorchRun {
  const files = mnistPaths('train');
  const samples = 4096;
  const result = spawnSync(
    PYTHON,
    [
      '-c',
      TORCH_SCRIPT,
      String(setting.torchThreads),
      String(SECONDS),
      String(BATCH),
      String(samples),
      files.images,
      files.labels,
      ...models,
    ],
    {
      encoding: 'utf8',
      // OpenBLAS spawning its own threads on top of torch's oversubscribes the cores unless both
      // are set explicitly (ENGINE-NOTES).
      env: {
        ...process.env,
        OPENBLAS_NUM_THREADS: String(setting.blasThreads),
        OMP_NUM_THREADS: String(setting.torchThreads),
      },
    },
  );
  if (result.status !== 0) throw new Error(`PyTorch benchmark failed: ${result.stderr}`);
  const [first, ...lines] = result.stdout.trim().split('\n');
  const header = JSON.parse(first ?? '{}') as {
    blas?: string[];
    matmulGflops?: number;
    torch?: string;
  };
  const rates: TorchRun['rates'] = {};
  for (const line of lines) {
    const row = JSON.parse(line) as { model: ModelName; samplesPerSecond: number };
    rates[row.model] = row.samplesPerSecond;
  }
  return {
    ...setting,
    version: header.torch ?? '?',
    blas: header.blas ?? [],
    matmulGflops: header.matmulGflops ?? 0,
    rates,
  };
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((c) => (c[i] ?? '').length)));
  const line = (values: string[]): string =>
    `| ${values.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

async function main(): Promise<void> {
  tf.enableProdMode();
  const backend = await initBackend(flags.backend as BackendChoice);
  const features = backend.features;
  const threads =
    backend.name === 'wasm'
      ? `wasm threads ${String(features.threadsCount ?? 1)}, SIMD ${String(features.simd)}`
      : backend.name;
  console.log(
    `tfjs ${tf.version.tfjs}, backend ${backend.name} (${backend.package}), features ${JSON.stringify(features)}`,
  );
  for (const skipped of backend.skipped) console.log(`  skipped ${skipped.name}: ${skipped.reason}`);
  console.log(
    `batch ${BATCH}, Adam ${LEARNING_RATE}, real MNIST training images, ~${SECONDS} s per measurement, ` +
      `${os.availableParallelism()} cores\n`,
  );

  const mnist = loadMnist('train');
  const split: SplitData = { count: mnist.count, x: mnist.images, y: Int32Array.from(mnist.labels) };
  const tfjsGflops = matmulGflops();
  const cores = Math.max(2, os.availableParallelism());
  const settings: TorchSetting[] = [
    { torchThreads: 1, blasThreads: cores },
    { torchThreads: cores, blasThreads: 1 },
  ];
  const withTorch = torchAvailable();
  // Per model, tfjs then PyTorch right after it, so that both see the same machine even when
  // its load changes during the invocation.
  const tfjsRates: Partial<Record<ModelName, number>> = {};
  const torchRuns: TorchRun[] = [];
  for (const model of SELECTED) {
    tfjsRates[model] = await measureTfjs(model, split, backend);
    if (!withTorch) continue;
    settings.forEach((setting, index) => {
      const run = measureTorch(setting, [model]);
      const kept = torchRuns[index];
      if (kept === undefined) torchRuns[index] = run;
      else {
        kept.rates[model] = run.rates[model];
        kept.matmulGflops = Math.max(kept.matmulGflops, run.matmulGflops);
      }
    });
  }
  if (!withTorch) {
    console.log(`PyTorch: skipped (${PYTHON} -c "import torch" fails)\n`);
  } else {
    const first = torchRuns[0];
    console.log(`PyTorch ${first?.version ?? '?'}, BLAS loaded: ${first?.blas.join(', ') || 'none found'}`);
    if (first?.blas.some((file) => file.includes('/blas/libblas'))) {
      console.log('  (reference BLAS, not OpenBLAS: PyTorch dense layers run far below their usual speed)');
    }
    console.log('');
  }

  const setting = (run: TorchRun): string => `torch ${run.torchThreads}, OpenBLAS ${run.blasThreads}`;
  const rows: string[][] = [];
  for (const model of SELECTED) {
    rows.push([`tfjs-${backend.name}`, model, String(BATCH), threads, (tfjsRates[model] ?? 0).toFixed(0)]);
    for (const run of torchRuns) {
      rows.push(['pytorch-cpu', model, String(BATCH), setting(run), (run.rates[model] ?? 0).toFixed(0)]);
    }
  }
  printTable(['backend', 'model', 'batch', 'threads', 'samples/s'], rows);
  console.log('');

  const bestTorch = (model: ModelName): TorchRun | undefined =>
    torchRuns.reduce<TorchRun | undefined>(
      (best, run) => ((run.rates[model] ?? 0) > (best?.rates[model] ?? 0) ? run : best),
      undefined,
    );
  console.log(
    `MATMUL 1024² tfjs-${backend.name}=${tfjsGflops.toFixed(1)} GFLOP/s (${threads})` +
      torchRuns.map((run) => `, pytorch=${run.matmulGflops.toFixed(1)} GFLOP/s (${setting(run)})`).join(''),
  );
  for (const model of SELECTED) {
    const tfjs = tfjsRates[model] ?? 0;
    const torch = bestTorch(model);
    const reference = torch?.rates[model];
    const ratio = reference ? (tfjs / reference).toFixed(3) : 'n/a';
    const line =
      `RATIO model=${model} tfjs=${tfjs.toFixed(0)} pytorch=${reference?.toFixed(0) ?? 'n/a'} ratio=${ratio}` +
      (torch ? `  (backend ${backend.name}, ${threads}; pytorch best: ${setting(torch)})` : '');
    console.log(line);
  }
}

// Report failures ourselves: the wasm module's Node glue rethrows uncaught errors and prints its
// whole minified source with them.
main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
