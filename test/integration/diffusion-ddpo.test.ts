/**
 * diffusion.ddpo in-process on the wasm backend with tiny sizes: a short run on the brightness
 * reward raises the mean reward (DDPO-IS and DDPO-SF, full weights and LoRA), the classifier reward
 * reads a classifier on the reward_model port, and a cancelled run resumes to the same result.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { loadDiffusionModel } from '../../main/worker/diffusion/model-io';
import type { DdpoEpoch } from '../../main/worker/diffusion/ddpo-epochs';
import { diffusionDdpoOp, diffusionTrainOp, modelUnetOp } from '../helpers/ops';
import { latestCheckpoint } from '../../main/worker/train/checkpoint';
import type { InputRef } from '../../main/worker/protocol';
import { useWasm } from '../helpers/diffusion-fixtures';
import { TrainTestContext, writeBuiltModel, writeMnistDataset } from '../helpers/train-fixtures';

let root: string;
let trained: string;
let counter = 0;

function context(
  params: Record<string, unknown>,
  inputs: Record<string, InputRef>,
  extra: { resumeFrom?: string; onMetric?: (name: string, ctx: TrainTestContext) => void } = {},
): TrainTestContext {
  counter += 1;
  return new TrainTestContext(
    {
      taskDir: join(root, `task-${counter}`),
      params,
      inputs,
      seed: 17,
      nodeId: `ddpo-${counter}`,
      ...(extra.resumeFrom ? { resumeFrom: extra.resumeFrom } : {}),
    },
    extra.onMetric ? { onMetric: (point, ctx) => extra.onMetric!(point.name, ctx) } : {},
  );
}

const model = (path: string, kind = 'diffusion'): InputRef => ({ kind: 'model', path, meta: { kind } });

const SMALL = { samplesPerEpoch: 16, trainBatchSize: 8, sampleSteps: 6, sampleEvery: 0, reportKl: true };

beforeAll(async () => {
  await useWasm();
  root = mkdtempSync(join(tmpdir(), 'distillery-ddpo-'));
  const mnist = writeMnistDataset(join(root, 'mnist'), 256);
  const unet = context(
    { imageSize: 8, widths: [8, 16], timeEmbedDim: 16 },
    { dataset: { kind: 'dataset', path: mnist, meta: {} } },
  );
  await modelUnetOp(unet);
  const fit = context(
    { epochs: 2, batchSize: 32, learningRate: 0.003, schedule: 'constant', timesteps: 100, sampleCount: 0 },
    { model: model(unet.artifacts[0]!.path), dataset: { kind: 'dataset', path: mnist, meta: {} } },
  );
  await diffusionTrainOp(fit);
  trained = fit.artifacts[0]!.path;
}, 60_000);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const rewardCurve = (ctx: TrainTestContext) => ctx.series('reward_mean');
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe('diffusion.ddpo', () => {
  it('DDPO-IS with full weights on brightness raises the mean reward and reports KL and drift', async () => {
    const ctx = context(
      {
        ...SMALL,
        reward: 'brightness',
        algorithm: 'ddpo-is',
        method: 'full',
        epochs: 8,
        learningRate: 0.002,
        clipRange: 0.2,
        innerEpochs: 2,
      },
      { model: model(trained) },
    );
    const summary = await diffusionDdpoOp(ctx);
    const curve = rewardCurve(ctx);
    expect(curve).toHaveLength(8);
    expect(mean(curve.slice(-2))).toBeGreaterThan(curve[0]! + 0.05);
    expect(summary.rewardEnd as number).toBeGreaterThan(summary.rewardStart as number);
    const kl = ctx.series('kl_to_base');
    expect(kl[0]).toBe(0); // the first epoch samples with the starting weights
    expect(kl.at(-1)!).toBeGreaterThan(0);
    expect(ctx.series('weight_drift').at(-1)!).toBeGreaterThan(0);
    expect(ctx.series('approx_kl').every((v) => v >= 0 && Number.isFinite(v))).toBe(true);
    for (const name of ['reward_std', 'reward_min', 'reward_max', 'clip_fraction', 'loss'])
      expect(ctx.series(name)).toHaveLength(8);
    expect(ctx.artifacts[0]!.meta).toMatchObject({
      kind: 'diffusion',
      description: 'DDPO-IS on brightness reward, 8 epochs, full weights',
    });
    const saved = await loadDiffusionModel(ctx.artifacts[0]!.path);
    expect(saved.meta.diffusion.history.at(-1)).toMatchObject({
      op: 'diffusion.ddpo',
      algorithm: 'ddpo-is',
      reward: 'brightness',
    });
    saved.model.dispose();
  }, 60_000);

  it('DDPO-SF with LoRA on brightness raises the mean reward; adapters are merged', async () => {
    const ctx = context(
      {
        ...SMALL,
        reward: 'brightness',
        algorithm: 'ddpo-sf',
        method: 'lora',
        loraRank: 4,
        loraAlpha: 8,
        epochs: 8,
        learningRate: 0.01,
        promptClasses: [-1, 3],
        advantageNormalization: 'per-class',
      },
      { model: model(trained) },
    );
    const summary = await diffusionDdpoOp(ctx);
    const curve = rewardCurve(ctx);
    expect(mean(curve.slice(-2))).toBeGreaterThan(curve[0]! + 0.05);
    expect(ctx.series('reward_mean_class_3')).toHaveLength(8);
    expect(ctx.series('reward_mean_class_null')).toHaveLength(8);
    expect(summary.trainableFraction as number).toBeLessThan(0.5);
    expect(ctx.artifacts[0]!.meta).toMatchObject({ lora: { rank: 4, merged: true } });
  }, 60_000);

  it('the classifier reward needs a classifier on reward_model and scores p(targetClass)', async () => {
    await expect(
      diffusionDdpoOp(context({ ...SMALL, reward: 'classifier', epochs: 1 }, { model: model(trained) })),
    ).rejects.toMatchObject({
      code: 'MISSING_INPUT',
      details: { port: 'reward_model' },
    });
    const classifier = await writeBuiltModel(join(root, 'classifier'), 'mlp', { hidden: [16] });
    const ctx = context(
      { ...SMALL, reward: 'classifier', targetClass: 3, epochs: 2, reportKl: false },
      { model: model(trained), reward_model: model(classifier, 'classifier') },
    );
    await diffusionDdpoOp(ctx);
    const rewards = rewardCurve(ctx);
    expect(rewards).toHaveLength(2);
    expect(rewards.every((r) => r > 0 && r < 1)).toBe(true);
    expect(ctx.series('kl_to_base')).toEqual([]);
  }, 60_000);

  it('a cancelled run resumes from its checkpoint to the same reward curve as an uninterrupted one', async () => {
    const params = {
      ...SMALL,
      reward: 'compressibility',
      method: 'lora',
      epochs: 4,
      learningRate: 0.003,
      reportKl: false,
    };
    const reference = context(params, { model: model(trained) });
    await diffusionDdpoOp(reference);

    const interrupted = context(
      params,
      { model: model(trained) },
      {
        onMetric: (name, ctx) => {
          if (name === 'reward_mean' && ctx.series('reward_mean').length === 2) ctx.cancel();
        },
      },
    );
    const error = await diffusionDdpoOp(interrupted).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DistilleryError);
    expect((error as DistilleryError).code).toBe('TASK_CANCELLED');
    const checkpoint = latestCheckpoint(interrupted.taskDir)!;
    expect(checkpoint).toBeDefined();

    const resumed = new TrainTestContext({
      taskDir: interrupted.taskDir,
      params,
      inputs: { model: model(trained) },
      seed: 17,
      nodeId: 'ddpo-resumed',
      resumeFrom: checkpoint,
    });
    const summary = (await diffusionDdpoOp(resumed)) as { rewardCurve: number[] };
    expect(rewardCurve(resumed)).toHaveLength(2);
    const expected = rewardCurve(reference);
    expect(summary.rewardCurve).toHaveLength(4);
    summary.rewardCurve.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
    const history = (await import('node:fs')).readFileSync(
      join(resumed.taskDir, 'ddpo-history.json'),
      'utf8',
    );
    expect((JSON.parse(history) as { history: DdpoEpoch[] }).history).toHaveLength(4);
  }, 60_000);
});
