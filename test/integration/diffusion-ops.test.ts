/**
 * The diffusion ops in-process on real MNIST, on the worker's wasm backend with tiny sizes:
 * model.unet → a few hundred steps of diffusion.train lower the loss (EMA, previews, diffusion.json,
 * exact checkpoints) → diffusion.sample (grid + dataset of images) → diffusion.finetune with LoRA
 * (trainable fraction, adapters kept, merged model) → diffusion.evaluate with a classifier → the
 * tfjs export read back by stock tfjs.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExporter } from '../../main/export/exporter';
import { readDataset } from '../../main/worker/data/dataset-file';
import { loadDiffusionModel } from '../../main/worker/diffusion/model-io';
import { predictNoise } from '../../main/worker/diffusion/unet';
import { directoryLoadHandler } from '../../main/worker/models/model-file';
import {
  diffusionEvaluateOp,
  diffusionFinetuneOp,
  diffusionSampleOp,
  diffusionTrainOp,
  modelUnetOp,
} from '../helpers/ops';
import type { InputRef } from '../../main/worker/protocol';
import { useWasm } from '../helpers/diffusion-fixtures';
import { TrainTestContext, writeBuiltModel, writeMnistDataset } from '../helpers/train-fixtures';

let root: string;
let mnist: string;
let unetDir: string;
let trainedDir: string;
let counter = 0;

function context(
  params: Record<string, unknown>,
  inputs: Record<string, InputRef>,
  seed = 3,
): TrainTestContext {
  counter += 1;
  return new TrainTestContext({
    taskDir: join(root, `task-${counter}`),
    params,
    inputs,
    seed,
    nodeId: `node-${counter}`,
  });
}

const dataset = (path: string): InputRef => ({ kind: 'dataset', path, meta: {} });
const modelRef = (path: string, kind = 'diffusion'): InputRef => ({ kind: 'model', path, meta: { kind } });

beforeAll(async () => {
  await useWasm();
  root = mkdtempSync(join(tmpdir(), 'distillery-diffusion-'));
  mnist = writeMnistDataset(join(root, 'mnist'), 1024);
  const ctx = context({ imageSize: 8, widths: [8, 16], timeEmbedDim: 16 }, { dataset: dataset(mnist) });
  await modelUnetOp(ctx);
  unetDir = ctx.artifacts[0]!.path;
}, 60_000);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('diffusion ops', () => {
  it('model.unet builds a class-conditional U-Net artifact of kind diffusion', async () => {
    const { model, meta, spec, schedule } = await loadDiffusionModel(unetDir);
    expect(meta).toMatchObject({
      kind: 'diffusion',
      architecture: 'unet',
      inputShape: [8, 8, 1],
      numClasses: 10,
      trained: false,
    });
    expect(spec).toEqual({ imageSize: 8, channels: 1, numClasses: 10, timeEmbedDim: 16 });
    expect(schedule).toBeUndefined();
    expect(model.inputNames).toEqual(['image', 'time', 'class']);
    model.dispose();
  });

  it('diffusion.train: 224 steps lower the loss; EMA model, previews and diffusion.json saved', async () => {
    const ctx = context(
      {
        epochs: 7,
        batchSize: 32,
        learningRate: 0.003,
        schedule: 'constant',
        noiseSchedule: 'cosine',
        timesteps: 200,
        emaDecay: 0.99,
        sampleEvery: 112,
        sampleCount: 10,
        sampleSteps: 5,
        checkpointEvery: 0,
      },
      { model: modelRef(unetDir), dataset: dataset(mnist) },
    );
    const summary = await diffusionTrainOp(ctx);
    expect(summary.steps).toBe(224);
    const losses = ctx.series('loss');
    expect(losses).toHaveLength(224);
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const first = mean(losses.slice(0, 20));
    const last = mean(losses.slice(-40));
    expect(first).toBeGreaterThan(0.5);
    expect(last).toBeLessThan(first * 0.6);
    expect(ctx.series('loss_ema').at(-1)!).toBeLessThan(first);
    expect(ctx.series('trainable_fraction')).toEqual([1]);
    // previews at steps 112 and 224 plus the final grid, all real PNGs
    expect(ctx.samples.map((s) => s.step)).toEqual([112, 224, 224]);
    for (const sample of ctx.samples)
      expect(PNG.sync.read(readFileSync(sample.path)).width).toBeGreaterThan(8);
    const artifact = ctx.artifacts[0]!;
    expect(artifact).toMatchObject({
      role: 'model',
      kind: 'model',
      meta: { kind: 'diffusion', trained: true },
    });
    trainedDir = artifact.path;
    const diffusionJson = JSON.parse(readFileSync(join(trainedDir, 'diffusion.json'), 'utf8')) as Record<
      string,
      Record<string, unknown>
    >;
    expect(diffusionJson.schedule).toMatchObject({ kind: 'cosine', timesteps: 200 });
    expect((diffusionJson.schedule!.alphasCumprod as number[]).length).toBe(200);
    expect(diffusionJson.inputs).toHaveProperty('time');
    const loaded = await loadDiffusionModel(trainedDir);
    expect(loaded.meta.diffusion.history).toEqual([
      expect.objectContaining({ op: 'diffusion.train', steps: 224 }),
    ]);
    loaded.model.dispose();
  }, 120_000);

  it('diffusion.sample writes a grid and a dataset of images in range', async () => {
    const ctx = context(
      { count: 12, steps: 10, method: 'ddim', eta: 0, guidanceScale: 2, labels: [1, 7, -1] },
      { model: modelRef(trainedDir) },
    );
    const summary = await diffusionSampleOp(ctx);
    expect(summary.count).toBe(12);
    const grid = PNG.sync.read(readFileSync(ctx.samples[0]!.path));
    expect(grid.width).toBeGreaterThan(8 * 3);
    const samples = ctx.artifacts.find((a) => a.role === 'samples')!;
    const { manifest, splits } = readDataset(samples.path);
    expect(manifest.inputShape).toEqual([8, 8, 1]);
    expect(splits.test!.count).toBe(12);
    expect(Array.from(splits.test!.y.slice(0, 3))).toEqual([1, 7, 0]);
    // Deterministic for a seed: the same params give the same bytes.
    const again = context(
      { count: 12, steps: 10, method: 'ddim', eta: 0, guidanceScale: 2, labels: [1, 7, -1] },
      { model: modelRef(trainedDir) },
    );
    await diffusionSampleOp(again);
    const bytesA = readDataset(samples.path).splits.test!.x;
    const bytesB = readDataset(again.artifacts.find((a) => a.role === 'samples')!.path).splits.test!.x;
    expect(Buffer.from(bytesB).equals(Buffer.from(bytesA))).toBe(true);
  }, 60_000);

  it('refuses an untrained U-Net and a classifier on the diffusion port with coded errors', async () => {
    await expect(
      diffusionSampleOp(context({ count: 2 }, { model: modelRef(unetDir) })),
    ).rejects.toMatchObject({
      code: 'INCOMPATIBLE_INPUTS',
      details: { port: 'model' },
    });
    await expect(
      diffusionSampleOp(context({ count: 2 }, { model: modelRef(unetDir, 'classifier') })),
    ).rejects.toMatchObject({
      code: 'PORT_TYPE_MISMATCH',
      details: { port: 'model', expected: 'diffusion-model' },
    });
  });

  it('diffusion.finetune with LoRA on one class: trainable fraction, adapters kept, merged model saved', async () => {
    const ctx = context(
      {
        method: 'lora',
        loraRank: 2,
        loraAlpha: 4,
        classes: [3],
        epochs: 2,
        batchSize: 16,
        learningRate: 0.005,
        sampleCount: 4,
        sampleSteps: 4,
      },
      { model: modelRef(trainedDir), dataset: dataset(mnist) },
    );
    const summary = await diffusionFinetuneOp(ctx);
    const before = await loadDiffusionModel(trainedDir);
    const after = await loadDiffusionModel(ctx.artifacts[0]!.path);
    const adapterParams = summary.trainableParams as number;
    expect(adapterParams).toBeGreaterThan(0);
    expect(summary.trainableFraction).toBeCloseTo(adapterParams / before.model.countParams(), 10);
    expect(summary.trainableFraction as number).toBeLessThan(0.5);
    expect(ctx.series('trainable_fraction')).toEqual([summary.trainableFraction]);
    const adapters = JSON.parse(readFileSync(join(ctx.taskDir, 'adapters', 'adapters.json'), 'utf8')) as {
      parameterCount: number;
      rank: number;
    };
    expect(adapters).toMatchObject({ parameterCount: adapterParams, rank: 2 });
    expect(ctx.artifacts[0]!.meta).toMatchObject({ kind: 'diffusion', lora: { rank: 2, merged: true } });
    // Same architecture and parameter count as the base; the merged kernels moved.
    expect(after.model.countParams()).toBe(before.model.countParams());
    const changed = tf.tidy(() =>
      before.model
        .getWeights()
        .some((w, i) => tf.max(tf.abs(tf.sub(w, after.model.getWeights()[i]!))).dataSync()[0]! > 1e-6),
    );
    expect(changed).toBe(true);
    expect(after.meta.diffusion.history.at(-1)).toMatchObject({
      op: 'diffusion.finetune',
      method: 'lora',
      classes: [3],
    });
    before.model.dispose();
    after.model.dispose();
  }, 60_000);

  it('diffusion.evaluate scores samples with rewards and a classifier', async () => {
    const classifier = await writeBuiltModel(join(root, 'classifier'), 'mlp', { hidden: [16] });
    const ctx = context(
      { count: 20, steps: 5, rewards: ['brightness', 'compressibility'], targetClass: 3 },
      { model: modelRef(trainedDir), classifier: modelRef(classifier, 'classifier') },
    );
    const evaluation = (await diffusionEvaluateOp(ctx)) as {
      classifier: { accuracy: number; perClassAccuracy: unknown[]; meanConfidence: number };
    };
    const names = new Set(ctx.metrics.map((m) => m.name));
    for (const name of [
      'reward_brightness_mean',
      'reward_compressibility_mean',
      'sample_accuracy',
      'sample_confidence',
      'reward_classifier_mean',
    ]) {
      expect(names.has(name), name).toBe(true);
    }
    expect(evaluation.classifier.perClassAccuracy).toHaveLength(10);
    expect(evaluation.classifier.meanConfidence).toBeGreaterThan(0);
    expect(existsSync(join(ctx.taskDir, 'evaluation.json'))).toBe(true);
  }, 60_000);

  it('the tfjs export carries diffusion.json and loads in stock tfjs with the same outputs', async () => {
    const outDir = join(root, 'export');
    const { files } = await getExporter('tfjs').export(trainedDir, outDir);
    expect(files).toContain('diffusion.json');
    expect(readdirSync(outDir)).toEqual(
      expect.arrayContaining(['model.json', 'diffusion.json', 'distillery.json']),
    );
    const stock = await tf.loadLayersModel(directoryLoadHandler(outDir));
    const { model, spec } = await loadDiffusionModel(trainedDir);
    const x = tf.randomNormal<tf.Rank.R4>([2, 8, 8, 1], 0, 1, 'float32', 1);
    const ours = predictNoise(model, spec, x, [5, 150], [2, -1]);
    const theirs = predictNoise(stock, spec, x, [5, 150], [2, -1]);
    expect(tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]).toBeLessThan(1e-6);
    tf.dispose([x, ours, theirs]);
    stock.dispose();
    model.dispose();
  });
});
