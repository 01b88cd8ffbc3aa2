/**
 * `npm run bench:diffusion`: diffusion quality on MNIST with the real worker ops, in-process on
 * the worker's backend (wasm here), and the wall time of each stage on this machine.
 *
 * 1. A classifier (LeNet-style CNN) trained on real MNIST: the judge. Its accuracy on real test
 *    digits passed through the same 28 → size → 28 resampling as generated ones is the reference.
 * 2. A class-conditional U-Net trained with diffusion.train on MNIST resized to size×size.
 * 3. diffusion.evaluate: the judge's accuracy on class-conditional samples (DDIM 25 steps, guidance 1 and 3).
 * 4. diffusion.ddpo on the classifier reward (unconditional prompts, target class): the target's
 *    mean probability per epoch, from its start to (the goal) ≥ 0.8.
 * 5. diffusion.ddpo on compressibility: the mean PNG size per epoch, which should fall steadily.
 * Curves are printed per epoch; a JSON summary is written to BENCH_OUT (default
 * out/bench-diffusion.json).
 *
 * Environment (defaults in brackets): BENCH_IMAGES [30000] training images, BENCH_EPOCHS [4],
 * BENCH_SIZE [16], BENCH_WIDTHS [16,32], BENCH_CLASSIFIER_IMAGES [12000], BENCH_EVAL_SAMPLES [500],
 * BENCH_TARGET [3], BENCH_DDPO_EPOCHS [30], BENCH_DDPO_LR [0.003], BENCH_COMPRESS_EPOCHS [20],
 * BENCH_STAGES [classifier,train,evaluate,ddpo-classifier,ddpo-compress]. BENCH_JUDGE and
 * BENCH_TRAINED name a classifier / diffusion model directory of an earlier run (its task folders
 * are kept) to skip training them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../main/worker/backend';
import { readDataset } from '../../main/worker/data/dataset-file';
import { resizeArea } from '../../main/worker/diffusion/images';
import { classifierProbabilities } from '../../main/worker/diffusion/rewards';
import { loadModel } from '../../main/worker/models/model-file';
import {
  datasetMnistOp,
  diffusionDdpoOp,
  diffusionEvaluateOp,
  diffusionTrainOp,
  modelCnnOp,
  modelUnetOp,
  trainOp,
} from '../helpers/ops';
import type { InputRef } from '../../main/worker/protocol';
import { FakeOpContext } from '../helpers/fake-op-context';

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && process.env[name] !== '' && process.env[name] !== undefined
    ? value
    : fallback;
};
const IMAGES = env('BENCH_IMAGES', 30_000);
const EPOCHS = env('BENCH_EPOCHS', 4);
const SIZE = env('BENCH_SIZE', 16);
const WIDTHS = JSON.parse(process.env.BENCH_WIDTHS ?? '[16,32]') as number[];
const CLASSIFIER_IMAGES = env('BENCH_CLASSIFIER_IMAGES', 12_000);
const EVAL_SAMPLES = env('BENCH_EVAL_SAMPLES', 500);
const TARGET = env('BENCH_TARGET', 3);
const DDPO_EPOCHS = env('BENCH_DDPO_EPOCHS', 30);
const DDPO_LR = env('BENCH_DDPO_LR', 0.003);
const STAGES = (process.env.BENCH_STAGES ?? 'classifier,train,evaluate,ddpo-classifier,ddpo-compress').split(
  ',',
);
const COMPRESS_EPOCHS = env('BENCH_COMPRESS_EPOCHS', 20);
const OUT = process.env.BENCH_OUT ?? join(process.cwd(), 'out', 'bench-diffusion.json');
const SEED = 2024;

const began = performance.now();
const stamp = (): string => `[${((performance.now() - began) / 1000).toFixed(0).padStart(5)} s]`;

/** A recording context that also prints the op's log lines as they come. */
class BenchContext extends FakeOpContext {
  override log(message: string, level: 'info' | 'warn' | 'error' = 'info'): void {
    super.log(message, level);
    console.log(`${stamp()} ${this.nodeId}: ${message}`);
  }

  series(name: string): number[] {
    return this.metrics.filter((m) => m.name === name).map((m) => m.value);
  }
}

const root = mkdtempSync(join(tmpdir(), 'distillery-bench-diffusion-'));
let counter = 0;
function context(
  nodeId: string,
  params: Record<string, unknown>,
  inputs: Record<string, InputRef>,
): BenchContext {
  counter += 1;
  return new BenchContext({
    taskDir: join(root, `${counter}-${nodeId}`),
    params,
    inputs,
    seed: SEED,
    nodeId,
  });
}
const data = (path: string): InputRef => ({ kind: 'dataset', path, meta: {} });
const model = (path: string, kind: 'classifier' | 'diffusion'): InputRef => ({
  kind: 'model',
  path,
  meta: { kind },
});

async function stage<T>(name: string, times: Record<string, number>, fn: () => Promise<T>): Promise<T> {
  console.log(`${stamp()} === ${name}`);
  const start = performance.now();
  const result = await fn();
  times[name] = (performance.now() - start) / 1000;
  console.log(`${stamp()} === ${name}: ${times[name].toFixed(1)} s`);
  return result;
}

const fmt = (values: number[], digits = 3): string => values.map((v) => v.toFixed(digits)).join(' ');

async function main(): Promise<void> {
  const backend = await initBackend('auto');
  console.log(
    `Backend ${backend.name} (${JSON.stringify(backend.features)}); ${IMAGES} images × ${EPOCHS} epochs at ${SIZE}×${SIZE}, U-Net widths ${JSON.stringify(WIDTHS)}`,
  );
  const times: Record<string, number> = {};
  const results: Record<string, unknown> = {
    settings: {
      IMAGES,
      EPOCHS,
      SIZE,
      WIDTHS,
      CLASSIFIER_IMAGES,
      EVAL_SAMPLES,
      TARGET,
      DDPO_EPOCHS,
      DDPO_LR,
      COMPRESS_EPOCHS,
      SEED,
      backend: backend.name,
    },
  };

  const mnist = context('data', { trainLimit: Math.max(IMAGES, CLASSIFIER_IMAGES), testLimit: 2000 }, {});
  await datasetMnistOp(mnist);
  const mnistDir = mnist.artifacts[0]!.path;

  // 1. The judge.
  const judge =
    process.env.BENCH_JUDGE ??
    (await stage('classifier', times, async () => {
      const net = context(
        'classifier-net',
        { filters: [8, 16], kernelSize: 5, dense: [64] },
        { dataset: data(mnistDir) },
      );
      await modelCnnOp(net);
      const small = context('classifier-data', { trainLimit: CLASSIFIER_IMAGES, testLimit: 2000 }, {});
      await datasetMnistOp(small);
      const fit = context(
        'classifier-fit',
        { epochs: 2, batchSize: 64, optimizer: 'adam', learningRate: 0.002 },
        { model: model(net.artifacts[0]!.path, 'classifier'), dataset: data(small.artifacts[0]!.path) },
      );
      await trainOp(fit);
      return fit.artifacts[0]!.path;
    }));
  const reference = await stage('classifier reference', times, async () => {
    // Real test digits through the same resampling as samples: 28 → SIZE (area) → 28 (bilinear).
    const { splits } = readDataset(mnistDir, ['test']);
    const test = splits.test!;
    const small = resizeArea(test.x, test.count, [28, 28, 1], SIZE, SIZE, 1 / 255);
    const { model: classifier, meta } = await loadModel(judge);
    const unit = tf.tensor4d(small, [test.count, SIZE, SIZE, 1]);
    const probs = classifierProbabilities({ model: classifier, numClasses: meta.numClasses }, unit);
    const full = tf.tensor4d(resizeArea(test.x, test.count, [28, 28, 1], 28, 28, 1 / 255), [
      test.count,
      28,
      28,
      1,
    ]);
    const probsFull = classifierProbabilities({ model: classifier, numClasses: meta.numClasses }, full);
    tf.dispose([unit, full]);
    classifier.dispose();
    const accuracy = (p: Float32Array) => {
      let correct = 0;
      for (let i = 0; i < test.count; i++) {
        let best = 0;
        for (let c = 1; c < 10; c++) if (p[i * 10 + c]! > p[i * 10 + best]!) best = c;
        if (best === test.y[i]) correct += 1;
      }
      return correct / test.count;
    };
    return { realAccuracy28: accuracy(probsFull), realAccuracyResampled: accuracy(probs), count: test.count };
  });
  console.log(
    `Judge accuracy on ${reference.count} real test digits: ${reference.realAccuracy28.toFixed(4)} at 28×28, ${reference.realAccuracyResampled.toFixed(4)} after 28→${SIZE}→28`,
  );
  results.classifier = reference;

  // 2. Diffusion training.
  const trained =
    process.env.BENCH_TRAINED ??
    (await stage('diffusion.train', times, async () => {
      const unet = context(
        'unet',
        { imageSize: SIZE, widths: WIDTHS, timeEmbedDim: 32 },
        { dataset: data(mnistDir) },
      );
      await modelUnetOp(unet);
      const trainData = context('train-data', { trainLimit: IMAGES, testLimit: 100 }, {});
      await datasetMnistOp(trainData);
      const fit = context(
        'fit',
        {
          epochs: EPOCHS,
          batchSize: 64,
          learningRate: 0.002,
          schedule: 'warmup-cosine',
          warmupSteps: 200,
          noiseSchedule: 'cosine',
          timesteps: 1000,
          emaDecay: 0.995,
          sampleCount: 0,
          gradientClip: 1,
        },
        { model: model(unet.artifacts[0]!.path, 'diffusion'), dataset: data(trainData.artifacts[0]!.path) },
      );
      const summary = await diffusionTrainOp(fit);
      const perEpoch = fit.series('epoch_loss');
      console.log(`loss per epoch: ${fmt(perEpoch, 4)}; ${String(summary.samplesPerSecond)} samples/s`);
      results.train = {
        lossPerEpoch: perEpoch,
        samplesPerSecond: summary.samplesPerSecond,
        steps: summary.steps,
        params: unet.artifacts[0]!.meta.paramCount,
      };
      return fit.artifacts[0]!.path;
    }));

  // 3. Class-conditional accuracy of samples.
  if (STAGES.includes('evaluate'))
    await stage('diffusion.evaluate', times, async () => {
      for (const guidanceScale of [1, 3]) {
        const evaluate = context(
          'evaluate',
          {
            count: EVAL_SAMPLES,
            steps: 25,
            method: 'ddim',
            eta: 0,
            guidanceScale,
            rewards: ['compressibility'],
            batchSize: 100,
          },
          { model: model(trained, 'diffusion'), classifier: model(judge, 'classifier') },
        );
        const evaluation = (await diffusionEvaluateOp(evaluate)) as {
          classifier: { accuracy: number; meanConfidence: number; perClassAccuracy: number[] };
        };
        console.log(
          `guidance ${guidanceScale}: class-conditional accuracy ${evaluation.classifier.accuracy.toFixed(4)} (confidence ${evaluation.classifier.meanConfidence.toFixed(3)}); per class ${fmt(evaluation.classifier.perClassAccuracy, 2)}`,
        );
        results[`evaluate_w${guidanceScale}`] = {
          accuracy: evaluation.classifier.accuracy,
          meanConfidence: evaluation.classifier.meanConfidence,
          perClassAccuracy: evaluation.classifier.perClassAccuracy,
          grid: join(evaluate.taskDir, 'samples.png'),
        };
      }
    });

  // 4. DDPO on the classifier reward.
  if (STAGES.includes('ddpo-classifier'))
    await stage('diffusion.ddpo classifier', times, async () => {
      const ddpo = context(
        'ddpo-classifier',
        {
          reward: 'classifier',
          targetClass: TARGET,
          algorithm: 'ddpo-is',
          epochs: DDPO_EPOCHS,
          samplesPerEpoch: 32,
          trainBatchSize: 32,
          innerEpochs: 1,
          sampleSteps: 20,
          eta: 1,
          promptClasses: [-1],
          method: 'lora',
          loraRank: 8,
          loraAlpha: 16,
          learningRate: DDPO_LR,
          clipRange: 0.0001,
          reportKl: true,
        },
        { model: model(trained, 'diffusion'), reward_model: model(judge, 'classifier') },
      );
      const summary = await diffusionDdpoOp(ddpo);
      const curve = ddpo.series('reward_mean');
      console.log(`p(class ${TARGET}) per epoch: ${fmt(curve)}`);
      console.log(`KL to base per epoch: ${fmt(ddpo.series('kl_to_base'), 4)}`);
      results.ddpoClassifier = {
        curve,
        klToBase: ddpo.series('kl_to_base'),
        weightDrift: ddpo.series('weight_drift'),
        finalSamples: summary.rewardFinalSamples,
        grid: join(ddpo.taskDir, 'samples', 'final.png'),
      };
    });

  // 5. DDPO on compressibility.
  if (STAGES.includes('ddpo-compress'))
    await stage('diffusion.ddpo compressibility', times, async () => {
      const ddpo = context(
        'ddpo-compress',
        {
          reward: 'compressibility',
          algorithm: 'ddpo-is',
          epochs: COMPRESS_EPOCHS,
          samplesPerEpoch: 32,
          trainBatchSize: 32,
          sampleSteps: 20,
          eta: 1,
          promptClasses: [-1],
          method: 'lora',
          loraRank: 8,
          loraAlpha: 16,
          learningRate: DDPO_LR,
          clipRange: 0.0001,
        },
        { model: model(trained, 'diffusion') },
      );
      const summary = await diffusionDdpoOp(ddpo);
      const bytes = ddpo.series('reward_mean').map((kb) => -kb * 1000);
      console.log(`mean PNG bytes per epoch: ${fmt(bytes, 1)}`);
      results.ddpoCompressibility = {
        meanPngBytes: bytes,
        finalSamplesBytes: -(summary.rewardFinalSamples as number) * 1000,
        grid: join(ddpo.taskDir, 'samples', 'final.png'),
      };
    });

  times.total = (performance.now() - began) / 1000;
  results.seconds = times;
  console.log(
    `Wall time: ${Object.entries(times)
      .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
      .join(', ')}`,
  );
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(results, null, 2));
  console.log(`Results: ${OUT} (task folders kept in ${root}; BENCH_KEEP=0 removes them)`);
  if (process.env.BENCH_KEEP === '0') rmSync(root, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
