/**
 * The merge op end to end on real MNIST models: fine-tunes of one trained initialisation, merged by
 * every method through the op the worker runs (inputs handed over as the runner's `inputLists`),
 * plus the checkpoint set a train task keeps for LCSC, and the errors for missing or mismatched
 * inputs. In-process on the cpu backend.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { uniformAverage } from '../../main/worker/merge/combine';
import { loadModel } from '../../main/worker/models/model-file';
import type { InputRef } from '../../main/worker/protocol';
import { writeMnistSplits } from '../helpers/compress-fixtures';
import { mergeOp, trainOp } from '../helpers/ops';
import { TrainTestContext, writeBuiltModel } from '../helpers/train-fixtures';

let root: string;
let dataset: string;
let base: string;
let tuned: string[];
let wide: string;
let checkpointSet: string;
let counter = 0;

function taskDir(name: string): string {
  counter += 1;
  const dir = join(root, `${name}-${counter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function train(
  name: string,
  model: string,
  params: Record<string, unknown>,
  seed: number,
): Promise<TrainTestContext> {
  const ctx = new TrainTestContext({
    taskDir: taskDir(name),
    nodeId: name,
    seed,
    params: { batchSize: 50, ...params },
    inputs: {
      model: { kind: 'model', path: model, meta: {} },
      dataset: { kind: 'dataset', path: dataset, meta: {} },
    },
  });
  await trainOp(ctx);
  return ctx;
}

const modelRef = (path: string, versionId?: string): InputRef => ({
  kind: 'model',
  path,
  meta: versionId ? { versionId } : {},
});

function mergeContext(
  params: Record<string, unknown>,
  inputs: { models?: string[]; base?: string; checkpoints?: string; dataset?: boolean },
): TrainTestContext {
  const single: Record<string, InputRef> = {};
  if (inputs.base) single.base = modelRef(inputs.base, 'mv_base');
  if (inputs.checkpoints) single.checkpoints = modelRef(inputs.checkpoints, 'mv_set');
  if (inputs.dataset) single.dataset = { kind: 'dataset', path: dataset, meta: {} };
  return new TrainTestContext({
    taskDir: taskDir('merge'),
    nodeId: 'merge-1',
    params,
    inputs: single,
    inputLists: inputs.models
      ? { models: inputs.models.map((path, i) => modelRef(path, `mv_${i + 1}`)) }
      : {},
  });
}

async function weightsOf(dir: string): Promise<Float32Array[]> {
  const { model } = await loadModel(dir);
  const values = model.weights.map((weight) => Float32Array.from(weight.read().dataSync() as Float32Array));
  model.dispose();
  return values;
}

const weightsBytes = (dir: string) => readFileSync(join(dir, 'weights.bin'));

async function rejection(promise: Promise<unknown>): Promise<DistilleryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DistilleryError);
  return error as DistilleryError;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'distillery-merge-'));
  dataset = writeMnistSplits(join(root, 'mnist'), { train: 1000, validation: 400, test: 400 });
  const init = await writeBuiltModel(join(root, 'init'), 'mlp', { hidden: [32] }, 1);
  base = (await train('base', init, { epochs: 1, learningRate: 2e-3 }, 1)).artifacts[0]!.path;
  tuned = [];
  for (const [i, learningRate] of [1e-3, 3e-3, 1e-2, 3e-2].entries()) {
    tuned.push((await train(`tune-${i}`, base, { epochs: 1, learningRate }, 10 + i)).artifacts[0]!.path);
  }
  wide = await writeBuiltModel(join(root, 'wide'), 'mlp', { hidden: [64] }, 1);
  const kept = await train('kept', base, { epochs: 4, learningRate: 5e-3, keepCheckpoints: 3 }, 20);
  checkpointSet = kept.artifacts.find((artifact) => artifact.role === 'checkpoints')!.path;
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('merge op', () => {
  it('uniform: the mean of the models, with one lineage entry per link in link order', async () => {
    const ctx = mergeContext({ method: 'uniform' }, { models: tuned.slice(0, 3) });
    const summary = await mergeOp(ctx);
    expect(summary.models).toEqual(['models[1]', 'models[2]', 'models[3]']);
    const artifact = ctx.artifacts[0]!;
    expect(artifact).toMatchObject({
      role: 'model',
      kind: 'model',
      meta: { kind: 'classifier', architecture: 'mlp' },
    });
    const expected = uniformAverage(await Promise.all(tuned.slice(0, 3).map(weightsOf)));
    expect(await weightsOf(artifact.path)).toEqual(expected);
    const merge = artifact.meta.merge as { method: string; parents: unknown[] };
    expect(merge.method).toBe('uniform');
    expect(merge.parents).toEqual(
      [1, 2, 3].map((n) => ({
        port: 'models',
        link: n - 1,
        versionId: `mv_${n}`,
        params: { method: 'uniform', coefficient: 1 / 3 },
      })),
    );
    const { meta } = await loadModel(artifact.path);
    expect(meta).toMatchObject({ trained: true, merge: { method: 'uniform' } });
    // Without a dataset nothing is scored.
    expect(ctx.metrics).toEqual([]);
  });

  it('averaging two copies of one model returns it, byte for byte', async () => {
    const ctx = mergeContext({ method: 'uniform' }, { models: [tuned[1]!, tuned[1]!] });
    await mergeOp(ctx);
    expect(weightsBytes(ctx.artifacts[0]!.path).equals(weightsBytes(tuned[1]!))).toBe(true);
  });

  it('weighted: refuses a weight count that does not match the links, naming the param', async () => {
    const ctx = mergeContext({ method: 'weighted', weights: [1, 2] }, { models: tuned.slice(0, 3) });
    const error = await rejection(mergeOp(ctx));
    expect(error).toMatchObject({ code: 'PARAM_INVALID', details: { nodeId: 'merge-1', param: 'weights' } });
  });

  it('greedy soup: never below its best ingredient on held-out data', async () => {
    const ctx = mergeContext({ method: 'greedy-soup' }, { models: tuned, dataset: true });
    const summary = await mergeOp(ctx);
    const ingredients = summary.ingredientAccuracy as number[];
    expect(ingredients).toHaveLength(4);
    expect(summary.accuracy as number).toBeGreaterThanOrEqual(Math.max(...ingredients));
    expect(ctx.series('ingredient_accuracy')).toEqual(ingredients);
    expect(ctx.series('soup_size')).toHaveLength(4);
    const soup = summary.ingredients as string[];
    // The soup starts with the best ingredient.
    expect(soup[0]).toBe(`models[${ingredients.indexOf(Math.max(...ingredients)) + 1}]`);
    expect(ctx.artifacts[0]!.meta.metrics).toMatchObject({ val_accuracy: summary.accuracy });

    const blind = await rejection(mergeOp(mergeContext({ method: 'greedy-soup' }, { models: tuned })));
    expect(blind).toMatchObject({ code: 'MISSING_INPUT', details: { nodeId: 'merge-1', port: 'dataset' } });
  });

  it('task arithmetic: λ = 0 returns the base; it needs the base', async () => {
    const zero = mergeContext({ method: 'task-arithmetic', lambda: 0 }, { models: tuned.slice(0, 2), base });
    await mergeOp(zero);
    expect(weightsBytes(zero.artifacts[0]!.path).equals(weightsBytes(base))).toBe(true);
    const parents = (zero.artifacts[0]!.meta.merge as { parents: Array<{ port: string; params: unknown }> })
      .parents;
    expect(parents.map((parent) => parent.port)).toEqual(['models', 'models', 'base']);
    expect(parents[0]!.params).toEqual({ method: 'task-arithmetic', lambda: 0, scale: 1 });

    const chosen = mergeContext(
      { method: 'task-arithmetic', chooseLambda: true },
      { models: tuned.slice(0, 2), base, dataset: true },
    );
    const summary = await mergeOp(chosen);
    expect([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]).toContain(summary.lambda);
    expect(chosen.series('lambda_score')).toHaveLength(10);
    expect(summary.accuracy).toBe(Math.max(...chosen.series('lambda_score')));

    const noBase = await rejection(mergeOp(mergeContext({ method: 'ties' }, { models: tuned.slice(0, 2) })));
    expect(noBase).toMatchObject({ code: 'MISSING_INPUT', details: { port: 'base' } });
  });

  it('ties: merges onto the base and is scored', async () => {
    const ctx = mergeContext({ method: 'ties', topK: 20, lambda: 1 }, { models: tuned, base, dataset: true });
    const summary = await mergeOp(ctx);
    expect(summary).toMatchObject({ method: 'ties', topK: 20, lambda: 1 });
    expect(summary.accuracy as number).toBeGreaterThan(0.5);
  });

  it('refuses models of different architectures, naming the first weight that differs', async () => {
    const error = await rejection(
      mergeOp(mergeContext({ method: 'uniform' }, { models: [tuned[0]!, tuned[1]!, wide] })),
    );
    expect(error.code).toBe('INCOMPATIBLE_INPUTS');
    expect(error.message).toContain('models[3]');
    expect(error.details).toMatchObject({
      nodeId: 'merge-1',
      port: 'models',
      weight: 'hidden_1/kernel',
      expected: '[784, 32]',
      received: '[784, 64]',
    });
    const single = await rejection(mergeOp(mergeContext({ method: 'uniform' }, { models: [tuned[0]!] })));
    expect(single).toMatchObject({ code: 'MISSING_INPUT', details: { port: 'models', received: 1 } });
  });

  it('lcsc over a kept checkpoint set: deterministic for a seed, never below the best checkpoint', async () => {
    const params = { method: 'lcsc', population: 6, generations: 4, seed: 3 };
    const first = mergeContext(params, { checkpoints: checkpointSet, dataset: true });
    const summary = await mergeOp(first);
    expect(summary.models).toEqual(['checkpoints[step 40]', 'checkpoints[step 60]', 'checkpoints[step 80]']);
    const singles = summary.ingredientAccuracy as number[];
    expect(summary.accuracy as number).toBeGreaterThanOrEqual(Math.max(...singles));
    expect((summary.bestSingle as { score: number }).score).toBe(Math.max(...singles));
    expect(first.series('search_score')).toHaveLength(5);
    const again = mergeContext(params, { checkpoints: checkpointSet, dataset: true });
    const repeat = await mergeOp(again);
    expect(repeat.coefficients).toEqual(summary.coefficients);
    expect(weightsBytes(again.artifacts[0]!.path).equals(weightsBytes(first.artifacts[0]!.path))).toBe(true);
    const parents = (first.artifacts[0]!.meta.merge as { parents: unknown[] }).parents;
    expect(parents).toEqual([
      {
        port: 'checkpoints',
        link: 0,
        versionId: 'mv_set',
        params: { method: 'lcsc', steps: [40, 60, 80], coefficients: summary.coefficients },
      },
    ]);
  });
});
