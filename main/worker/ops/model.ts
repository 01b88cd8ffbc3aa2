/**
 * Model nodes (`model.mlp`, `model.cnn`): build a freshly initialised classifier sized for the
 * upstream dataset (read from its manifest only, no examples) and save it as the task's `model`
 * artifact. The run seed fixes the initial weights.
 */
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { Op, OpContext, OpSummary } from '../context';
import { readDatasetManifest } from '../data/dataset-file';
import { architectures } from '../models';
import { saveModel, type ModelMeta } from '../models/model-file';
import { modelStats } from '../models/stats';
import type { InputRef } from '../protocol';

/** Directory, inside the task directory, that the model is saved to. */
export const MODEL_DIR = 'model';

/** Puts the node on an error raised by code that does not know it (builders, exporters, file readers). */
export function nodeError(nodeId: string, error: unknown): unknown {
  if (!(error instanceof DistilleryError) || error.details.nodeId !== undefined) return error;
  return new DistilleryError(
    error.code,
    `Node "${nodeId}": ${error.message}`,
    { nodeId, ...error.details },
    { cause: error },
  );
}

/** The input on `port`, or MISSING_INPUT naming the node and port. */
export function requireInput(ctx: OpContext, port: string, kind: InputRef['kind']): InputRef {
  const input = ctx.inputs[port];
  if (!input) {
    throw new DistilleryError('MISSING_INPUT', `Node "${ctx.nodeId}": input "${port}" is not connected`, {
      nodeId: ctx.nodeId,
      port,
      expected: `a ${kind}`,
      received: undefined,
    });
  }
  if (input.kind !== kind) {
    throw new DistilleryError(
      'PORT_TYPE_MISMATCH',
      `Node "${ctx.nodeId}": input "${port}" must be a ${kind}`,
      {
        nodeId: ctx.nodeId,
        port,
        expected: kind,
        received: input.kind,
      },
    );
  }
  return input;
}

/** One line per layer, for the task summary. */
export function describeLayers(
  model: tf.LayersModel,
): Array<{ name: string; type: string; outputShape: unknown; params: number }> {
  return model.layers.map((layer) => ({
    name: layer.name,
    type: layer.getClassName(),
    outputShape: layer.outputShape,
    params: layer.countParams(),
  }));
}

function modelOp(architectureName: string): Op {
  return async (ctx: OpContext): Promise<OpSummary> => {
    const architecture = architectures.get(architectureName);
    const dataset = requireInput(ctx, 'dataset', 'dataset');
    let manifest;
    try {
      manifest = readDatasetManifest(dataset.path);
    } catch (error) {
      throw nodeError(ctx.nodeId, error);
    }
    const { inputShape, numClasses, classNames } = manifest;
    if (architecture.imageOnly && (!manifest.image || inputShape.length !== 3)) {
      throw new DistilleryError(
        'INCOMPATIBLE_INPUTS',
        `Node "${ctx.nodeId}": model.${architecture.name} needs an image dataset, got examples of shape ${JSON.stringify(inputShape)}`,
        { nodeId: ctx.nodeId, port: 'dataset', expected: 'an image dataset', received: inputShape },
      );
    }

    let params: object;
    let model: tf.LayersModel;
    try {
      params = architecture.parseParams(ctx.params);
      model = architecture.build({ inputShape, numClasses, seed: ctx.seed }, params);
    } catch (error) {
      throw nodeError(ctx.nodeId, error);
    }
    try {
      const dir = join(ctx.taskDir, MODEL_DIR);
      const meta: ModelMeta = {
        format: 1,
        kind: 'classifier',
        architecture: architecture.name,
        architectureParams: { ...params },
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
  };
}

/** `model.mlp`: params `hidden` (default [300, 100]), `activation` ('relu'), `dropout` (0). */
export const modelMlpOp: Op = modelOp('mlp');

/**
 * `model.cnn`: params `filters` ([6, 16]), `kernelSize` (5), `padding` ('same'), `pooling` ('max'),
 * `dense` ([120, 84]), `activation` ('relu'), `dropout` (0). Refuses non-image datasets.
 */
export const modelCnnOp: Op = modelOp('cnn');
