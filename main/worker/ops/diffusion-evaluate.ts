import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ParamsOf } from '../../nodes/define';
import type { RewardName } from '../../nodes/diffusion-params';
import type { diffusionEvaluateNode } from '../../nodes/diffusion-evaluate';
import type { OpContext, OpSummary } from '../context';
import { gridScale, loadClassifier } from '../diffusion/op-support';
import { writeSampleGrid } from '../diffusion/png-grid';
import {
  classifierProbabilities,
  computeRewards,
  summarize,
  type RewardClassifier,
} from '../diffusion/rewards';
import {
  gridColumns,
  openForSampling,
  sampleInBatches,
  sampleLabels,
  samplerConfig,
} from '../diffusion/sample-batches';
import { modelNoiseFn } from '../diffusion/samplers';

export const EVALUATION_FILE = 'evaluation.json';

/** `diffusion.evaluate`: reward statistics and classifier scores of fresh samples. */
export async function diffusionEvaluate(
  ctx: OpContext,
  params: ParamsOf<typeof diffusionEvaluateNode>,
): Promise<OpSummary> {
  const sampler = samplerConfig(params);
  const { loaded, schedule } = await openForSampling(ctx, sampler);
  const { model, spec } = loaded;
  const { count, rewards, targetClass, labels: given, seed: seedParam, batchSize } = params;
  let classifier: RewardClassifier | undefined;
  try {
    classifier = await loadClassifier(ctx, 'classifier', false);
    const labels = sampleLabels(ctx, spec, given, count);
    const seed = seedParam || ctx.seed;
    const shape: [number, number, number] = [spec.imageSize, spec.imageSize, spec.channels];
    const rewardValues = new Map<RewardName, Float32Array>(
      rewards.map((name) => [name, new Float32Array(count)]),
    );
    const began = performance.now();
    const unit = sampleInBatches(ctx, {
      noise: modelNoiseFn(model, spec),
      spec,
      schedule,
      sampler,
      labels,
      seed,
      batchSize,
      onImages: (images, start) => {
        for (const name of rewards) rewardValues.get(name)!.set(computeRewards(name, images), start);
      },
    });
    const seconds = (performance.now() - began) / 1000;
    const gridCount = Math.min(count, 100);
    const grid = writeSampleGrid(join(ctx.taskDir, 'samples.png'), unit, gridCount, shape, {
      columns: gridColumns(spec, given, gridCount),
      scale: gridScale(spec.imageSize),
    });
    ctx.sample(grid, 0);

    const evaluation: Record<string, unknown> = {
      count,
      sampler,
      seed,
      labels: given,
      secondsSampling: seconds,
      rewards: {},
    };
    const at = { step: 0 };
    for (const [name, values] of rewardValues) {
      const stats = summarize(values);
      (evaluation.rewards as Record<string, unknown>)[name] = stats;
      ctx.metric(`reward_${name}_mean`, stats.mean, at);
      ctx.metric(`reward_${name}_std`, stats.std, at);
    }
    if (classifier) {
      const unitTensor = tf.tensor4d(unit, [count, ...shape]);
      const probs = classifierProbabilities(classifier, unitTensor);
      unitTensor.dispose();
      const k = classifier.numClasses;
      let confidence = 0;
      let correct = 0;
      let conditioned = 0;
      const perClass = Array.from({ length: k }, () => ({ correct: 0, count: 0 }));
      const predictedHistogram = new Array<number>(k).fill(0);
      const target = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        let best = 0;
        for (let c = 1; c < k; c++) if (probs[i * k + c]! > probs[i * k + best]!) best = c;
        confidence += probs[i * k + best]!;
        predictedHistogram[best]! += 1;
        if (targetClass >= 0 && targetClass < k) target[i] = probs[i * k + targetClass]!;
        const label = labels[i]!;
        if (label >= 0 && label < k) {
          conditioned += 1;
          perClass[label]!.count += 1;
          if (best === label) {
            correct += 1;
            perClass[label]!.correct += 1;
          }
        }
      }
      const scores: Record<string, unknown> = {
        meanConfidence: confidence / count,
        predictedHistogram,
      };
      ctx.metric('sample_confidence', confidence / count, at);
      if (conditioned > 0) {
        scores.accuracy = correct / conditioned;
        scores.perClassAccuracy = perClass.map((entry) =>
          entry.count > 0 ? entry.correct / entry.count : null,
        );
        ctx.metric('sample_accuracy', correct / conditioned, at);
        perClass.forEach((entry, c) => {
          if (entry.count > 0) ctx.metric(`sample_accuracy_class_${c}`, entry.correct / entry.count, at);
        });
      }
      if (targetClass >= 0 && targetClass < k) {
        const stats = summarize(target);
        scores.targetClass = targetClass;
        scores.targetProbability = stats;
        ctx.metric('reward_classifier_mean', stats.mean, at);
      }
      evaluation.classifier = scores;
    }
    writeFileSync(join(ctx.taskDir, EVALUATION_FILE), JSON.stringify(evaluation, null, 2));
    ctx.log(
      `Scored ${count} samples` +
        (evaluation.classifier
          ? `: classifier accuracy ${String((evaluation.classifier as { accuracy?: number }).accuracy?.toFixed(3) ?? 'n/a')}, confidence ${(evaluation.classifier as { meanConfidence: number }).meanConfidence.toFixed(3)}`
          : ''),
    );
    return evaluation;
  } finally {
    classifier?.model.dispose();
    model.dispose();
  }
}
