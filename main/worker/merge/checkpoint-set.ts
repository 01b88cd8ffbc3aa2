/**
 * A checkpoint set: the weights a training task saved at its last N scheduled checkpoints, as one
 * model artifact (the `checkpoints` output of train and distill with `keepCheckpoints` > 0), for a
 * merge over them (LCSC, or any averaging). The directory is an ordinary model directory, so it
 * loads anywhere a model does (model.json + weights.bin hold the final raw weights), plus:
 *
 *   checkpoint-set.json   {format: 1, weights: [{name, shape}], checkpoints: [{step, epoch, file, sha256}]}
 *   step-<n>.bin          every weight of the model at step n, float32, in the order of `weights`
 *
 * Snapshots are taken when the training loop checkpoints on its schedule (every checkpointEvery
 * steps, or at each epoch's end), so a cancelled and resumed task keeps the same ones as an
 * uninterrupted run: a resumed attempt rewrites the snapshots after its checkpoint with the same
 * bytes, and the cancel checkpoint (off schedule) takes none.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import { saveModel, type ModelMeta } from '../models/model-file';
import type { LoopHooks } from '../train/loop';
import type { WeightSignature } from './compatibility';
import { weightValues } from './model-weights';

/** Directory, inside a task directory, of the checkpoint set. */
export const CHECKPOINT_SET_DIR = 'checkpoint-set';
export const CHECKPOINT_SET_FILE = 'checkpoint-set.json';
const STEP_PREFIX = 'step-';

export interface CheckpointSetEntry {
  step: number;
  /** The epoch (1-based) the step belongs to. */
  epoch: number;
  file: string;
  sha256: string;
}

export interface CheckpointSetIndex {
  format: 1;
  weights: WeightSignature[];
  /** Oldest first. */
  checkpoints: CheckpointSetEntry[];
}

function writeDurable(path: string, bytes: Uint8Array): void {
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w');
  try {
    let written = 0;
    while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

function stepFile(step: number): string {
  return `${STEP_PREFIX}${step}.bin`;
}

/** Snapshots on disk, oldest first. */
function listSnapshots(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.startsWith(STEP_PREFIX) && name.endsWith('.bin'))
    .map((name) => Number(name.slice(STEP_PREFIX.length, -'.bin'.length)))
    .filter((step) => Number.isInteger(step))
    .sort((a, b) => a - b);
}

/**
 * Keeps the weights of a training run's last `keep` scheduled checkpoints in `<taskDir>/checkpoint-set`
 * (see the file comment). `hooks` plug it into the training loop; `finish` writes the artifact.
 */
export class CheckpointKeeper {
  readonly dir: string;

  constructor(
    private readonly model: tf.LayersModel,
    taskDir: string,
    private readonly keep: number,
    private readonly schedule: { checkpointEvery: number; stepsPerEpoch: number },
  ) {
    this.dir = join(taskDir, CHECKPOINT_SET_DIR);
  }

  /** Saves the model's current weights as the snapshot of `step`; drops all but the newest `keep` up to it. */
  snapshot(step: number): void {
    mkdirSync(this.dir, { recursive: true });
    const values = weightValues(this.model, 'The trained model', 'model');
    const bytes = new Uint8Array(values.reduce((sum, array) => sum + array.byteLength, 0));
    let offset = 0;
    for (const array of values) {
      bytes.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), offset);
      offset += array.byteLength;
    }
    writeDurable(join(this.dir, stepFile(step)), bytes);
    // Later snapshots left by an attempt that got further stay: this run rewrites them identically.
    const upTo = listSnapshots(this.dir).filter((s) => s <= step);
    for (const old of upTo.slice(0, -this.keep)) rmSync(join(this.dir, stepFile(old)), { force: true });
  }

  /** The loop hooks that take the snapshots on the checkpoint schedule. */
  hooks(): Pick<LoopHooks, 'afterStep' | 'afterEpoch'> {
    const { checkpointEvery, stepsPerEpoch } = this.schedule;
    return {
      afterStep: (info) => {
        if (checkpointEvery > 0 && info.globalStep % checkpointEvery === 0) this.snapshot(info.globalStep);
      },
      afterEpoch: (record) => {
        if (checkpointEvery === 0) this.snapshot(record.epoch * stepsPerEpoch);
      },
    };
  }

  /**
   * Writes the set's index and the model (its current weights) into the directory; returns the
   * directory and the kept steps. Snapshots past `finalStep` (none in a finished run) are dropped.
   */
  async finish(finalStep: number, meta: ModelMeta): Promise<{ dir: string; steps: number[] }> {
    mkdirSync(this.dir, { recursive: true });
    const all = listSnapshots(this.dir);
    for (const step of all.filter((s) => s > finalStep))
      rmSync(join(this.dir, stepFile(step)), { force: true });
    const steps = all.filter((s) => s <= finalStep).slice(-this.keep);
    const { stepsPerEpoch } = this.schedule;
    const index: CheckpointSetIndex = {
      format: 1,
      weights: this.model.weights.map((weight) => ({
        name: weight.originalName,
        shape: [...weight.read().shape],
      })),
      checkpoints: steps.map((step) => ({
        step,
        epoch: Math.max(1, Math.ceil(step / stepsPerEpoch)),
        file: stepFile(step),
        sha256: createHash('sha256')
          .update(readFileSync(join(this.dir, stepFile(step))))
          .digest('hex'),
      })),
    };
    await saveModel(this.model, this.dir, { ...meta, checkpointSet: { count: steps.length, steps } });
    writeDurable(join(this.dir, CHECKPOINT_SET_FILE), Buffer.from(JSON.stringify(index, null, 2)));
    return { dir: this.dir, steps };
  }
}

/** Whether a model directory is a checkpoint set. */
export function isCheckpointSet(dir: string): boolean {
  return existsSync(join(dir, CHECKPOINT_SET_FILE));
}

function invalid(file: string, message: string, expected?: string, received?: unknown): DistilleryError {
  return new DistilleryError('MODEL_INVALID', `Checkpoint set ${file}: ${message}`, {
    file,
    ...(expected !== undefined ? { expected, received } : {}),
  });
}

/**
 * The weights of every checkpoint in a set, oldest first, checked against `expected` (the weights
 * of the model loaded from the same directory) and against each file's size and SHA-256.
 */
export function readCheckpointSet(
  dir: string,
  expected: readonly WeightSignature[],
): { index: CheckpointSetIndex; checkpoints: Float32Array[][] } {
  const indexPath = join(dir, CHECKPOINT_SET_FILE);
  let index: CheckpointSetIndex;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8')) as CheckpointSetIndex;
  } catch (error) {
    throw invalid(indexPath, `unreadable (${(error as Error).message})`);
  }
  if (index?.format !== 1 || !Array.isArray(index.weights) || !Array.isArray(index.checkpoints)) {
    throw invalid(indexPath, 'not a checkpoint set index', 'format 1 with weights and checkpoints', index);
  }
  const sameWeights =
    index.weights.length === expected.length &&
    index.weights.every(
      (weight, i) =>
        weight.name === expected[i]!.name &&
        weight.shape.length === expected[i]!.shape.length &&
        weight.shape.every((d, j) => d === expected[i]!.shape[j]),
    );
  if (!sameWeights) {
    throw invalid(
      indexPath,
      'its weights do not match the model in the same directory',
      expected.map((w) => `${w.name} [${w.shape.join(', ')}]`).join(', '),
      index.weights.map((w) => `${w.name} [${w.shape.join(', ')}]`).join(', '),
    );
  }
  const sizes = index.weights.map((weight) => weight.shape.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  const checkpoints = index.checkpoints.map((entry) => {
    const path = join(dir, entry.file);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      throw invalid(path, 'missing or unreadable');
    }
    if (bytes.byteLength !== total * 4)
      throw invalid(path, 'wrong size', `${total * 4} bytes`, bytes.byteLength);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== entry.sha256)
      throw invalid(path, 'content does not match its SHA-256', entry.sha256, sha256);
    // Aligned copy: a Buffer may start at an offset a Float32Array cannot view.
    const all = new Float32Array(total);
    new Uint8Array(all.buffer).set(bytes);
    let offset = 0;
    return sizes.map((size) => {
      const values = all.slice(offset, offset + size);
      offset += size;
      return values;
    });
  });
  return { index, checkpoints };
}
