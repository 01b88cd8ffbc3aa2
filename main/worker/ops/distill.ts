/**
 * The `distill` op: trains the `student` model on the `dataset` to match the frozen `teacher`
 * (Hinton et al. 2015), with the shared training loop (optimisers, schedules, checkpoints, exact
 * resume, early stopping), then saves the student as the task's `model` artifact.
 *
 * The teacher is run once over the training split before training, in inference mode, and its
 * logits are kept ([examples, classes], float32): they do not change while the student trains, so
 * this takes the teacher's forward pass out of every step. To look them up, the loop is given the
 * training split with each example's index in place of its label; the loss gathers the teacher's
 * logits and the true label by index. Validation runs the teacher live on the validation split.
 *
 * With `augment` "translate" each training batch is jittered (train/batches.ts) and the teacher
 * scores the jittered batch live, so its soft targets describe the images the student sees; the
 * cached logits serve only the unjittered case. `average`, `keepCheckpoints` and the `raw` /
 * `checkpoints` outputs work as in `train` (train/averaging.ts).
 *
 * Metrics: the loop's (`loss`, `lr`, `samples_per_second` per step; `epoch_loss`, `val_loss`,
 * `val_accuracy` per epoch) plus, per epoch, over the epoch's training batches: `accuracy` (student
 * top-1 against the dataset's labels, also with labels "none"), `agreement` (student top-1 equals
 * teacher top-1), `soft_loss`, `hard_loss`; and `val_agreement` with validation data.
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import { preprocessingOfDataset } from '../../export/preprocessing';
import type { ParamsOf } from '../../nodes/define';
import type { distillNode } from '../../nodes/distill';
import { distillationLoss } from '../compress/kd-loss';
import {
  agreement,
  checkFitsDataset,
  forEachBatch,
  loadClassifier,
  modelInputShape,
  outputClasses,
  predictClasses,
  readTrainingData,
} from '../compress/op-support';
import { requireInput, type OpContext, type OpSummary } from '../context';
import type { SplitData } from '../data/dataset-file';
import type { ModelMeta } from '../models/model-file';
import { modelStats } from '../models/stats';
import { TrainingOutputs } from '../train/averaging';
import { translatedLoss, translationShape } from '../train/batches';
import { classifierHead } from '../train/classifier-loss';
import { fineTuneSetup } from '../train/config';
import { runTrainingLoop, type LossFn } from '../train/loop';

/** Checkpointed sums over the current epoch's batches: correct, agreeing, Σ soft·n, Σ hard·n, examples. */
const ACCUMULATOR_STATE = 'distill/epoch';

/** Runs the distillation; see the file comment. */
export async function distill(ctx: OpContext, params: ParamsOf<typeof distillNode>): Promise<OpSummary> {
  const { manifest, train, validation } = readTrainingData(ctx, params.validationSplit);

  const teacher = await loadClassifier(ctx, 'teacher');
  let student: Awaited<ReturnType<typeof loadClassifier>> | undefined;
  const owned: tf.Tensor[] = [];
  try {
    student = await loadClassifier(ctx, 'student');
    const teacherClasses = outputClasses(teacher.model) ?? teacher.meta.numClasses;
    const studentClasses = outputClasses(student.model) ?? student.meta.numClasses;
    if (teacherClasses !== studentClasses) {
      throw new DistilleryError(
        'INCOMPATIBLE_INPUTS',
        `Node "${ctx.nodeId}": the student has ${studentClasses} classes, the teacher ${teacherClasses}; distillation needs the same classes`,
        {
          nodeId: ctx.nodeId,
          port: 'student',
          expected: `${teacherClasses} classes (the teacher's)`,
          received: studentClasses,
        },
      );
    }
    checkFitsDataset(ctx.nodeId, 'teacher', teacher.model, manifest);
    checkFitsDataset(ctx.nodeId, 'student', student.model, manifest);

    const model = student.model;
    const studentShape = modelInputShape(model, manifest.inputShape);
    const teacherShape = modelInputShape(teacher.model, manifest.inputShape);
    const classes = teacherClasses;
    const teacherHead = classifierHead(teacher.model);
    const studentHead = classifierHead(model);

    // The teacher's logits for every training example, once.
    const teacherValues = new Float32Array(train.count * classes);
    let teacherCorrect = 0;
    forEachBatch(
      train,
      teacherShape,
      (x) => teacherHead.logits(x, false),
      (values, start, count) => {
        teacherValues.set(values, start * classes);
        for (let i = 0; i < count; i++) {
          let best = 0;
          for (let c = 1; c < classes; c++)
            if (values[i * classes + c]! > values[i * classes + best]!) best = c;
          if (best === train.y[start + i]) teacherCorrect++;
        }
      },
    );
    const teacherLogits = tf.tensor2d(teacherValues, [train.count, classes]);
    const trainLabels = tf.tensor1d(train.y, 'int32');
    owned.push(teacherLogits, trainLabels);
    const teacherAccuracy = teacherCorrect / train.count;
    ctx.log(
      `Teacher (${teacher.meta.architecture}, ${teacher.model.countParams()} params) scores ${(teacherAccuracy * 100).toFixed(2)}% on the ${train.count} training examples; ` +
        `student ${student.meta.architecture} with ${model.countParams()} params. T = ${params.temperature}, α = ${params.alpha}, labels "${params.labels}"`,
    );

    // The loop sees example indices as labels (see the file comment).
    const indexed: SplitData = {
      count: train.count,
      x: train.x,
      y: Int32Array.from({ length: train.count }, (_, i) => i),
    };
    const options = { temperature: params.temperature, alpha: params.alpha };
    const jitter = params.augment === 'translate';
    let pendingStats: tf.Tensor | undefined;
    const distillLoss: LossFn = (_model, x, index, training) => {
      const zs = studentHead.logits(x, training);
      const zt = jitter
        ? teacherHead.logits(tf.reshape(x, [x.shape[0], ...teacherShape]), false)
        : tf.gather(teacherLogits, index);
      const truth = tf.gather(trainLabels, index);
      const teacherTop = tf.cast(tf.argMax(zt, -1), 'int32');
      const targets = params.labels === 'none' ? teacherTop : truth;
      const { loss, soft, hard } = distillationLoss(zs, zt, targets, options);
      const studentTop = tf.cast(tf.argMax(zs, -1), 'int32');
      const n = zs.shape[0];
      const correct = tf.sum(tf.cast(tf.equal(studentTop, truth), 'float32'));
      const agree = tf.sum(tf.cast(tf.equal(studentTop, teacherTop), 'float32'));
      pendingStats?.dispose();
      pendingStats = tf.keep(tf.stack([correct, agree, tf.mul(soft, n), tf.mul(hard, n), tf.scalar(n)]));
      return loss;
    };
    const lossFn = jitter
      ? translatedLoss(distillLoss, translationShape(ctx.nodeId, manifest.inputShape), params.augmentShift)
      : distillLoss;
    const evaluateFn: LossFn = (_model, x, y) => {
      const zs = studentHead.logits(x, false);
      const zt = teacherHead.logits(tf.reshape(x, [x.shape[0], ...teacherShape]), false);
      const targets = params.labels === 'none' ? tf.cast(tf.argMax(zt, -1), 'int32') : y;
      return { loss: distillationLoss(zs, zt, targets, options).loss, scores: zs };
    };

    let epochSums = new Float64Array(5);
    let lastStep = 0;
    const history: Array<Record<string, number>> = [];
    const teacherValidation = validation
      ? predictClasses(teacher.model, validation, teacherShape)
      : undefined;
    const stepsPerEpoch = Math.ceil(train.count / params.batchSize);
    const { optimizer, config } = fineTuneSetup(params, stepsPerEpoch);
    const outputs = new TrainingOutputs({ ctx, model, params, stepsPerEpoch });
    const extraHooks = outputs.hooks();
    try {
      const result = await runTrainingLoop({
        ctx,
        model,
        train: indexed,
        ...(validation ? { validation } : {}),
        inputShape: studentShape,
        lossFn,
        evaluateFn,
        optimizer,
        config,
        hooks: {
          afterStep: (info) => {
            extraHooks.afterStep?.(info);
            lastStep = info.globalStep;
            if (!pendingStats) return;
            const values = pendingStats.dataSync();
            pendingStats.dispose();
            pendingStats = undefined;
            for (let i = 0; i < 5; i++) epochSums[i]! += values[i]!;
          },
          afterEpoch: (record) => {
            extraHooks.afterEpoch?.(record);
            const [correct = 0, agree = 0, soft = 0, hard = 0, n = 0] = epochSums;
            const at = { step: lastStep, epoch: record.epoch };
            const figures: Record<string, number> = {
              accuracy: correct / Math.max(1, n),
              agreement: agree / Math.max(1, n),
              soft_loss: soft / Math.max(1, n),
              hard_loss: hard / Math.max(1, n),
            };
            if (validation && teacherValidation) {
              figures.val_agreement = agreement(
                predictClasses(model, validation, studentShape),
                teacherValidation,
              );
            }
            for (const [name, value] of Object.entries(figures)) ctx.metric(name, value, at);
            const entry: Record<string, number> = { epoch: record.epoch, loss: record.loss, ...figures };
            if (record.val_loss !== undefined) entry.val_loss = record.val_loss;
            if (record.val_accuracy !== undefined) entry.val_accuracy = record.val_accuracy;
            history.push(entry);
            epochSums = new Float64Array(5);
          },
          // The float64 sums travel bit for bit as int32 pairs, so a resumed epoch reports the same.
          saveState: () => ({
            ...extraHooks.saveState?.(),
            [ACCUMULATOR_STATE]: { shape: [10], values: new Int32Array(Float64Array.from(epochSums).buffer) },
          }),
          loadState: (arrays) => {
            extraHooks.loadState?.(arrays);
            const saved = arrays[ACCUMULATOR_STATE];
            if (saved?.values instanceof Int32Array && saved.values.length === 10) {
              epochSums = new Float64Array(Int32Array.from(saved.values).buffer);
            }
          },
        },
      });

      const final = history.at(-1);
      const outMeta: ModelMeta = {
        ...student.meta,
        trained: true,
        preprocessing: preprocessingOfDataset({
          ...manifest,
          artifactMeta: requireInput(ctx, 'dataset', 'dataset').meta,
        }),
        distillation: {
          teacher: {
            architecture: teacher.meta.architecture,
            versionId: ctx.inputs.teacher?.meta.versionId ?? null,
          },
          temperature: params.temperature,
          alpha: params.alpha,
          labels: params.labels,
        },
      };
      const metrics: Record<string, number> = {};
      for (const key of ['loss', 'accuracy', 'agreement', 'val_loss', 'val_accuracy', 'val_agreement']) {
        const value = final?.[key];
        if (typeof value === 'number') metrics[key] = value;
      }
      const saved = await outputs.save({
        finalStep: result.globalStep,
        metrics,
        output: {
          meta: outMeta,
          artifactMeta: (figures) => ({
            ...modelStats(model),
            kind: student!.meta.kind,
            architecture: student!.meta.architecture,
            inputShape: student!.meta.inputShape,
            numClasses: student!.meta.numClasses,
            trained: true,
            distillation: outMeta.distillation,
            metrics: figures,
          }),
        },
        ...(validation ? { validation: { split: validation, inputShape: studentShape } } : {}),
      });
      ctx.flush();
      return {
        epochs: result.epochsRun,
        steps: result.globalStep,
        temperature: params.temperature,
        alpha: params.alpha,
        labels: params.labels,
        teacherTrainAccuracy: teacherAccuracy,
        accuracy: final?.accuracy ?? null,
        agreement: final?.agreement ?? null,
        softLoss: final?.soft_loss ?? null,
        hardLoss: final?.hard_loss ?? null,
        valAccuracy: final?.val_accuracy ?? null,
        valAgreement: final?.val_agreement ?? null,
        stoppedEarly: result.stoppedEarly,
        restoredBest: result.restoredBest,
        samplesPerSecond: Math.round(result.samplesPerSecond),
        resumedFromStep: result.resumedFromStep,
        history,
        ...saved,
      };
    } finally {
      outputs.dispose();
      optimizer.dispose();
      pendingStats?.dispose();
    }
  } finally {
    tf.dispose(owned);
    teacher.model.dispose();
    student?.model.dispose();
  }
}
