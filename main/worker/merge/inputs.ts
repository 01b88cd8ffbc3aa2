/**
 * The merge node's inputs as weight lists: the models linked to `models` (in link order), the
 * checkpoints of a checkpoint set on `checkpoints` (after them), and the `base`. Every one is
 * checked to be a classifier of the same architecture as the first; the first stays loaded as the
 * model that carries the merged weights (and scores candidates).
 */
import type * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import { checkFitsDataset, requireSplit } from '../compress/op-support';
import { requireInput, requireInputs, type OpContext } from '../context';
import { readDataset, type DatasetManifest, type SplitData, type SplitName } from '../data/dataset-file';
import { loadModel, type ModelMeta } from '../models/model-file';
import type { InputRef } from '../protocol';
import { isCheckpointSet, readCheckpointSet } from './checkpoint-set';
import type { Weights } from './combine';
import { checkSameArchitecture, type ArchitectureSignature } from './compatibility';
import { architectureSignature, weightValues } from './model-weights';

/** One model the merge combines. */
export interface Candidate {
  /** How messages and the lineage name it: `models[2]`, `checkpoints[step 400]`. */
  label: string;
  port: 'models' | 'checkpoints';
  /** Position among the links of its port (for `models`); 0 for the checkpoint set. */
  link: number;
  /** The registry version it came from, when the runner knows it. */
  versionId: string | null;
  /** For a checkpoint: its training step. */
  step?: number;
  weights: Weights;
}

export interface MergeInputs {
  /** The first input, loaded: its topology carries the merged weights. */
  model: tf.LayersModel;
  meta: ModelMeta;
  candidates: Candidate[];
  base?: { versionId: string | null; weights: Weights };
  /** The checkpoint set's link, when there is one. */
  checkpointSet?: { versionId: string | null; steps: number[] };
}

function versionOf(ref: InputRef): string | null {
  return typeof ref.meta.versionId === 'string' ? ref.meta.versionId : null;
}

/** Loads a classifier from `ref`, refusing other kinds with PORT_TYPE_MISMATCH naming the link. */
async function loadClassifierAt(
  ctx: OpContext,
  ref: InputRef,
  port: string,
  label: string,
): Promise<{ model: tf.LayersModel; meta: ModelMeta }> {
  const loaded = await loadModel(ref.path);
  if (loaded.meta.kind !== 'classifier') {
    loaded.model.dispose();
    throw new DistilleryError(
      'PORT_TYPE_MISMATCH',
      `Node "${ctx.nodeId}": ${label} must be a classifier, got a ${loaded.meta.kind} model`,
      { nodeId: ctx.nodeId, port, expected: 'classifier', received: loaded.meta.kind },
    );
  }
  return loaded;
}

/**
 * Loads every input; throws MISSING_INPUT when fewer than two candidates are linked in all, or when
 * `needsBase` and no base is, and INCOMPATIBLE_INPUTS naming the first layer or weight that
 * differs between two inputs.
 */
export async function loadMergeInputs(
  ctx: OpContext,
  options: { needsBase: boolean; method: string },
): Promise<MergeInputs> {
  const modelRefs = (ctx.inputLists.models ?? []).length > 0 ? requireInputs(ctx, 'models', 'model', 1) : [];
  const setRef = ctx.inputs.checkpoints;
  const baseRef = ctx.inputs.base;
  if (options.needsBase && !baseRef) {
    throw new DistilleryError(
      'MISSING_INPUT',
      `Node "${ctx.nodeId}": method "${options.method}" needs the common starting point of the models on input "base"`,
      { nodeId: ctx.nodeId, port: 'base', expected: 'a model', received: undefined },
    );
  }
  const signatures: ArchitectureSignature[] = [];
  const candidates: Candidate[] = [];
  let reference: { model: tf.LayersModel; meta: ModelMeta } | undefined;
  const keep = (loaded: { model: tf.LayersModel; meta: ModelMeta }): void => {
    if (!reference) reference = loaded;
    else loaded.model.dispose();
  };
  try {
    for (const [link, ref] of modelRefs.entries()) {
      const label = `models[${link + 1}]`;
      const loaded = await loadClassifierAt(ctx, ref, 'models', label);
      signatures.push(architectureSignature(loaded.model, label, 'models'));
      candidates.push({
        label,
        port: 'models',
        link,
        versionId: versionOf(ref),
        weights: weightValues(loaded.model, label, 'models'),
      });
      keep(loaded);
    }
    let checkpointSet: MergeInputs['checkpointSet'];
    if (setRef) {
      if (setRef.kind !== 'model' || !isCheckpointSet(setRef.path)) {
        throw new DistilleryError(
          'PORT_TYPE_MISMATCH',
          `Node "${ctx.nodeId}": input "checkpoints" takes a checkpoint set (the "checkpoints" output of train or distill with keepCheckpoints > 0)`,
          { nodeId: ctx.nodeId, port: 'checkpoints', expected: 'a checkpoint set', received: setRef.path },
        );
      }
      const loaded = await loadClassifierAt(ctx, setRef, 'checkpoints', 'the checkpoint set');
      const signature = architectureSignature(loaded.model, 'the checkpoint set', 'checkpoints');
      const { index, checkpoints } = readCheckpointSet(setRef.path, signature.weights);
      signatures.push(signature);
      index.checkpoints.forEach((entry, k) => {
        candidates.push({
          label: `checkpoints[step ${entry.step}]`,
          port: 'checkpoints',
          link: 0,
          versionId: versionOf(setRef),
          step: entry.step,
          weights: checkpoints[k]!,
        });
      });
      checkpointSet = { versionId: versionOf(setRef), steps: index.checkpoints.map((entry) => entry.step) };
      keep(loaded);
    }
    let base: MergeInputs['base'];
    if (baseRef) {
      const loaded = await loadClassifierAt(ctx, baseRef, 'base', 'base');
      signatures.push(architectureSignature(loaded.model, 'base', 'base'));
      base = { versionId: versionOf(baseRef), weights: weightValues(loaded.model, 'base', 'base') };
      keep(loaded);
    }
    checkSameArchitecture(ctx.nodeId, signatures);
    if (candidates.length < 2) {
      throw new DistilleryError(
        'MISSING_INPUT',
        `Node "${ctx.nodeId}": method "${options.method}" needs at least 2 models, linked to "models" or kept in a checkpoint set on "checkpoints"; it has ${candidates.length}`,
        { nodeId: ctx.nodeId, port: 'models', expected: 'at least 2 models', received: candidates.length },
      );
    }
    const inputs: MergeInputs = { model: reference!.model, meta: reference!.meta, candidates };
    if (base) inputs.base = base;
    if (checkpointSet) inputs.checkpointSet = checkpointSet;
    return inputs;
  } catch (error) {
    reference?.model.dispose();
    throw error;
  }
}

/**
 * The held-out split the merge scores on, checked against the merged architecture; MISSING_INPUT
 * naming `reason` when the dataset port is not linked but `required`.
 */
export function readHeldOut(
  ctx: OpContext,
  model: tf.LayersModel,
  split: SplitName,
  required: string | undefined,
): { manifest: DatasetManifest; data: SplitData } | undefined {
  if (!ctx.inputs.dataset) {
    if (!required) return undefined;
    throw new DistilleryError(
      'MISSING_INPUT',
      `Node "${ctx.nodeId}": ${required} needs held-out data on input "dataset"`,
      { nodeId: ctx.nodeId, port: 'dataset', expected: 'a dataset', received: undefined },
    );
  }
  const dir = requireInput(ctx, 'dataset', 'dataset').path;
  const dataset = readDataset(dir, [split]);
  requireSplit(ctx.nodeId, dataset.manifest, split);
  checkFitsDataset(ctx.nodeId, 'models', model, dataset.manifest);
  return { manifest: dataset.manifest, data: dataset.splits[split]! };
}
