/**
 * A run one of whose tasks starts from a given checkpoint instead of from scratch: how a PBT trial
 * continues after a pause, or from another trial's weights and optimizer state after an exploit.
 *
 * The checkpoint is copied into the task's own folder before the run starts and recorded as the
 * task's checkpoint, so the worker resumes from it exactly as it resumes a cancelled task, and a
 * resume of the run after a crash finds it there. The task's fingerprint, and those of the tasks
 * downstream of it, are salted with the checkpoint's identity: the same params started from other
 * weights are another computation, and must never be reused as if they were the same.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DistilleryError } from '../base/errors';
import { canonicalJson, sha256Hex } from '../base/hash';
import type { PlannedTask } from '../pipeline/plan';

/** Where a run's task starts: a checkpoint folder in the worker's checkpoint format. */
export interface RunStartPoint {
  /** The node whose task continues from the checkpoint (a train node). */
  nodeId: string;
  /** A checkpoint folder (`.../checkpoints/step-<n>`, see worker/train/checkpoint.ts). */
  checkpoint: string;
}

/** The files of a checkpoint that say what it holds: each index names its arrays' SHA-256. */
const IDENTITY_FILES = ['loop.json', 'weights.json', 'optimizer.json', 'best-weights.json', 'extra.json'];
/** Where the worker looks for a task's checkpoints (worker/train/checkpoint.ts CHECKPOINTS_DIR). */
const CHECKPOINTS_DIR = 'checkpoints';

function checkpointMissing(dir: string, nodeId: string): DistilleryError {
  return new DistilleryError(
    'CHECKPOINT_INVALID',
    `Node "${nodeId}": no checkpoint at ${dir} to start from`,
    {
      nodeId,
      file: dir,
      expected: 'a checkpoint folder with loop.json',
    },
  );
}

/** A digest of the checkpoint's content, from its index files (they carry their data's SHA-256). */
export function checkpointIdentity(dir: string): string {
  const hash = createHash('sha256');
  for (const name of IDENTITY_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    hash.update(name).update('\0').update(readFileSync(path)).update('\0');
  }
  return hash.digest('hex');
}

/** The optimiser step a checkpoint was written after (its loop state's `globalStep`). */
export function checkpointStep(dir: string, nodeId: string): number {
  let step: unknown;
  try {
    step = (JSON.parse(readFileSync(join(dir, 'loop.json'), 'utf8')) as { globalStep?: unknown }).globalStep;
  } catch {
    throw checkpointMissing(dir, nodeId);
  }
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) {
    throw new DistilleryError('CHECKPOINT_INVALID', `Checkpoint file ${join(dir, 'loop.json')}: no step`, {
      nodeId,
      file: join(dir, 'loop.json'),
      expected: 'an integer globalStep',
      received: step,
    });
  }
  return step;
}

/**
 * The plan with the start node's fingerprint and every downstream task's salted by the
 * checkpoint's identity; UNKNOWN_NODE when the plan has no such node.
 */
export function saltFingerprints(planned: readonly PlannedTask[], start: RunStartPoint): PlannedTask[] {
  if (!planned.some((task) => task.nodeId === start.nodeId)) {
    throw new DistilleryError('UNKNOWN_NODE', `No node "${start.nodeId}" to start from a checkpoint`, {
      nodeId: start.nodeId,
    });
  }
  if (!existsSync(join(start.checkpoint, 'loop.json')))
    throw checkpointMissing(start.checkpoint, start.nodeId);
  const identity = checkpointIdentity(start.checkpoint);
  const salted = new Map<string, string>();
  return planned.map((task) => {
    // The plan is in dependency order, so every upstream task has been seen.
    const touched = task.nodeId === start.nodeId || task.dependsOn.some((nodeId) => salted.has(nodeId));
    if (!touched) return task;
    const fingerprint = sha256Hex(
      canonicalJson({
        startedFrom: task.nodeId === start.nodeId ? identity : null,
        of: task.fingerprint,
        inputs: Object.fromEntries(task.dependsOn.map((nodeId) => [nodeId, salted.get(nodeId) ?? null])),
      }),
    );
    salted.set(task.nodeId, fingerprint);
    return { ...task, fingerprint };
  });
}

/** Copies the checkpoint into the task folder's checkpoints; returns the copy and its step. */
export function placeCheckpoint(start: RunStartPoint, taskDir: string): { path: string; step: number } {
  const step = checkpointStep(start.checkpoint, start.nodeId);
  const path = join(taskDir, CHECKPOINTS_DIR, basename(start.checkpoint));
  rmSync(path, { recursive: true, force: true });
  mkdirSync(dirname(path), { recursive: true });
  cpSync(start.checkpoint, path, { recursive: true });
  return { path, step };
}
