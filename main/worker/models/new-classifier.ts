/**
 * What the classifier model nodes (`model.mlp`, `model.cnn`) share: a freshly initialised
 * classifier sized for the upstream dataset (read from its manifest only, no examples), saved as the
 * task's `model` artifact. The run seed fixes the initial weights.
 */
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import { requireInput, type OpContext, type OpSummary } from '../context';
import { readDatasetManifest } from '../data/dataset-file';
import { MODEL_DIR, saveModel, type ModelMeta } from './model-file';
import { describeLayers, modelStats } from './stats';

export interface ClassifierArchitecture {
  /** Recorded in the model's meta (`architecture`). */
  name: string;
  title: string;
  /** Refuse datasets whose examples are not images ([h, w, c]). */
  imageOnly: boolean;
  /** The params recorded in the meta: those that built the model. */
  params: Record<string, unknown>;
  build(input: { inputShape: number[]; numClasses: number; seed: number }): tf.LayersModel;
}

/** Builds, saves and announces the classifier; returns the task summary. */
export async function createClassifier(
  ctx: OpContext,
  architecture: ClassifierArchitecture,
): Promise<OpSummary> {
  const dataset = requireInput(ctx, 'dataset', 'dataset');
  const manifest = readDatasetManifest(dataset.path);
  const { inputShape, numClasses, classNames } = manifest;
  if (architecture.imageOnly && (!manifest.image || inputShape.length !== 3)) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `Node "${ctx.nodeId}": model.${architecture.name} needs an image dataset, got examples of shape ${JSON.stringify(inputShape)}`,
      { nodeId: ctx.nodeId, port: 'dataset', expected: 'an image dataset', received: inputShape },
    );
  }
  const model = architecture.build({ inputShape, numClasses, seed: ctx.seed });
  try {
    const dir = join(ctx.taskDir, MODEL_DIR);
    const meta: ModelMeta = {
      format: 1,
      kind: 'classifier',
      architecture: architecture.name,
      architectureParams: { ...architecture.params },
      inputShape,
      numClasses,
      classNames,
      trained: false,
    };
    await saveModel(model, dir, meta);
    const stats = modelStats(model);
    ctx.artifact('model', 'model', dir, {
      ...stats,
      architecture: architecture.name,
      inputShape,
      numClasses,
      kind: 'classifier',
    });
    ctx.log(`Built ${architecture.title} with ${stats.paramCount} parameters (seed ${ctx.seed})`);
    return { paramCount: stats.paramCount, layers: describeLayers(model) };
  } finally {
    model.dispose();
  }
}
