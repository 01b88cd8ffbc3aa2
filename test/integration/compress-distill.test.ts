/**
 * The distill op on real MNIST subsets, in-process on wasm: with α = 1 and T = 1 a student of the
 * teacher's architecture converges to the teacher's predictions; the usual settings (T = 4,
 * α = 0.7) and teacher-only distillation train a smaller student; metrics, artifact and coded
 * errors for mismatched inputs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { initBackend } from '../../main/worker/backend';
import { predictClasses, agreement } from '../../main/worker/compress/op-support';
import { readDataset } from '../../main/worker/data/dataset-file';
import { loadModel, saveModel } from '../../main/worker/models/model-file';
import { buildMlp } from '../../main/worker/models/mlp';
import { distillOp } from '../helpers/ops';
import { listCheckpoints } from '../../main/worker/train/checkpoint';
import { opContext, trainedMlp, writeMnistSplits } from '../helpers/compress-fixtures';
import { TrainTestContext, writeBuiltModel } from '../helpers/train-fixtures';

let root: string;
let dataset: string;
let teacher: string;

beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'distillery-distill-'));
  dataset = writeMnistSplits(join(root, 'mnist'), { train: 2000, validation: 500, test: 1000 });
  teacher = await trainedMlp(root, 'teacher', dataset, { hidden: [128], epochs: 4 });
}, 120_000);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function inputs(student: string, teacherDir = teacher, data = dataset) {
  return {
    teacher: { kind: 'model' as const, path: teacherDir },
    student: { kind: 'model' as const, path: student },
    dataset: { kind: 'dataset' as const, path: data },
  };
}

async function testAgreement(
  studentDir: string,
  teacherDir: string,
): Promise<{ agreement: number; accuracy: number }> {
  const test = readDataset(dataset, ['test']).splits.test!;
  const a = await loadModel(studentDir);
  const b = await loadModel(teacherDir);
  const studentClasses = predictClasses(a.model, test, [28, 28, 1]);
  const teacherClasses = predictClasses(b.model, test, [28, 28, 1]);
  a.model.dispose();
  b.model.dispose();
  let correct = 0;
  studentClasses.forEach((c, i) => (correct += c === test.y[i] ? 1 : 0));
  return { agreement: agreement(studentClasses, teacherClasses), accuracy: correct / test.count };
}

describe('distill op', () => {
  it('α = 1, T = 1, same architecture: the student converges to the teacher’s predictions (agreement ≥ 95%)', async () => {
    const student = await writeBuiltModel(join(root, 'same-arch'), 'mlp', { hidden: [128] }, 99);
    const ctx = opContext(
      root,
      'kd-same',
      { temperature: 1, alpha: 1, epochs: 10, batchSize: 32, learningRate: 3e-3, schedule: 'cosine' },
      inputs(student),
    );
    const summary = await distillOp(ctx);
    const out = ctx.artifacts[0]!;
    const held = await testAgreement(out.path, teacher);
    console.log(
      `distill α=1 T=1 same arch: train agreement ${ctx
        .series('agreement')
        .map((v) => v.toFixed(3))
        .join(' → ')}, ` +
        `test agreement ${held.agreement.toFixed(3)}, test accuracy ${held.accuracy.toFixed(3)}`,
    );
    expect(summary.agreement as number).toBeGreaterThanOrEqual(0.95);
    expect(held.agreement).toBeGreaterThanOrEqual(0.95);
    // Per-epoch metrics the issue asks for, one per epoch.
    for (const name of [
      'accuracy',
      'agreement',
      'soft_loss',
      'hard_loss',
      'val_accuracy',
      'val_agreement',
      'epoch_loss',
    ]) {
      expect(ctx.series(name), name).toHaveLength(10);
    }
    // α = 1: the loss is the soft term.
    expect(ctx.series('epoch_loss').at(-1)!).toBeCloseTo(ctx.series('soft_loss').at(-1)!, 5);
    expect(out.meta).toMatchObject({
      kind: 'classifier',
      architecture: 'mlp',
      trained: true,
      paramCount: 784 * 128 + 128 + 1290,
      distillation: { temperature: 1, alpha: 1, labels: 'dataset' },
    });
  }, 90_000);

  it('T = 4, α = 0.7 trains a smaller student; teacher-only distillation (labels "none") too', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const results: Record<string, number> = {};
    for (const labels of ['dataset', 'none'] as const) {
      const student = await writeBuiltModel(join(root, `small-${labels}`), 'mlp', { hidden: [32] }, 5);
      const ctx = opContext(
        root,
        `kd-${labels}`,
        { temperature: 4, alpha: 0.7, labels, epochs: 3, batchSize: 32, learningRate: 3e-3 },
        inputs(student),
      );
      const summary = await distillOp(ctx);
      results[labels] = (await testAgreement(ctx.artifacts[0]!.path, teacher)).accuracy;
      expect(summary.labels).toBe(labels);
      expect(ctx.series('soft_loss').at(-1)!).toBeLessThan(ctx.series('soft_loss')[0]!);
      expect(ctx.logs.some((log) => log.level === 'warn')).toBe(false);
    }
    console.log(
      `distilled 784-32-10 test accuracy: labels ${results.dataset?.toFixed(3)}, teacher-only ${results.none?.toFixed(3)}`,
    );
    expect(results.dataset!).toBeGreaterThan(0.8);
    expect(results.none!).toBeGreaterThan(0.8);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  }, 90_000);

  it('a cancelled distillation resumes from its checkpoint to the same weights and epoch figures', async () => {
    const student = await writeBuiltModel(join(root, 'resume-student'), 'mlp', { hidden: [32] }, 8);
    const params = { epochs: 2, batchSize: 100, checkpointEvery: 7, temperature: 4, alpha: 0.7 };
    const reference = opContext(root, 'kd-ref', params, inputs(student));
    await distillOp(reference);
    const taskDir = join(root, 'kd-resume');
    const interrupted = new TrainTestContext(
      { taskDir, nodeId: 'kd-resume', seed: 7, params, inputs: { ...reference.inputs } },
      { onProgress: (done, _total, ctx) => done === 28 && ctx.cancel() },
    );
    await expect(distillOp(interrupted)).rejects.toMatchObject({ code: 'TASK_CANCELLED' });
    const checkpoint = listCheckpoints(taskDir).at(-1)!;
    expect(checkpoint.step).toBe(28); // mid-epoch 2
    const resumed = new TrainTestContext({
      taskDir,
      nodeId: 'kd-resume',
      seed: 7,
      params,
      inputs: { ...reference.inputs },
      resumeFrom: checkpoint.path,
    });
    await distillOp(resumed);
    const a = readFileSync(join(reference.artifacts[0]!.path, 'weights.bin'));
    const b = readFileSync(join(resumed.artifacts[0]!.path, 'weights.bin'));
    expect(b.equals(a)).toBe(true);
    // The epoch's running sums were checkpointed too: epoch 2's figures match.
    for (const name of ['accuracy', 'agreement', 'soft_loss', 'hard_loss']) {
      expect(resumed.series(name)).toEqual(reference.series(name).slice(1));
    }
  }, 60_000);

  it('refuses a student whose class count differs from the teacher’s, naming node and port', async () => {
    const five = buildMlp({
      inputShape: [28, 28, 1],
      numClasses: 5,
      hidden: [8],
      activation: 'relu',
      dropout: 0,
      seed: 1,
    });
    const dir = join(root, 'five-classes');
    await saveModel(five, dir, {
      format: 1,
      kind: 'classifier',
      architecture: 'mlp',
      architectureParams: { hidden: [8] },
      inputShape: [28, 28, 1],
      numClasses: 5,
      classNames: ['a', 'b', 'c', 'd', 'e'],
      trained: false,
    });
    five.dispose();
    const ctx = opContext(root, 'kd-mismatch', { epochs: 1 }, inputs(dir));
    const error = await distillOp(ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DistilleryError);
    expect(error).toMatchObject({
      code: 'INCOMPATIBLE_INPUTS',
      details: { nodeId: 'kd-mismatch', port: 'student', received: 5 },
    });
    expect((error as Error).message).toMatch(/Node "kd-mismatch": the student has 5 classes, the teacher 10/);
  });

  it('refuses a diffusion model on the teacher port and a missing input, naming node and port', async () => {
    const student = await writeBuiltModel(join(root, 'any-student'), 'mlp', { hidden: [8] }, 3);
    const diffusion = opContext(
      root,
      'kd-diffusion',
      {},
      {
        ...inputs(student),
        teacher: { kind: 'model', path: teacher, meta: { kind: 'diffusion' } },
      },
    );
    await expect(distillOp(diffusion)).rejects.toMatchObject({
      code: 'PORT_TYPE_MISMATCH',
      details: { nodeId: 'kd-diffusion', port: 'teacher' },
    });
    const withoutTeacher = { student: inputs(student).student, dataset: inputs(student).dataset };
    await expect(distillOp(opContext(root, 'kd-missing', {}, withoutTeacher))).rejects.toMatchObject({
      code: 'MISSING_INPUT',
      details: { nodeId: 'kd-missing', port: 'teacher' },
    });
  });
});
