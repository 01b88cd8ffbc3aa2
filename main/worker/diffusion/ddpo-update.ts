/**
 * One epoch of DDPO policy-gradient updates on the recorded transitions (see ops/ddpo.ts): for each
 * inner epoch, minibatches of chains in a seeded order; per minibatch, the loss summed over a seeded
 * subset of the stochastic timesteps, gradients averaged over them and clipped, one optimiser step.
 */
import * as tf from '@tensorflow/tfjs';
import { clipByGlobalNorm } from '../train/loop';
import type { Optimizer } from '../train/optimizers';
import { Rng, mixSeed, permutation } from '../train/rng';
import { learningRateAt } from '../train/schedules';
import { ddpoSampler, type DdpoParams } from './ddpo-params';
import { transitionLogProb, type NoiseFn, type SampleChain } from './samplers';
import type { NoiseSchedule } from './schedule';
import type { UnetSpec } from './unet';

const SALT_TRAIN_ORDER = 0x5452_4f44;

export interface PolicyUpdate {
  params: DdpoParams;
  seed: number;
  epoch: number;
  /** Optimiser steps taken before this epoch. */
  globalStep: number;
  minibatches: number;
  stepsPerEpoch: number;
  totalSteps: number;
  policy: NoiseFn;
  spec: UnetSpec;
  schedule: NoiseSchedule;
  chain: SampleChain;
  advantages: Float32Array;
  trainable: tf.Variable[];
  optimizer: Optimizer;
  /** Called after each optimiser step with the number of steps taken this epoch. */
  onStep: (stepsDone: number) => void;
}

/** Means over the epoch's loss terms (one a trained timestep of a minibatch). */
export interface PolicyUpdateResult {
  loss: number;
  approxKl: number;
  clipFraction: number;
  /** The learning rate of the epoch's last step. */
  learningRate: number;
  globalStep: number;
}

export async function updatePolicy(update: PolicyUpdate): Promise<PolicyUpdateResult> {
  const { params, seed: taskSeed, epoch, minibatches, stepsPerEpoch, totalSteps } = update;
  const { policy, spec, schedule, chain, advantages, trainable, optimizer, onStep } = update;
  const { algorithm, samplesPerEpoch, trainBatchSize, innerEpochs, clipRange, timestepFraction } = params;
  const { learningRate, schedule: lrSchedule, minLearningRate, warmupSteps, stepEvery, stepGamma } = params;
  const sampler = ddpoSampler(params);
  const { gradientClip } = params;
  let globalStep = update.globalStep;
  const stochastic = chain.plan.map((step, i) => (step.stochastic ? i : -1)).filter((i) => i >= 0);
  const trainSteps = Math.max(1, Math.round(stochastic.length * timestepFraction));
  let lossSum = 0;
  let klSum = 0;
  let clipSum = 0;
  let terms = 0;
  let learningRateUsed = learningRate;
  for (let inner = 0; inner < innerEpochs; inner++) {
    const order = permutation(minibatches, mixSeed(taskSeed, SALT_TRAIN_ORDER, epoch, inner));
    for (let m = 0; m < minibatches; m++) {
      const first = order[m]! * trainBatchSize;
      const rows = Array.from(
        { length: Math.min(samplesPerEpoch, first + trainBatchSize) - first },
        (_, i) => first + i,
      );
      const rng = new Rng(mixSeed(taskSeed, SALT_TRAIN_ORDER, epoch, inner, m));
      const steps =
        trainSteps >= stochastic.length
          ? stochastic
          : [...permutation(stochastic.length, rng.nextUint32())]
              .slice(0, trainSteps)
              .map((i) => stochastic[i]!);
      const oldLogProbs = steps.map((j) => tf.tensor1d(rows.map((r) => chain.logProbs[j]![r]!)));
      const advantage = tf.tensor1d(rows.map((r) => advantages[r]!));
      let sums: tf.Tensor[] | undefined;
      steps.forEach((j, k) => {
        const { grads, loss, approxKl, clipped } = tf.tidy(() => {
          let logRatio: tf.Tensor | undefined;
          const { value, grads: named } = tf.variableGrads(() => {
            const logp = transitionLogProb(policy, spec, schedule, sampler, chain, j, rows);
            // variableGrads tidies the forward pass; keep the log-ratio for the statistics.
            logRatio = tf.keep(tf.sub(logp, oldLogProbs[k]!));
            if (algorithm === 'ddpo-sf') return tf.mean(tf.mul(tf.neg(advantage), logp));
            const ratio = tf.exp(logRatio);
            const unclipped = tf.mul(tf.neg(advantage), ratio);
            const clippedLoss = tf.mul(
              tf.neg(advantage),
              tf.clipByValue(ratio, 1 - clipRange, 1 + clipRange),
            );
            return tf.mean(tf.maximum(unclipped, clippedLoss));
          }, trainable);
          const list = trainable.map((v) => named[v.name] ?? tf.zerosLike(v));
          const ratio = logRatio!;
          const statistics = {
            grads: list,
            loss: value.dataSync()[0]!,
            approxKl: tf.mean(tf.square(ratio)).dataSync()[0]! / 2,
            clipped: tf
              .mean(tf.cast(tf.greater(tf.abs(tf.sub(tf.exp(ratio), 1)), clipRange), 'float32'))
              .dataSync()[0]!,
          };
          ratio.dispose();
          return statistics;
        });
        if (sums) {
          const previous = sums;
          sums = previous.map((s, i) => tf.add(s, grads[i]!));
          tf.dispose([...previous, ...grads]);
        } else {
          sums = grads;
        }
        lossSum += loss;
        klSum += approxKl;
        clipSum += clipped;
        terms += 1;
      });
      tf.dispose([...oldLogProbs, advantage]);
      learningRateUsed = learningRateAt(globalStep, totalSteps, {
        name: lrSchedule,
        learningRate,
        minLearningRate,
        warmupSteps,
        stepEvery: stepEvery > 0 ? stepEvery : stepsPerEpoch,
        stepGamma,
      });
      const mean = tf.tidy(() => {
        const averaged = sums!.map((s) => tf.div(s, steps.length));
        return gradientClip > 0 ? clipByGlobalNorm(averaged, gradientClip) : averaged;
      });
      tf.dispose(sums);
      optimizer.apply(trainable, mean, learningRateUsed);
      tf.dispose(mean);
      globalStep += 1;
      onStep(inner * minibatches + m + 1);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  return {
    loss: lossSum / Math.max(1, terms),
    approxKl: klSum / Math.max(1, terms),
    clipFraction: clipSum / Math.max(1, terms),
    learningRate: learningRateUsed,
    globalStep,
  };
}
