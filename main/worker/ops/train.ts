/**
 * The `train` op: trains a classifier (input `model`) on a dataset (input `dataset`) with the
 * shared training loop, then saves the trained model to `<taskDir>/model` and registers it as the
 * task's `model` artifact. With `augment` "translate" the training batches are jittered
 * (train/batches.ts); with `average` "swa" or "ema" the model is the weight average and the final
 * weights are the `raw` output; with `keepCheckpoints` > 0 the last checkpoints' weights are the
 * `checkpoints` output (train/averaging.ts).
 *
 * Loss: sparse softmax cross-entropy computed from the model's pre-softmax logits (see
 * train/classifier-loss.ts for why not from its probabilities). Validation data: the dataset's own
 * validation split, or else the last `validationSplit` of the training split.
 */
import { preprocessingOfDataset } from '../../export/preprocessing';
import type { ParamsOf } from '../../nodes/define';
import type { trainNode } from '../../nodes/train';
import { checkFitsDataset, modelInputShape, readTrainingData } from '../compress/op-support';
import { requireInput, type OpContext, type OpSummary } from '../context';
import { loadModel, type ModelMeta } from '../models/model-file';
import { modelStats } from '../models/stats';
import { TrainingOutputs } from '../train/averaging';
import { translatedLoss, translationShape } from '../train/batches';
import { sparseCrossEntropyLoss } from '../train/classifier-loss';
import { trainingLoopConfig, trainingOptimizer } from '../train/config';
import { runTrainingLoop } from '../train/loop';

/** Trains the input model on the input dataset. */
export async function train(ctx: OpContext, params: ParamsOf<typeof trainNode>): Promise<OpSummary> {
  const modelDir = requireInput(ctx, 'model', 'model').path;
  const { manifest, train: examples, validation } = readTrainingData(ctx, params.validationSplit);
  const { model, meta } = await loadModel(modelDir);
  const optimizer = trainingOptimizer(params);
  let outputs: TrainingOutputs | undefined;
  try {
    checkFitsDataset(ctx.nodeId, 'model', model, manifest);
    const inputShape = modelInputShape(model, manifest.inputShape);
    const stepsPerEpoch = Math.ceil(examples.count / params.batchSize);
    const lossFn = sparseCrossEntropyLoss(model);
    outputs = new TrainingOutputs({ ctx, model, params, stepsPerEpoch });
    ctx.log(
      `Training ${meta.architecture} on ${manifest.name}: ${examples.count} train / ${validation?.count ?? 0} validation examples, ` +
        `${params.epochs} epochs × ${stepsPerEpoch} steps, ${params.optimizer} lr ${params.learningRate} (${params.schedule})`,
    );
    const result = await runTrainingLoop({
      ctx,
      model,
      train: examples,
      ...(validation ? { validation } : {}),
      inputShape,
      lossFn:
        params.augment === 'translate'
          ? translatedLoss(lossFn, translationShape(ctx.nodeId, manifest.inputShape), params.augmentShift)
          : lossFn,
      evaluateFn: lossFn,
      optimizer,
      config: trainingLoopConfig(params, stepsPerEpoch),
      hooks: outputs.hooks(),
    });

    const final = result.final;
    const bestRecord = result.history.find((record) => record.epoch === result.bestEpoch);
    // After restoring the best weights, the model's figures are the best epoch's.
    const reported = result.restoredBest && bestRecord ? bestRecord : final;
    // What a consumer of the exported model must do to raw input: this dataset's preprocessing.
    const preprocessing = preprocessingOfDataset({
      ...manifest,
      artifactMeta: requireInput(ctx, 'dataset', 'dataset').meta,
    });
    const outMeta: ModelMeta = { ...meta, trained: true, preprocessing };
    const metrics: Record<string, number> = {};
    for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const) {
      const value = reported?.[key];
      if (typeof value === 'number') metrics[key] = value;
    }
    const saved = await outputs.save({
      finalStep: result.globalStep,
      metrics,
      output: {
        meta: outMeta,
        artifactMeta: (figures) => ({
          ...modelStats(model),
          kind: meta.kind,
          architecture: meta.architecture,
          inputShape: meta.inputShape,
          numClasses: meta.numClasses,
          trained: true,
          metrics: figures,
        }),
      },
      ...(validation ? { validation: { split: validation, inputShape } } : {}),
    });
    ctx.flush();
    return {
      epochs: result.epochsRun,
      steps: result.globalStep,
      finalLoss: final?.loss ?? null,
      accuracy: reported?.accuracy ?? null,
      valLoss: reported?.val_loss ?? null,
      valAccuracy: reported?.val_accuracy ?? null,
      stoppedEarly: result.stoppedEarly,
      bestEpoch: result.bestEpoch,
      monitor: result.monitor,
      restoredBest: result.restoredBest,
      samplesPerSecond: Math.round(result.samplesPerSecond),
      resumedFromStep: result.resumedFromStep,
      ...saved,
    };
  } finally {
    outputs?.dispose();
    optimizer.dispose();
    model.dispose();
  }
}
