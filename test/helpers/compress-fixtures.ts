/**
 * Fixtures for the compression ops' tests: an MNIST dataset directory with train / validation /
 * test splits (real images), teacher and student models trained by the real `train` op, and a
 * fake op context wired to given inputs, and `thrown` for asserting on errors.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SplitData } from '../../main/worker/data/dataset-file';
import { trainOp } from './ops';
import { mnistSlice, TrainTestContext, writeBuiltModel, writeMnistSplitsAs } from './train-fixtures';

/**
 * `train` images from the start of the MNIST training file, `validation` the next ones, and `test`
 * from the start of the t10k file.
 */
export function writeMnistSplits(
  dir: string,
  counts: { train: number; validation?: number; test?: number },
): string {
  const splits: { train: SplitData; validation?: SplitData; test?: SplitData } = {
    train: mnistSlice('train', 0, counts.train),
  };
  if (counts.validation) splits.validation = mnistSlice('train', counts.train, counts.validation);
  if (counts.test) splits.test = mnistSlice('t10k', 0, counts.test);
  return writeMnistSplitsAs(dir, `MNIST (${counts.train} train)`, splits);
}

let counter = 0;

/** A fake context in a fresh task directory below `root` (created, as the worker's context does). */
export function opContext(
  root: string,
  nodeId: string,
  params: Record<string, unknown>,
  inputs: Record<string, { kind: 'model' | 'dataset'; path: string; meta?: Record<string, unknown> }>,
  seed = 7,
): TrainTestContext {
  counter += 1;
  const taskDir = join(root, `${nodeId}-${counter}`);
  mkdirSync(taskDir, { recursive: true });
  return new TrainTestContext({
    taskDir,
    nodeId,
    seed,
    params,
    inputs: Object.fromEntries(
      Object.entries(inputs).map(([port, input]) => [
        port,
        { kind: input.kind, path: input.path, meta: input.meta ?? {} },
      ]),
    ),
  });
}

/** Builds an MLP with the worker's builder and trains it with the real `train` op; returns its model dir. */
export async function trainedMlp(
  root: string,
  name: string,
  dataset: string,
  options: { hidden: number[]; epochs: number; seed?: number; learningRate?: number; dropout?: number },
): Promise<string> {
  const initial = await writeBuiltModel(
    join(root, `${name}-initial`),
    'mlp',
    { hidden: options.hidden, dropout: options.dropout ?? 0 },
    options.seed ?? 1,
  );
  const ctx = opContext(
    root,
    name,
    { epochs: options.epochs, batchSize: 32, learningRate: options.learningRate ?? 2e-3 },
    { model: { kind: 'model', path: initial }, dataset: { kind: 'dataset', path: dataset } },
  );
  await trainOp(ctx);
  return ctx.artifacts[0]!.path;
}

/** What `fn` throws (undefined when it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
