/**
 * Checkpoint averaging, kept checkpoints and input jitter in the real train and distill ops on
 * MNIST: the outputs they add (`raw`, `checkpoints`), and a cancelled task resumed from its
 * checkpoint ending with the same averaged model, raw weights and checkpoint set, byte for byte, as
 * the uninterrupted run. In-process on the cpu backend.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { writeDataset } from '../../main/worker/data/dataset-file';
import type { FakeOpContext, FakeOpContextInit } from '../helpers/fake-op-context';
import { writeMnistSplits } from '../helpers/compress-fixtures';
import { distillOp, trainOp } from '../helpers/ops';
import { TrainTestContext, writeBuiltModel, type TrainContextHooks } from '../helpers/train-fixtures';
import type { OpSummary } from '../../main/worker/context';

let root: string;
let dataset: string; // 500 train / 200 validation
let student: string;
let teacher: string;
let counter = 0;

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'distillery-averaging-'));
  dataset = writeMnistSplits(join(root, 'mnist'), { train: 500, validation: 200 });
  student = await writeBuiltModel(join(root, 'student'), 'mlp', { hidden: [24], dropout: 0.2 }, 3);
  teacher = await writeBuiltModel(join(root, 'teacher-init'), 'mlp', { hidden: [48] }, 4);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function context(
  inputs: Record<string, string>,
  params: Record<string, unknown>,
  extra: Partial<FakeOpContextInit> & TrainContextHooks = {},
): TrainTestContext {
  counter += 1;
  const { onProgress, ...init } = extra;
  return new TrainTestContext(
    {
      taskDir: join(root, `task-${counter}`),
      nodeId: 'fit',
      seed: 77,
      params,
      inputs: Object.fromEntries(
        Object.entries(inputs).map(([port, path]) => [
          port,
          { kind: port === 'dataset' ? 'dataset' : 'model', path, meta: {} },
        ]),
      ),
      ...init,
    },
    onProgress ? { onProgress } : {},
  );
}

const bytes = (dir: string, file = 'weights.bin') => readFileSync(join(dir, file));
const artifact = (ctx: FakeOpContext, role: string) => ctx.artifacts.find((a) => a.role === role);

async function rejection(promise: Promise<unknown>): Promise<DistilleryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DistilleryError);
  return error as DistilleryError;
}

/** The files of a checkpoint set's directory with their contents. */
function setFiles(dir: string): Record<string, Buffer> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((name) => name.endsWith('.bin') || name === 'checkpoint-set.json')
      .sort()
      .map((name) => [name, bytes(dir, name)]),
  );
}

const cases: Array<{
  label: string;
  op: (ctx: FakeOpContext) => Promise<OpSummary>;
  inputs: () => Record<string, string>;
  params: Record<string, unknown>;
  roles: string[];
  cancelAt: number;
}> = [
  {
    label: 'train, SWA from epoch 2, 2 kept checkpoints',
    op: trainOp,
    inputs: () => ({ model: student, dataset }),
    params: { average: 'swa', averageStart: 2, keepCheckpoints: 2 },
    roles: ['checkpoints', 'raw', 'model'],
    // After the first epoch end that SWA folds in: the resumed attempt needs the saved average.
    cancelAt: 24,
  },
  {
    label: 'train, EMA with jittered inputs, checkpoints every 4 steps',
    op: trainOp,
    inputs: () => ({ model: student, dataset }),
    params: {
      average: 'ema',
      averageDecay: 0.9,
      augment: 'translate',
      checkpointEvery: 4,
      keepCheckpoints: 3,
    },
    roles: ['checkpoints', 'raw', 'model'],
    cancelAt: 18,
  },
  {
    label: 'distill, EMA with jittered inputs (the teacher sees the same jitter)',
    op: distillOp,
    inputs: () => ({ teacher, student, dataset }),
    params: { average: 'ema', averageDecay: 0.8, augment: 'translate', temperature: 4 },
    roles: ['raw', 'model'],
    cancelAt: 13,
  },
];

describe('averaging, kept checkpoints and jitter in training', () => {
  for (const { label, op, inputs, params: extra, roles, cancelAt } of cases) {
    it(`cancel → resume ends with the same outputs, byte for byte (${label})`, async () => {
      const params = { epochs: 3, batchSize: 50, learningRate: 3e-3, ...extra };
      const straight = context(inputs(), params);
      const summary = await op(straight);
      expect(straight.artifacts.map((a) => a.role)).toEqual(roles);
      const model = artifact(straight, 'model')!;
      const raw = artifact(straight, 'raw')!;
      expect(model.path).toBe(join(straight.taskDir, 'model'));
      expect(raw.path).toBe(join(straight.taskDir, 'raw'));
      // The average is not the final weights, and says how it was made.
      expect(bytes(model.path).equals(bytes(raw.path))).toBe(false);
      expect(model.meta.averaging).toMatchObject({ method: extra.average });
      expect(summary.average).toMatchObject({ method: extra.average });
      expect(straight.series('averaged_val_accuracy')).toHaveLength(1);
      expect(model.meta.metrics).toMatchObject({ val_accuracy: straight.series('averaged_val_accuracy')[0] });

      const cancelled = context(inputs(), params, {
        onProgress: (done, _total, fake) => {
          if (done === cancelAt) fake.cancel();
        },
      });
      expect((await rejection(op(cancelled))).code).toBe('TASK_CANCELLED');
      expect(existsSync(join(cancelled.taskDir, 'model'))).toBe(false);
      const resumed = context(inputs(), params, {
        resumeFrom: cancelled.checkpoints.at(-1)!.path,
        taskDir: cancelled.taskDir,
      });
      const again = await op(resumed);
      expect(again.resumedFromStep).toBe(cancelAt);
      for (const role of ['model', 'raw']) {
        expect({
          role,
          same: bytes(artifact(resumed, role)!.path).equals(bytes(artifact(straight, role)!.path)),
        }).toEqual({
          role,
          same: true,
        });
      }
      expect(again.average).toEqual(summary.average);
      const set = artifact(straight, 'checkpoints');
      if (set) {
        expect(setFiles(artifact(resumed, 'checkpoints')!.path)).toEqual(setFiles(set.path));
        expect(again.checkpoints).toEqual(summary.checkpoints);
      }
    });
  }

  it('keeps the last N scheduled checkpoints; SWA counts one epoch end per epoch from averageStart', async () => {
    const ctx = context(
      { model: student, dataset },
      { epochs: 3, batchSize: 50, average: 'swa', averageStart: 2, keepCheckpoints: 2 },
    );
    const summary = await trainOp(ctx);
    expect(summary.checkpoints).toEqual([20, 30]);
    expect(artifact(ctx, 'checkpoints')!.meta.checkpointSet).toEqual({ count: 2, steps: [20, 30] });
    expect(
      readdirSync(artifact(ctx, 'checkpoints')!.path)
        .filter((name) => name.startsWith('step-'))
        .sort(),
    ).toEqual(['step-20.bin', 'step-30.bin']);
    expect(summary.average).toMatchObject({ method: 'swa', start: 2, count: 2 });
  });

  it('without averaging or kept checkpoints, train makes only its model, as before', async () => {
    const ctx = context({ model: student, dataset }, { epochs: 1, batchSize: 50 });
    const summary = await trainOp(ctx);
    expect(ctx.artifacts.map((a) => a.role)).toEqual(['model']);
    expect(summary.average).toBeUndefined();
    expect(existsSync(join(ctx.taskDir, 'raw'))).toBe(false);
  });

  it('refuses to jitter data that are not images, naming the node and param', async () => {
    const table = join(root, 'table');
    writeDataset(
      table,
      { name: 'table', inputShape: [784], numClasses: 10, classNames: [...'0123456789'], image: false },
      {
        train: { count: 10, x: new Float32Array(7840), y: Int32Array.from({ length: 10 }, (_, i) => i) },
      },
    );
    const error = await rejection(
      trainOp(context({ model: student, dataset: table }, { epochs: 1, augment: 'translate' })),
    );
    expect(error).toMatchObject({
      code: 'INCOMPATIBLE_INPUTS',
      details: { nodeId: 'fit', param: 'augment' },
    });
  });
});
