/**
 * The train op end to end on real MNIST: learning, cancel → checkpoint, exact resume, early
 * stopping, gradient clipping, corrupt checkpoints and tensor leaks. Runs in-process on the cpu
 * backend (tiny models, so it is fast enough and needs nothing else).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { trainNode } from '../../main/nodes/train';
import { readDataset, toFloat } from '../../main/worker/data/dataset-file';
import { loadModel } from '../../main/worker/models/model-file';
import { trainOp } from '../helpers/ops';
import { listCheckpoints } from '../../main/worker/train/checkpoint';
import type { FakeOpContextInit } from '../helpers/fake-op-context';
import {
  TrainTestContext,
  writeBuiltModel,
  writeMlpModel,
  writeMnistDataset,
  type TrainContextHooks,
} from '../helpers/train-fixtures';

let root: string;
let mnist: string; // 1000 train + 500 validation
let small: string; // 64 train, no validation
let mlp: string;
let mlpDropout: string; // our fixture: dropout layer without a seed
let builtMlp: string; // the worker's mlp builder: flatten, hidden_1, dropout_1, output
let builtCnn: string; // the worker's cnn builder, tiny
let taskCounter = 0;

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'distillery-train-'));
  mnist = writeMnistDataset(join(root, 'mnist'), 1000, 500);
  small = writeMnistDataset(join(root, 'small'), 64);
  mlp = await writeMlpModel(join(root, 'mlp'));
  mlpDropout = await writeMlpModel(join(root, 'mlp-dropout'), { dropout: 0.3 });
  builtMlp = await writeBuiltModel(join(root, 'built-mlp'), 'mlp', { hidden: [32], dropout: 0.3 });
  builtCnn = await writeBuiltModel(join(root, 'built-cnn'), 'cnn', {
    filters: [4],
    kernelSize: 3,
    dense: [16],
    dropout: 0.25,
  });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function context(
  params: Record<string, unknown>,
  model: string,
  dataset: string,
  extra: Partial<FakeOpContextInit> & TrainContextHooks = {},
): TrainTestContext {
  taskCounter += 1;
  const { onMetric, onProgress, ...init } = extra;
  return new TrainTestContext(
    {
      taskDir: join(root, `task-${taskCounter}`),
      nodeId: 'train-1',
      seed: 1234,
      params,
      inputs: {
        model: { kind: 'model', path: model, meta: {} },
        dataset: { kind: 'dataset', path: dataset, meta: {} },
      },
      ...init,
    },
    { ...(onMetric ? { onMetric } : {}), ...(onProgress ? { onProgress } : {}) },
  );
}

function weightsBytes(modelDir: string): Buffer {
  return readFileSync(join(modelDir, 'weights.bin'));
}

async function rejection(promise: Promise<unknown>): Promise<DistilleryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DistilleryError);
  return error as DistilleryError;
}

describe('train op', () => {
  it("without params trains as a user's node does: the spec's defaults (3 epochs of batches of 64)", async () => {
    const fake = context({}, mlp, small);
    const summary = await trainOp(fake);
    const defaults = trainNode.params;
    expect(defaults.epochs.default).toBe(3);
    expect(summary).toMatchObject({
      epochs: defaults.epochs.default,
      steps: defaults.epochs.default * Math.ceil(64 / defaults.batchSize.default),
    });
    expect(fake.series('epoch_loss')).toHaveLength(defaults.epochs.default);
    // No validation data and early stopping off (the default): nothing is monitored, so no warning.
    expect(fake.logs.filter((line) => line.level === 'warn')).toEqual([]);
    expect(summary.restoredBest).toBe(false);

    const stopping = context({ earlyStopping: true, epochs: 1 }, mlp, small);
    await trainOp(stopping);
    expect(stopping.logs).toContainEqual({
      level: 'warn',
      message: 'No validation data: early stopping monitors loss instead of val_loss',
    });
  });

  it('trains an MLP on 1000 MNIST images to > 80% validation accuracy, with per-step and per-epoch metrics', async () => {
    const tensorsAtEpochEnd: number[] = [];
    const before = tf.memory().numTensors;
    const fake = context({ epochs: 4, batchSize: 32, optimizer: 'adam', learningRate: 3e-3 }, mlp, mnist, {
      onMetric: (point) => {
        if (point.name === 'epoch_loss') tensorsAtEpochEnd.push(tf.memory().numTensors);
      },
    });
    const started = performance.now();
    const summary = await trainOp(fake);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `MLP 784-32-10, 1000 MNIST, 4 epochs (cpu): val_accuracy ${fake.series('val_accuracy').join(' → ')} in ${seconds.toFixed(1)} s, ${String(summary.samplesPerSecond)} samples/s`,
    );

    expect(summary.valAccuracy).toBeGreaterThan(0.8);
    expect(summary.epochs).toBe(4);
    expect(summary.steps).toBe(4 * 32);
    // Step metrics on every step, epoch metrics once per epoch, all with the epoch set.
    expect(fake.series('loss')).toHaveLength(128);
    expect(fake.series('lr').every((lr) => lr === 3e-3)).toBe(true);
    expect(fake.series('samples_per_second').every((v) => v > 0)).toBe(true);
    for (const name of ['epoch_loss', 'accuracy', 'val_loss', 'val_accuracy'])
      expect(fake.series(name)).toHaveLength(4);
    expect(
      fake.metrics.every((point) => typeof point.epoch === 'number' && point.epoch >= 1 && point.epoch <= 4),
    ).toBe(true);
    expect(fake.metrics.filter((p) => p.name === 'val_accuracy').map((p) => [p.epoch, p.step])).toEqual([
      [1, 32],
      [2, 64],
      [3, 96],
      [4, 128],
    ]);
    expect(fake.progressReports.at(-1)).toEqual({ done: 128, total: 128 });
    // Loss goes down.
    const epochLoss = fake.series('epoch_loss');
    expect(epochLoss.at(-1)!).toBeLessThan(epochLoss[0]!);

    // No tensor leak: the count is flat from epoch to epoch and back to the start afterwards.
    expect(new Set(tensorsAtEpochEnd).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(fake.logs.some((log) => log.level === 'warn')).toBe(false);

    // The trained model is saved, registered and really has that accuracy.
    const artifact = fake.artifacts[0]!;
    expect(artifact).toMatchObject({ role: 'model', kind: 'model', path: join(fake.taskDir, 'model') });
    expect(artifact.meta).toMatchObject({
      paramCount: 784 * 32 + 32 + 32 * 10 + 10,
      trained: true,
      architecture: 'mlp',
    });
    const { model, meta } = await loadModel(artifact.path);
    expect(meta.trained).toBe(true);
    const validation = readDataset(mnist).splits.validation!;
    const accuracy = tf.tidy(() => {
      const probabilities = model.predict(
        tf.tensor2d(toFloat(validation.x), [validation.count, 784]),
      ) as tf.Tensor;
      return tf
        .mean(tf.cast(tf.equal(tf.argMax(probabilities, -1), tf.tensor1d(validation.y, 'int32')), 'float32'))
        .dataSync()[0]!;
    });
    model.dispose();
    expect(accuracy).toBeCloseTo(summary.valAccuracy as number, 6);
    // Checkpoints at each epoch end (checkpointEvery 0); only the newest two are kept.
    expect(fake.checkpoints.map((c) => c.step)).toEqual([32, 64, 96, 128]);
    expect(listCheckpoints(fake.taskDir).map((c) => c.step)).toEqual([96, 128]);
  });

  const resumeCases = [
    {
      label: 'MLP, adamw + warmup-cosine + clipping',
      model: () => mlp,
      dataset: () => mnist,
      params: {
        optimizer: 'adamw',
        weightDecay: 0.01,
        schedule: 'warmup-cosine',
        warmupSteps: 5,
        gradientClip: 5,
      },
      batchSize: 50,
      cancelAt: 27,
      total: 40,
    },
    {
      label: 'MLP with dropout, adam + one-cycle',
      model: () => mlpDropout,
      dataset: () => mnist,
      params: { optimizer: 'adam', schedule: 'one-cycle' },
      batchSize: 50,
      cancelAt: 27,
      total: 40,
    },
    {
      label: 'built mlp (flatten, dropout), lion + rex',
      model: () => builtMlp,
      dataset: () => mnist,
      params: { optimizer: 'lion', learningRate: 3e-4, weightDecay: 0.1, schedule: 'rex' },
      batchSize: 50,
      cancelAt: 27,
      total: 40,
    },
    {
      label: 'built cnn, momentum + step schedule, carved validation',
      model: () => builtCnn,
      dataset: () => small,
      params: {
        optimizer: 'momentum',
        learningRate: 0.05,
        schedule: 'step',
        stepEvery: 4,
        validationSplit: 0.25,
      },
      batchSize: 8,
      cancelAt: 8,
      total: 12,
    },
  ];
  for (const { label, model, dataset, params: extra, batchSize, cancelAt, total } of resumeCases) {
    it(`cancel mid-epoch → checkpoint + TASK_CANCELLED; resume → identical weights (${label})`, async () => {
      const params = { epochs: 2, batchSize, learningRate: 2e-3, ...extra };
      const straight = context(params, model(), dataset());
      const straightSummary = await trainOp(straight);
      expect(straightSummary.steps).toBe(total);

      const cancelled = context(params, model(), dataset(), {
        onProgress: (done, _total, fake) => {
          if (done === cancelAt) fake.cancel();
        },
      });
      const error = await rejection(trainOp(cancelled));
      expect(error.code).toBe('TASK_CANCELLED');
      expect(cancelled.checkpoints.at(-1)!.step).toBe(cancelAt);
      const checkpoint = cancelled.checkpoints.at(-1)!.path;
      expect(checkpoint).toBe(join(cancelled.taskDir, 'checkpoints', `step-${cancelAt}`));
      expect(existsSync(join(checkpoint, 'loop.json'))).toBe(true);
      expect(existsSync(join(cancelled.taskDir, 'model'))).toBe(false);

      // Same task directory as the cancelled attempt, as the runner does.
      const resumed = context(params, model(), dataset(), {
        resumeFrom: checkpoint,
        taskDir: cancelled.taskDir,
      });
      const resumedSummary = await trainOp(resumed);
      expect(resumedSummary.resumedFromStep).toBe(cancelAt);
      expect(resumed.series('loss')).toHaveLength(total - cancelAt);
      const same = weightsBytes(join(resumed.taskDir, 'model')).equals(
        weightsBytes(join(straight.taskDir, 'model')),
      );
      expect(same).toBe(true);
      // The epoch figures of the interrupted epoch are the same too (running sums are checkpointed).
      expect(resumed.series('epoch_loss')).toEqual(straight.series('epoch_loss').slice(1));
      expect(resumed.series('val_accuracy')).toEqual(straight.series('val_accuracy').slice(1));
      expect(resumedSummary.finalLoss).toBe(straightSummary.finalLoss);
      // Every step loss of the two attempts together equals the uninterrupted run's.
      expect([...cancelled.series('loss'), ...resumed.series('loss')]).toEqual(straight.series('loss'));
    });
  }

  it('a different seed gives different weights (dropout and order are really seeded)', async () => {
    const params = { epochs: 1, batchSize: 100, optimizer: 'sgd', learningRate: 0.1 };
    const a = context(params, mlpDropout, mnist, { seed: 1 });
    const b = context(params, mlpDropout, mnist, { seed: 2 });
    await trainOp(a);
    await trainOp(b);
    expect(weightsBytes(join(a.taskDir, 'model')).equals(weightsBytes(join(b.taskDir, 'model')))).toBe(false);
  });

  it('early stopping stops when the monitored metric stops improving and restores the best weights', async () => {
    // minDelta 5: no later epoch can lower val_loss by 5, so epoch 1 stays best.
    const fake = context(
      {
        epochs: 10,
        batchSize: 100,
        optimizer: 'adam',
        learningRate: 3e-3,
        earlyStopping: true,
        monitor: 'val_loss',
        patience: 2,
        minDelta: 5,
        restoreBest: true,
      },
      mlp,
      mnist,
    );
    const summary = await trainOp(fake);
    expect(summary).toMatchObject({
      epochs: 3,
      steps: 30,
      stoppedEarly: true,
      bestEpoch: 1,
      restoredBest: true,
    });
    expect(fake.series('val_loss')).toHaveLength(3);
    // The saved model is the epoch-1 model: it reproduces epoch 1's validation accuracy.
    expect(summary.valAccuracy).toBe(fake.series('val_accuracy')[0]);
    const { model } = await loadModel(join(fake.taskDir, 'model'));
    const validation = readDataset(mnist).splits.validation!;
    const accuracy = tf.tidy(() => {
      const p = model.predict(tf.tensor2d(toFloat(validation.x), [validation.count, 784])) as tf.Tensor;
      return tf
        .mean(tf.cast(tf.equal(tf.argMax(p, -1), tf.tensor1d(validation.y, 'int32')), 'float32'))
        .dataSync()[0]!;
    });
    model.dispose();
    expect(accuracy).toBeCloseTo(fake.series('val_accuracy')[0]!, 6);

    // Without early stopping all epochs run; with patience but real improvement it does not stop.
    const patient = context(
      { epochs: 3, batchSize: 100, optimizer: 'adam', learningRate: 3e-3, earlyStopping: true, patience: 1 },
      mlp,
      mnist,
    );
    expect(await trainOp(patient)).toMatchObject({ epochs: 3, stoppedEarly: false, bestEpoch: 3 });
  });

  it('gradient clipping bounds the update: one SGD step moves θ by at most lr · clip', async () => {
    const initial = await loadModel(mlp);
    const before = initial.model.getWeights().map((w) => w.dataSync().slice());
    initial.model.dispose();
    const updateNorm = async (gradientClip: number): Promise<number> => {
      const fake = context(
        { epochs: 1, batchSize: 64, optimizer: 'sgd', learningRate: 1, gradientClip },
        mlp,
        small,
      );
      await trainOp(fake);
      const { model } = await loadModel(join(fake.taskDir, 'model'));
      const after = model.getWeights().map((w) => w.dataSync().slice());
      model.dispose();
      let sum = 0;
      after.forEach((values, i) => values.forEach((v, j) => (sum += (v - before[i]![j]!) ** 2)));
      return Math.sqrt(sum);
    };
    const clipped = await updateNorm(0.01);
    const free = await updateNorm(0);
    expect(clipped).toBeLessThanOrEqual(0.01 * (1 + 1e-4));
    expect(clipped).toBeGreaterThan(0.01 * 0.99); // the raw gradient is larger, so the bound is reached
    expect(free).toBeGreaterThan(0.05);
  });

  it('validationSplit carves validation data off the end of train when the dataset has none', async () => {
    const fake = context({ epochs: 1, batchSize: 16, validationSplit: 0.25, learningRate: 1e-3 }, mlp, small);
    const summary = await trainOp(fake);
    expect(summary.steps).toBe(3); // 48 train examples / 16
    expect(fake.series('val_accuracy')).toHaveLength(1);
    expect(fake.logs[0]!.message).toContain('48 train / 16 validation');
  });

  it('a corrupt or incomplete checkpoint is CHECKPOINT_INVALID naming the file', async () => {
    const params = { epochs: 1, batchSize: 16, checkpointEvery: 2 };
    const first = context(params, mlp, small);
    await trainOp(first);
    const [older, newer] = listCheckpoints(first.taskDir);
    expect([older!.step, newer!.step]).toEqual([2, 4]);

    const weightsBin = join(older!.path, 'weights.bin');
    const bytes = readFileSync(weightsBin);
    bytes[100] = bytes[100]! ^ 0xff;
    writeFileSync(weightsBin, bytes);
    const corrupt = await rejection(trainOp(context(params, mlp, small, { resumeFrom: older!.path })));
    expect(corrupt.code).toBe('CHECKPOINT_INVALID');
    expect(corrupt.details.file).toBe(weightsBin);

    unlinkSync(join(newer!.path, 'loop.json'));
    const missing = await rejection(trainOp(context(params, mlp, small, { resumeFrom: newer!.path })));
    expect(missing.code).toBe('CHECKPOINT_INVALID');
    expect(missing.details.file).toBe(join(newer!.path, 'loop.json'));

    // A checkpoint of a run with other settings does not fit.
    const other = context({ epochs: 1, batchSize: 16, checkpointEvery: 2 }, mlp, small);
    await trainOp(other);
    const mismatch = await rejection(
      trainOp(
        context({ ...params, epochs: 2 }, mlp, small, {
          resumeFrom: listCheckpoints(other.taskDir)[0]!.path,
        }),
      ),
    );
    expect(mismatch.code).toBe('CHECKPOINT_INVALID');
    expect(tf.memory().numTensors).toBe(0);
  });

  it('rejects invalid parameters naming each of them', async () => {
    const error = await rejection(trainOp(context({ optimizer: 'adagrad', batchSize: 0 }, mlp, small)));
    expect(error.code).toBe('PARAM_INVALID');
    expect(error.message).toContain('optimizer');
    expect(error.message).toContain('batchSize');
  });
});
