/**
 * What each kernel of the training path is worth, in one invocation: the CPU time of a training
 * step (the product's model builders, loss and Adam; forward, gradients, update) of the three
 * bench:train models, with each kernel taken out in turn and with all of them out, against all of
 * them in. Settings alternate, several rounds, best of each, so that load changes hit them alike;
 * CPU time rather than wall time because the development machine is shared.
 *
 *   DISTILLERY_WASM_THREADS=1 npx tsx test/bench/train-kernels.ts [--models a,b] [--rounds N]
 *
 * With more threads the CPU time counts every thread (XNNPACK's idle threads spin), so run it with
 * one; the thread pool itself shows in bench:train's wall-clock figures.
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { initBackend } from '../../main/worker/backend';
import { installWasmColumnSum, uninstallWasmColumnSum } from '../../main/worker/kernels/column-sum';
import {
  installFusedOptimizerKernels,
  uninstallFusedOptimizerKernels,
} from '../../main/worker/kernels/fused-optimizer';
import { installWasmMaxPoolGrad, uninstallWasmMaxPoolGrad } from '../../main/worker/kernels/max-pool-grad';
import { installWasmZeroCopy, uninstallWasmZeroCopy } from '../../main/worker/kernels/zero-copy';
import { buildCnn } from '../../main/worker/models/cnn';
import { buildMlp } from '../../main/worker/models/mlp';
import { countCorrect, toLossOutput } from '../../main/worker/train/batches';
import { sparseCrossEntropyLoss } from '../../main/worker/train/classifier-loss';
import { createOptimizer } from '../../main/worker/train/optimizers';
import { trainableVariables } from '../../main/worker/train/weights';
import { mnistSlice } from '../helpers/train-fixtures';

const BATCH = 128;
const MODELS = ['lenet-300-100', 'mlp-800-800', 'cnn-32-64-128'] as const;
type ModelName = (typeof MODELS)[number];

const { values: flags } = parseArgs({ options: { models: { type: 'string' }, rounds: { type: 'string' } } });
const ROUNDS = Number(flags.rounds ?? 4);
const SELECTED = (flags.models?.split(',') ?? MODELS).map((name) => {
  const model = MODELS.find((candidate) => candidate === name.trim());
  if (model === undefined) throw new Error(`--models: unknown model "${name}"; known: ${MODELS.join(', ')}`);
  return model;
});

/** A kernel of this release, taken out and put back. */
interface Lever {
  name: string;
  off(): void;
  on(): void;
}

const LEVERS: Lever[] = [
  { name: 'MaxPoolGrad', off: uninstallWasmMaxPoolGrad, on: () => void installWasmMaxPoolGrad() },
  { name: 'bias Sum', off: uninstallWasmColumnSum, on: () => void installWasmColumnSum() },
  {
    name: 'fused optimiser update',
    off: uninstallFusedOptimizerKernels,
    on: () => void installFusedOptimizerKernels(),
  },
  { name: 'Identity/Cast without copies', off: uninstallWasmZeroCopy, on: () => void installWasmZeroCopy() },
];

function buildModel(name: ModelName): tf.LayersModel {
  const common = {
    inputShape: [28, 28, 1],
    numClasses: 10,
    activation: 'relu' as const,
    dropout: 0,
    seed: 1,
  };
  if (name === 'lenet-300-100') return buildMlp({ ...common, hidden: [300, 100] });
  if (name === 'mlp-800-800') return buildMlp({ ...common, hidden: [800, 800] });
  return buildCnn({
    ...common,
    filters: [32, 64],
    kernelSize: 3,
    padding: 'valid',
    pooling: 'max',
    dense: [128],
  });
}

function cpuMilliseconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

async function main(): Promise<void> {
  tf.enableProdMode();
  const backend = await initBackend('wasm');
  console.log(`backend wasm, features ${JSON.stringify(backend.features)}, ${ROUNDS} rounds, best of each`);
  const data = mnistSlice('train', 0, BATCH);
  const settings = [
    { name: 'all in', levers: [] as Lever[] },
    ...LEVERS.map((lever) => ({ name: `without ${lever.name}`, levers: [lever] })),
    { name: 'without all four', levers: LEVERS },
  ];
  for (const name of SELECTED) {
    const model = buildModel(name);
    const optimizer = createOptimizer({ name: 'adam' });
    const lossFn = sparseCrossEntropyLoss(model);
    const variables = trainableVariables(model);
    const x = tf.tensor(
      Float32Array.from(data.x, (value) => value / 255),
      [BATCH, 28, 28, 1],
    );
    const y = tf.tensor1d(data.y, 'int32');
    const step = (): void => {
      let correct: tf.Scalar | undefined;
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const out = toLossOutput(lossFn(model, x, y, true));
          correct = tf.keep(countCorrect(out.scores!, y));
          return out.loss;
        }, variables);
        optimizer.apply(
          variables,
          variables.map((variable) => grads[variable.name]!),
          1e-3,
        );
        return value;
      });
      loss.dataSync();
      correct?.dataSync();
      tf.dispose([loss, correct]);
    };
    const steps = name.startsWith('cnn') ? 6 : 25;
    for (let i = 0; i < 3; i++) step();
    const best = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const setting of settings) {
        for (const lever of setting.levers) lever.off();
        try {
          step();
          const start = cpuMilliseconds();
          for (let i = 0; i < steps; i++) step();
          const perStep = (cpuMilliseconds() - start) / steps;
          best.set(setting.name, Math.min(best.get(setting.name) ?? Infinity, perStep));
        } finally {
          for (const lever of setting.levers) lever.on();
        }
      }
    }
    const reference = best.get('all in') ?? NaN;
    console.log(name);
    for (const setting of settings) {
      const value = best.get(setting.name) ?? NaN;
      console.log(
        `  ${setting.name.padEnd(36)} ${value.toFixed(2).padStart(8)} ms/step  ${(value / reference).toFixed(2)}× of all in`,
      );
    }
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
