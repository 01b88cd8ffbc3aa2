/**
 * Training checkpoints: one directory per checkpoint, `<taskDir>/checkpoints/step-<globalStep>/`:
 *
 *   weights.json + weights.bin            every model weight (trainable or not), in model order
 *   optimizer.json + optimizer.bin        optimiser name, step count and slot arrays
 *   best-weights.json + best-weights.bin  early stopping's best weights (only with restoreBest)
 *   extra.json + extra.bin                arrays of loop hooks (e.g. pruning masks; optional)
 *   loop.json                             LoopState: where to continue, history, early stopping
 *
 * Each `.json` index lists its arrays (name, dtype, shape, byte offset) and the SHA-256 of its
 * `.bin`, so a truncated or altered file is detected. A checkpoint is written to a temporary
 * directory, fsynced, then renamed into place, so a crash never leaves a half-written
 * `step-<n>`; only the newest `keep` (2) are kept.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { DistilleryError } from '../../base/errors';
import { OPTIMIZERS, type OptimizerName } from '../../nodes/shared-params';
import type { NamedArrays, OptimizerState } from './optimizers';

export const CHECKPOINTS_DIR = 'checkpoints';
export const LOOP_STATE_FILE = 'loop.json';
const CHECKPOINT_PREFIX = 'step-';
const TEMP_PREFIX = '.tmp-';
const BEST_WEIGHTS_STEM = 'best-weights';

/** Per-epoch figures; epochs are numbered from 1. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy?: number;
  val_loss?: number;
  val_accuracy?: number;
  /** Learning rate of the epoch's last step. */
  learningRate: number;
}

/** Sums over the batches done so far in the current epoch (so a resumed epoch reports the same). */
export interface EpochAccumulator {
  /** Σ batch loss × batch size. */
  lossSum: number;
  examples: number;
  /** Correct predictions among the `scored` examples (those whose loss returned scores). */
  correct: number;
  scored: number;
  batches: number;
}

export interface EarlyStoppingState {
  /** Best monitored value so far (null before the first evaluation). */
  best: number | null;
  /** Epoch (1-based) that reached `best`; 0 when none. */
  bestEpoch: number;
  /** Epochs in a row without an improvement of more than minDelta. */
  badEpochs: number;
  stopped: boolean;
  /** Name of the array files holding the best weights inside the checkpoint, or null. */
  bestWeights: string | null;
}

/** Where a training loop stands. Everything random derives from `seed` (see rng.ts). */
export interface LoopState {
  format: 1;
  /** Base seed: data order is permutation(seed, epoch), in-step randomness mixSeed(seed, step). */
  seed: number;
  /** 0-based index of the epoch in progress. */
  epoch: number;
  /** Batches of that epoch already done (== stepsPerEpoch: only the epoch's end is left). */
  batchInEpoch: number;
  /** Optimiser steps done. */
  globalStep: number;
  totalSteps: number;
  stepsPerEpoch: number;
  accumulator: EpochAccumulator;
  earlyStopping: EarlyStoppingState;
  history: EpochRecord[];
}

export interface CheckpointData {
  weights: NamedArrays;
  optimizer: OptimizerState;
  loop: LoopState;
  bestWeights?: NamedArrays;
  extra?: NamedArrays;
}

interface ArrayIndexEntry {
  name: string;
  dtype: 'float32' | 'int32';
  shape: number[];
  /** Byte offset in the .bin file. */
  offset: number;
  length: number;
}

interface ArrayIndex {
  format: 1;
  file: string;
  byteLength: number;
  sha256: string;
  entries: ArrayIndexEntry[];
  /** Extra fields of the group (the optimiser's name and step count). */
  info?: Record<string, unknown>;
}

function invalid(file: string, message: string, expected?: string, received?: unknown): DistilleryError {
  return new DistilleryError('CHECKPOINT_INVALID', `Checkpoint file ${file}: ${message}`, {
    file,
    ...(expected !== undefined ? { expected, received } : {}),
  });
}

function writeDurable(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `<stem>.bin` and `<stem>.json` in `dir`. */
function writeArrays(dir: string, stem: string, arrays: NamedArrays, info?: Record<string, unknown>): void {
  const entries: ArrayIndexEntry[] = [];
  let offset = 0;
  for (const [name, array] of Object.entries(arrays)) {
    const dtype = array.values instanceof Int32Array ? 'int32' : 'float32';
    entries.push({ name, dtype, shape: array.shape, offset, length: array.values.length });
    offset += array.values.byteLength;
  }
  const bin = new Uint8Array(offset);
  for (const entry of entries) {
    const values = arrays[entry.name]!.values;
    bin.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), entry.offset);
  }
  const file = `${stem}.bin`;
  writeDurable(join(dir, file), bin);
  const index: ArrayIndex = {
    format: 1,
    file,
    byteLength: bin.byteLength,
    sha256: createHash('sha256').update(bin).digest('hex'),
    entries,
  };
  if (info) index.info = info;
  writeDurable(join(dir, `${stem}.json`), JSON.stringify(index));
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw invalid(path, 'missing or unreadable');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalid(path, `not valid JSON (${(error as Error).message})`);
  }
}

function readArrays(dir: string, stem: string): { arrays: NamedArrays; info: Record<string, unknown> } {
  const indexPath = join(dir, `${stem}.json`);
  const index = readJson(indexPath) as Partial<ArrayIndex> | null;
  if (!index || index.format !== 1 || !Array.isArray(index.entries) || typeof index.file !== 'string') {
    throw invalid(indexPath, 'not an array index', 'format 1 with entries', index);
  }
  const binPath = join(dir, index.file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(binPath);
  } catch {
    throw invalid(binPath, 'missing or unreadable');
  }
  if (bytes.byteLength !== index.byteLength) {
    throw invalid(binPath, 'wrong size', `${index.byteLength} bytes`, bytes.byteLength);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== index.sha256)
    throw invalid(binPath, 'content does not match its SHA-256', index.sha256, sha256);
  // Aligned copy: Buffer pools may hand out offsets that typed arrays cannot view.
  const buffer = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buffer).set(bytes);
  const arrays: NamedArrays = {};
  for (const entry of index.entries) {
    const size = entry.shape.reduce((a, b) => a * b, 1);
    if (
      size !== entry.length ||
      entry.offset + entry.length * 4 > buffer.byteLength ||
      entry.offset % 4 !== 0
    ) {
      throw invalid(
        indexPath,
        `entry "${entry.name}" does not fit`,
        'shape matching length within the file',
        entry,
      );
    }
    const values =
      entry.dtype === 'int32'
        ? new Int32Array(buffer, entry.offset, entry.length)
        : new Float32Array(buffer, entry.offset, entry.length);
    arrays[entry.name] = { shape: entry.shape, values };
  }
  return { arrays, info: index.info ?? {} };
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function checkLoopState(path: string, value: unknown): LoopState {
  const state = value as Partial<LoopState> | null;
  const fields = ['seed', 'epoch', 'batchInEpoch', 'globalStep', 'totalSteps', 'stepsPerEpoch'] as const;
  if (
    !state ||
    state.format !== 1 ||
    !fields.every((field) => isFiniteNumber(state[field])) ||
    !state.accumulator ||
    !state.earlyStopping ||
    !Array.isArray(state.history)
  ) {
    throw invalid(path, 'not a loop state', `format 1 with ${fields.join(', ')}`, value);
  }
  return state as LoopState;
}

/** `<taskDir>/checkpoints/step-<step>`. */
export function checkpointDir(taskDir: string, step: number): string {
  return join(taskDir, CHECKPOINTS_DIR, `${CHECKPOINT_PREFIX}${step}`);
}

/** Checkpoints of a task, oldest first. */
export function listCheckpoints(taskDir: string): Array<{ step: number; path: string }> {
  const root = join(taskDir, CHECKPOINTS_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => name.startsWith(CHECKPOINT_PREFIX))
    .map((name) => ({ step: Number(name.slice(CHECKPOINT_PREFIX.length)), path: join(root, name) }))
    .filter((entry) => Number.isInteger(entry.step))
    .sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(taskDir: string): string | undefined {
  return listCheckpoints(taskDir).at(-1)?.path;
}

/**
 * Writes a checkpoint for `step` atomically and removes all but the newest `keep`; returns its path.
 * An existing checkpoint for the same step is replaced.
 */
export function writeCheckpoint(taskDir: string, step: number, data: CheckpointData, keep = 2): string {
  const root = join(taskDir, CHECKPOINTS_DIR);
  mkdirSync(root, { recursive: true });
  const finalDir = checkpointDir(taskDir, step);
  const tempDir = join(root, `${TEMP_PREFIX}${CHECKPOINT_PREFIX}${step}-${process.pid}`);
  rmSync(tempDir, { recursive: true, force: true });
  mkdirSync(tempDir);
  try {
    writeArrays(tempDir, 'weights', data.weights);
    writeArrays(tempDir, 'optimizer', data.optimizer.slots, {
      name: data.optimizer.name,
      iterations: data.optimizer.iterations,
    });
    if (data.bestWeights) writeArrays(tempDir, BEST_WEIGHTS_STEM, data.bestWeights);
    if (data.extra) writeArrays(tempDir, 'extra', data.extra);
    const loop: LoopState = {
      ...data.loop,
      earlyStopping: { ...data.loop.earlyStopping, bestWeights: data.bestWeights ? BEST_WEIGHTS_STEM : null },
    };
    writeDurable(join(tempDir, LOOP_STATE_FILE), JSON.stringify(loop));
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(tempDir, finalDir);
  } catch (error) {
    rmSync(tempDir, { recursive: true, force: true });
    throw error;
  }
  for (const old of listCheckpoints(taskDir).slice(0, -Math.max(1, keep))) {
    rmSync(old.path, { recursive: true, force: true });
  }
  return finalDir;
}

/** Reads a checkpoint directory; any missing or damaged file is a CHECKPOINT_INVALID naming it. */
export function readCheckpoint(dir: string): CheckpointData {
  if (!existsSync(dir)) throw invalid(dir, 'checkpoint directory not found');
  const loopPath = join(dir, LOOP_STATE_FILE);
  const loop = checkLoopState(loopPath, readJson(loopPath));
  const weights = readArrays(dir, 'weights').arrays;
  const optimizerFiles = readArrays(dir, 'optimizer');
  const name = optimizerFiles.info.name as OptimizerName;
  const iterations = optimizerFiles.info.iterations;
  if (!(OPTIMIZERS as readonly string[]).includes(name) || !isFiniteNumber(iterations)) {
    throw invalid(
      join(dir, 'optimizer.json'),
      'no optimiser name or step count',
      'info {name, iterations}',
      optimizerFiles.info,
    );
  }
  const data: CheckpointData = {
    weights,
    optimizer: { name, iterations, slots: optimizerFiles.arrays },
    loop,
  };
  if (loop.earlyStopping.bestWeights)
    data.bestWeights = readArrays(dir, loop.earlyStopping.bestWeights).arrays;
  if (existsSync(join(dir, 'extra.json'))) data.extra = readArrays(dir, 'extra').arrays;
  return data;
}
