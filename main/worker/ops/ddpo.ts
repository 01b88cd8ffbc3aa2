/**
 * `diffusion-ddpo`: reinforcement-learning fine-tuning of a diffusion model on a reward (Black et
 * al. 2023, "Training Diffusion Models with Reinforcement Learning"; PAPERS.md "DDPO").
 *
 * Each epoch: sample `samplesPerEpoch` chains with the current model (DDIM with η > 0 or DDPM, so
 * every step but the last is a Gaussian with a closed-form log-likelihood), score the final images
 * with the reward, turn rewards into advantages (normalised over the batch or per conditioning
 * class, i.e. the paper's per-prompt stat tracking, then clipped), and update the model on the
 * recorded transitions:
 * - DDPO-SF: the score-function (REINFORCE) estimator, loss = −E[A · log p_θ(x_{t'} | x_t, c)];
 * - DDPO-IS: importance-sampled with PPO-style clipping, ρ = p_θ / p_θold,
 *   loss = E[max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε))].
 * Gradients are averaged over the trained timesteps of a minibatch of chains, then one optimiser
 * step is taken. Log-likelihoods are means over pixels, as in the reference implementation.
 *
 * Reported per epoch: reward mean / std / min / max (and per class when several classes are
 * prompted), the policy loss, approx KL between the sampling and updated policies
 * (½·E[(log ρ)²]) and the clipped fraction, KL to the starting model along the sampled chains
 * (Σ over steps of the per-pixel mean Gaussian KL, same σ), and the weight drift
 * ‖θ − θ_0‖ / ‖θ_0‖. Updates use LoRA adapters (merged into the saved model) or all weights.
 * Checkpoints at each epoch's end; a resumed run continues with identical samples.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { OpContext, OpSummary } from '../context';
import { LORA_TARGETS, LoraAdapters, ADAPTERS_DIR } from '../diffusion/lora';
import { loadDiffusionModel, saveDiffusionModel, type DiffusionModelMeta } from '../diffusion/model-io';
import { ParamReader } from '../diffusion/params';
import { writeSampleGrid } from '../diffusion/png-grid';
import { REWARDS, computeRewards, summarize, type RewardClassifier } from '../diffusion/rewards';
import {
  modelNoiseFn,
  sampleImages,
  toUnitRange,
  transitionLogProb,
  type NoiseFn,
  type SampleChain,
} from '../diffusion/samplers';
import { modelStats } from '../models/stats';
import { readCheckpoint, writeCheckpoint, type EpochRecord, type LoopState } from '../train/checkpoint';
import { clipByGlobalNorm, readWeights, trainableVariables, writeWeights } from '../train/loop';
import { OPTIMIZER_NAMES, createOptimizer, type NamedArrays } from '../train/optimizers';
import { Rng, mixSeed, permutation } from '../train/rng';
import { SCHEDULE_NAMES, learningRateAt } from '../train/schedules';
import {
  atNode,
  checkSteps,
  loadClassifier,
  readSamplerParams,
  requireDiffusionModel,
  requireSchedule,
  throwIfCancelled,
} from './diffusion';
import { MODEL_DIR, requireInput } from './model';

export const DDPO_ALGORITHMS = ['ddpo-is', 'ddpo-sf'] as const;
export const ADVANTAGE_NORMALIZATIONS = ['batch', 'per-class', 'none'] as const;
export const DDPO_HISTORY_FILE = 'ddpo-history.json';

const SALT_SAMPLING = 0x4444_504f;
const SALT_TRAIN_ORDER = 0x5452_4f44;

/** Per-epoch figures. */
export interface DdpoEpoch {
  epoch: number;
  rewardMean: number;
  rewardStd: number;
  rewardMin: number;
  rewardMax: number;
  loss: number;
  approxKl: number;
  clipFraction: number;
  klToBase: number | null;
  weightDrift: number;
  learningRate: number;
  seconds: number;
  rewardByClass?: Record<string, number>;
}

/**
 * Advantages from rewards: normalised over the batch, per conditioning class (classes with fewer
 * than two samples fall back to the batch statistics) or not at all; then clipped to ±clip.
 */
export function computeAdvantages(
  rewards: ArrayLike<number>,
  labels: ArrayLike<number>,
  mode: (typeof ADVANTAGE_NORMALIZATIONS)[number],
  clip: number,
): Float32Array {
  const n = rewards.length;
  const out = new Float32Array(n);
  const all = summarize(rewards);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const key = mode === 'per-class' ? labels[i]! : 0;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  }
  for (const rows of groups.values()) {
    const stats = rows.length >= 2 ? summarize(rows.map((i) => rewards[i]!)) : all;
    for (const i of rows) {
      const value = mode === 'none' ? rewards[i]! : (rewards[i]! - stats.mean) / (stats.std + 1e-8);
      out[i] = Math.max(-clip, Math.min(clip, value));
    }
  }
  return out;
}

/** Concatenates chains sampled in batches (same plan) into one. */
export function concatChains(chains: SampleChain[]): SampleChain {
  const first = chains[0]!;
  const join32 = (parts: Float32Array[]): Float32Array => {
    const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  };
  return {
    plan: first.plan,
    labels: Int32Array.from(chains.flatMap((chain) => Array.from(chain.labels))),
    latents: first.latents.map((_, i) => join32(chains.map((chain) => chain.latents[i]!))),
    logProbs: first.logProbs.map((_, i) => join32(chains.map((chain) => chain.logProbs[i]!))),
  };
}

/** `diffusion.ddpo`: see the file comment. */
export const diffusionDdpoOp = atNode(ddpo);

async function ddpo(ctx: OpContext): Promise<OpSummary> {
  const reader = new ParamReader(ctx.params, ctx.nodeId);
  const reward = reader.choice('reward', REWARDS, 'compressibility');
  const targetClass = reader.integer('targetClass', 0, { min: 0, max: 100_000 });
  const algorithm = reader.choice('algorithm', DDPO_ALGORITHMS, 'ddpo-is');
  const epochs = reader.integer('epochs', 20, { min: 1, max: 100_000 });
  const samplesPerEpoch = reader.integer('samplesPerEpoch', 32, { min: 2, max: 100_000 });
  const trainBatchSize = reader.integer('trainBatchSize', 16, { min: 1, max: 100_000 });
  const innerEpochs = reader.integer('innerEpochs', 1, { min: 1, max: 100 });
  const promptClasses = reader.integers('promptClasses', [-1], { min: -1, max: 100_000 });
  const clipRange = reader.number('clipRange', 1e-4, { above: 0, max: 10 });
  const advantageClip = reader.number('advantageClip', 5, { above: 0, max: 1e6 });
  const advantageNormalization = reader.choice('advantageNormalization', ADVANTAGE_NORMALIZATIONS, 'batch');
  const timestepFraction = reader.number('timestepFraction', 1, { above: 0, max: 1 });
  const method = reader.choice('method', ['lora', 'full'] as const, 'lora');
  const loraRank = reader.integer('loraRank', 4, { min: 1, max: 1024 });
  const loraAlpha = reader.number('loraAlpha', 4, { above: 0, max: 1e6 });
  const loraTargets = reader.choice('loraTargets', LORA_TARGETS, 'all');
  const optimizerName = reader.choice('optimizer', OPTIMIZER_NAMES, 'adam');
  const learningRate = reader.number('learningRate', 3e-4, { min: 0, max: 10 });
  const beta1 = reader.number('beta1', 0.9, { min: 0, max: 1 });
  const beta2 = reader.number('beta2', 0.999, { min: 0, max: 1 });
  const lionBeta2 = reader.number('lionBeta2', 0.99, { min: 0, max: 1 });
  const momentum = reader.number('momentum', 0.9, { min: 0, max: 1 });
  const weightDecay = reader.number('weightDecay', 0, { min: 0, max: 1 });
  const lrSchedule = reader.choice('schedule', SCHEDULE_NAMES, 'constant');
  const warmupSteps = reader.integer('warmupSteps', 0, { min: 0 });
  const minLearningRate = reader.number('minLearningRate', 0, { min: 0, max: 10 });
  const stepEvery = reader.integer('stepEvery', 0, { min: 0 });
  const stepGamma = reader.number('stepGamma', 0.1, { min: 0, max: 1 });
  const gradientClip = reader.number('gradientClip', 1, { min: 0, max: 1e6 });
  const sampleEvery = reader.integer('sampleEvery', 1, { min: 0, max: 100_000 });
  const reportKl = reader.boolean('reportKl', true);
  const sampler = readSamplerParams(
    reader,
    { method: 'ddim', steps: 20, eta: 1, guidanceScale: 1, clipDenoised: true },
    { method: 'sampler', steps: 'sampleSteps' },
  );
  reader.done();
  if (sampler.method === 'ddim' && sampler.eta === 0) {
    throw new DistilleryError(
      'PARAM_OUT_OF_RANGE',
      `Node "${ctx.nodeId}": DDPO needs stochastic steps: eta must be > 0 with the DDIM sampler, got 0`,
      {
        nodeId: ctx.nodeId,
        param: 'eta',
        expected: '> 0 (the paper uses 1)',
        received: 0,
      },
    );
  }

  const loaded = await requireDiffusionModel(ctx);
  const { model, spec, meta } = loaded;
  let classifier: RewardClassifier | undefined;
  let reference: Awaited<ReturnType<typeof loadDiffusionModel>> | undefined;
  let adapters: LoraAdapters | undefined;
  let initial: tf.Tensor[] = [];
  const optimizer = createOptimizer({
    name: optimizerName,
    momentum,
    beta1,
    beta2: optimizerName === 'lion' ? lionBeta2 : beta2,
    weightDecay,
  });
  try {
    const schedule = requireSchedule(ctx, loaded);
    checkSteps(ctx, sampler.steps, schedule, 'sampleSteps');
    if (reward === 'classifier') {
      classifier = await loadClassifier(ctx, 'reward_model', true);
      if (targetClass >= classifier!.numClasses) {
        throw new DistilleryError(
          'PARAM_OUT_OF_RANGE',
          `Node "${ctx.nodeId}": targetClass must be below the classifier's ${classifier!.numClasses} classes, got ${targetClass}`,
          {
            nodeId: ctx.nodeId,
            param: 'targetClass',
            expected: `0 ≤ targetClass < ${classifier!.numClasses}`,
            received: targetClass,
          },
        );
      }
    } else if (ctx.inputs.reward_model) {
      ctx.log(`A reward model is connected but the reward is ${reward}; it is not used`, 'warn');
    }
    for (const label of promptClasses) {
      if (label >= spec.numClasses) {
        throw new DistilleryError(
          'PARAM_OUT_OF_RANGE',
          `Node "${ctx.nodeId}": promptClasses must be −1 (unconditional) or below the model's ${spec.numClasses} classes, got ${label}`,
          {
            nodeId: ctx.nodeId,
            param: 'promptClasses',
            expected: `−1 ≤ class < ${spec.numClasses}`,
            received: promptClasses,
          },
        );
      }
    }

    const base = modelNoiseFn(model, spec);
    let policy: NoiseFn = base;
    let trainable = trainableVariables(model);
    let referenceNoise: NoiseFn | undefined;
    if (method === 'lora') {
      const lora = LoraAdapters.create(
        model,
        { rank: loraRank, alpha: loraAlpha, targets: loraTargets },
        ctx.seed,
      );
      adapters = lora;
      policy = (x, t, labels) => lora.withAdapters(() => base(x, t, labels));
      trainable = lora.variables;
      if (reportKl) referenceNoise = base;
    } else {
      initial = trainable.map((v) => v.clone());
      if (reportKl) {
        reference = await loadDiffusionModel(requireInput(ctx, 'model', 'model').path);
        referenceNoise = modelNoiseFn(reference.model, reference.spec);
      }
    }
    const trainableParams = trainable.reduce((sum, v) => sum + v.size, 0);
    const baseParams = model.countParams();
    const weightDrift = (): number => {
      if (adapters) {
        const norms = adapters.squaredNorms();
        return Math.sqrt(norms.delta / Math.max(norms.base, 1e-30));
      }
      return tf.tidy(() => {
        let delta = 0;
        let size = 0;
        trainable.forEach((v, i) => {
          delta += tf.sum(tf.square(tf.sub(v, initial[i]!))).dataSync()[0]!;
          size += tf.sum(tf.square(initial[i]!)).dataSync()[0]!;
        });
        return Math.sqrt(delta / Math.max(size, 1e-30));
      });
    };

    const labelsOf = (count: number): number[] =>
      Array.from({ length: count }, (_, i) => promptClasses[i % promptClasses.length]!);
    const labels = labelsOf(samplesPerEpoch);
    // Chains are sampled in the minibatches they are trained in: recomputing a log-likelihood on
    // the same rows in the same batch layout reproduces the recorded value exactly, so ratios of the
    // first update are exactly 1 and a clip range of 1e-4 clips policy change, not float noise.
    const samplingBatch = Math.min(samplesPerEpoch, trainBatchSize);
    const samplingBatches = Math.ceil(samplesPerEpoch / samplingBatch);
    const minibatches = Math.ceil(samplesPerEpoch / trainBatchSize);
    const stepsPerEpoch = innerEpochs * minibatches;
    const totalSteps = epochs * stepsPerEpoch;
    const distinctClasses = [...new Set(promptClasses)];
    const shape: [number, number, number] = [spec.imageSize, spec.imageSize, spec.channels];

    let startEpoch = 0;
    let globalStep = 0;
    const history: DdpoEpoch[] = [];
    if (ctx.resumeFrom) {
      const checkpoint = readCheckpoint(ctx.resumeFrom);
      writeWeights(model, checkpoint.weights, `${ctx.resumeFrom}/weights.json`);
      optimizer.load(checkpoint.optimizer);
      if (adapters) adapters.load(checkpoint.extra ?? {}, `${ctx.resumeFrom}/extra.json`);
      const stored = checkpoint.extra?.['ddpo/history'];
      if (stored)
        history.push(
          ...(JSON.parse(new TextDecoder().decode(Uint8Array.from(stored.values))) as DdpoEpoch[]),
        );
      startEpoch = checkpoint.loop.epoch;
      globalStep = checkpoint.loop.globalStep;
      ctx.log(`Resumed from ${ctx.resumeFrom}: epoch ${startEpoch + 1} of ${epochs}`);
    }

    const rewardOptions = { ...(classifier ? { classifier } : {}), targetClass };
    const what =
      method === 'lora'
        ? `LoRA r=${loraRank} (${trainableParams} = ${((100 * trainableParams) / baseParams).toFixed(2)}% of ${baseParams})`
        : `all ${baseParams} weights`;
    ctx.log(
      `${algorithm.toUpperCase()} on the ${reward} reward${reward === 'classifier' ? ` (target class ${targetClass})` : ''}: ${epochs} epochs × ${samplesPerEpoch} chains of ${sampler.method.toUpperCase()} ${sampler.steps} steps (η ${sampler.eta}, guidance ${sampler.guidanceScale}), ` +
        `prompts ${JSON.stringify(promptClasses)}, ${innerEpochs} inner epoch(s) × ${minibatches} minibatches of ${trainBatchSize}, training ${what}, lr ${learningRate}` +
        (algorithm === 'ddpo-is' ? `, clip range ${clipRange}` : ''),
    );

    let lastCheckpointEpoch = startEpoch;
    const saveCheckpoint = (epochsDone: number): void => {
      const loop: LoopState = {
        format: 1,
        seed: ctx.seed,
        epoch: epochsDone,
        batchInEpoch: 0,
        globalStep,
        totalSteps,
        stepsPerEpoch,
        accumulator: { lossSum: 0, examples: 0, correct: 0, scored: 0, batches: 0 },
        earlyStopping: { best: null, bestEpoch: 0, badEpochs: 0, stopped: false, bestWeights: null },
        history: history.map((h): EpochRecord => ({
          epoch: h.epoch,
          loss: h.loss,
          learningRate: h.learningRate,
        })),
      };
      const historyBytes = new TextEncoder().encode(JSON.stringify(history));
      const extra: NamedArrays = {
        ...(adapters?.state() ?? {}),
        'ddpo/history': { shape: [historyBytes.length], values: Int32Array.from(historyBytes) },
      };
      const path = writeCheckpoint(ctx.taskDir, globalStep, {
        weights: readWeights(model),
        optimizer: optimizer.state(),
        loop,
        extra,
      });
      lastCheckpointEpoch = epochsDone;
      ctx.checkpoint(path, globalStep);
    };
    const stopIfCancelled = (epochsDone: number): void => {
      if (!ctx.signal.aborted) return;
      if (lastCheckpointEpoch !== epochsDone) saveCheckpoint(epochsDone);
      ctx.flush();
      throwIfCancelled(ctx);
    };

    const units = samplingBatches + stepsPerEpoch;
    for (let epoch = startEpoch; epoch < epochs; epoch++) {
      const began = performance.now();
      const at = { step: epoch + 1, epoch: epoch + 1 };
      // 1. Sample chains with the current policy.
      const chains: SampleChain[] = [];
      const rewards = new Float32Array(samplesPerEpoch);
      const kl = new Float32Array(samplesPerEpoch);
      let gridImages: Float32Array | undefined;
      const gridCount = Math.min(samplesPerEpoch, 32);
      for (let b = 0; b < samplingBatches; b++) {
        const start = b * samplingBatch;
        const batchLabels = labels.slice(start, start + samplingBatch);
        const result = sampleImages(policy, spec, schedule, {
          ...sampler,
          labels: batchLabels,
          seed: mixSeed(ctx.seed, SALT_SAMPLING, epoch, b),
          record: true,
          ...(referenceNoise ? { reference: referenceNoise } : {}),
        });
        chains.push(result.chain!);
        rewards.set(computeRewards(reward, result.images, rewardOptions), start);
        if (result.klToReference) kl.set(result.klToReference, start);
        if (gridCount > 0 && start < gridCount) {
          const unit = toUnitRange(result.images);
          const size = shape[0] * shape[1] * shape[2];
          gridImages ??= new Float32Array(gridCount * size);
          gridImages.set(unit.subarray(0, Math.min(unit.length, (gridCount - start) * size)), start * size);
        }
        result.images.dispose();
        ctx.progress(epoch * units + b + 1, epochs * units);
        stopIfCancelled(epoch);
      }
      const chain = concatChains(chains);
      const stats = summarize(rewards);
      const advantages = computeAdvantages(rewards, chain.labels, advantageNormalization, advantageClip);
      if (sampleEvery > 0 && (epoch % sampleEvery === 0 || epoch === epochs - 1) && gridImages) {
        const path = writeSampleGrid(
          join(ctx.taskDir, 'samples', `epoch-${epoch + 1}.png`),
          gridImages,
          gridCount,
          shape,
          { scale: spec.imageSize <= 32 ? 3 : 1, columns: 8 },
        );
        ctx.sample(path, epoch + 1);
      }

      // 2. Policy-gradient updates on the recorded transitions.
      const stochastic = chain.plan.map((step, i) => (step.stochastic ? i : -1)).filter((i) => i >= 0);
      const trainSteps = Math.max(1, Math.round(stochastic.length * timestepFraction));
      let lossSum = 0;
      let klSum = 0;
      let clipSum = 0;
      let terms = 0;
      let learningRateUsed = learningRate;
      for (let inner = 0; inner < innerEpochs; inner++) {
        const order = permutation(minibatches, mixSeed(ctx.seed, SALT_TRAIN_ORDER, epoch, inner));
        for (let m = 0; m < minibatches; m++) {
          const first = order[m]! * trainBatchSize;
          const rows = Array.from(
            { length: Math.min(samplesPerEpoch, first + trainBatchSize) - first },
            (_, i) => first + i,
          );
          const rng = new Rng(mixSeed(ctx.seed, SALT_TRAIN_ORDER, epoch, inner, m));
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
          ctx.progress(epoch * units + samplingBatches + inner * minibatches + m + 1, epochs * units);
          await new Promise((resolve) => setImmediate(resolve));
        }
      }

      const record: DdpoEpoch = {
        epoch: epoch + 1,
        rewardMean: stats.mean,
        rewardStd: stats.std,
        rewardMin: stats.min,
        rewardMax: stats.max,
        loss: lossSum / Math.max(1, terms),
        approxKl: klSum / Math.max(1, terms),
        clipFraction: clipSum / Math.max(1, terms),
        klToBase: referenceNoise ? summarize(kl).mean : null,
        weightDrift: weightDrift(),
        learningRate: learningRateUsed,
        seconds: (performance.now() - began) / 1000,
      };
      ctx.metric('reward_mean', record.rewardMean, at);
      ctx.metric('reward_std', record.rewardStd, at);
      ctx.metric('reward_min', record.rewardMin, at);
      ctx.metric('reward_max', record.rewardMax, at);
      ctx.metric('loss', record.loss, at);
      ctx.metric('approx_kl', record.approxKl, at);
      ctx.metric('clip_fraction', record.clipFraction, at);
      if (record.klToBase !== null) ctx.metric('kl_to_base', record.klToBase, at);
      ctx.metric('weight_drift', record.weightDrift, at);
      ctx.metric('lr', record.learningRate, at);
      ctx.metric('seconds_per_epoch', record.seconds, at);
      if (distinctClasses.length > 1) {
        record.rewardByClass = {};
        for (const c of distinctClasses) {
          const values = Array.from(rewards).filter((_, i) => chain.labels[i] === c);
          const mean = summarize(values).mean;
          record.rewardByClass[String(c)] = mean;
          ctx.metric(`reward_mean_class_${c < 0 ? 'null' : c}`, mean, at);
        }
      }
      history.push(record);
      ctx.log(
        `epoch ${epoch + 1}/${epochs}: reward ${stats.mean.toFixed(4)} ± ${stats.std.toFixed(4)} [${stats.min.toFixed(4)}, ${stats.max.toFixed(4)}], ` +
          `loss ${record.loss.toExponential(2)}, approx KL ${record.approxKl.toExponential(2)}, clipped ${(100 * record.clipFraction).toFixed(0)}%, ` +
          `${record.klToBase !== null ? `KL to base ${record.klToBase.toExponential(2)}, ` : ''}drift ${record.weightDrift.toExponential(2)} (${record.seconds.toFixed(1)} s)`,
      );
      saveCheckpoint(epoch + 1);
      stopIfCancelled(epoch + 1);
    }

    // Fresh samples of the final model with the first epoch's noise: a before/after pair.
    const finalRewards = new Float32Array(samplesPerEpoch);
    const gridCount = Math.min(samplesPerEpoch, 32);
    const size = shape[0] * shape[1] * shape[2];
    const finalImages = new Float32Array(gridCount * size);
    for (let b = 0; b < samplingBatches; b++) {
      throwIfCancelled(ctx);
      const start = b * samplingBatch;
      const final = sampleImages(policy, spec, schedule, {
        ...sampler,
        labels: labels.slice(start, start + samplingBatch),
        seed: mixSeed(ctx.seed, SALT_SAMPLING, 0, b),
      });
      finalRewards.set(computeRewards(reward, final.images, rewardOptions), start);
      if (start < gridCount) {
        const unit = toUnitRange(final.images);
        finalImages.set(unit.subarray(0, Math.min(unit.length, (gridCount - start) * size)), start * size);
      }
      final.images.dispose();
    }
    const finalGrid = writeSampleGrid(
      join(ctx.taskDir, 'samples', 'final.png'),
      finalImages,
      gridCount,
      shape,
      {
        scale: spec.imageSize <= 32 ? 3 : 1,
        columns: 8,
      },
    );
    ctx.sample(finalGrid, epochs);

    let adaptersDir: string | undefined;
    if (adapters) {
      adaptersDir = adapters.save(join(ctx.taskDir, ADAPTERS_DIR), {
        baseModel: requireInput(ctx, 'model', 'model').meta.versionId ?? null,
      });
      adapters.merge();
    }
    const description =
      `${algorithm === 'ddpo-is' ? 'DDPO-IS' : 'DDPO-SF'} on ${reward} reward${reward === 'classifier' ? `, target ${targetClass}` : ''}, ${epochs} epochs` +
      (method === 'lora' ? `, LoRA r=${loraRank} (merged)` : ', full weights');
    const first = history[0];
    const last = history.at(-1);
    const historyEntry: Record<string, unknown> = {
      op: 'diffusion.ddpo',
      algorithm,
      reward,
      ...(reward === 'classifier' ? { targetClass } : {}),
      epochs,
      samplesPerEpoch,
      promptClasses,
      method,
      ...(method === 'lora' ? { loraRank, loraAlpha, loraTargets } : {}),
      rewardStart: first?.rewardMean ?? null,
      rewardEnd: last?.rewardMean ?? null,
      description,
    };
    const outMeta: DiffusionModelMeta = {
      ...meta,
      trained: true,
      diffusion: { ...meta.diffusion, history: [...meta.diffusion.history, historyEntry] },
    };
    const outDir = join(ctx.taskDir, MODEL_DIR);
    await saveDiffusionModel(model, outDir, outMeta);
    writeFileSync(join(ctx.taskDir, DDPO_HISTORY_FILE), JSON.stringify({ description, history }, null, 2));
    const finalStats = summarize(finalRewards);
    ctx.artifact('model', 'model', outDir, {
      ...modelStats(model),
      kind: 'diffusion',
      architecture: meta.architecture,
      inputShape: meta.inputShape,
      numClasses: meta.numClasses,
      trained: true,
      description,
      metrics: {
        reward_mean: finalStats.mean,
        ...(last?.klToBase != null ? { kl_to_base: last.klToBase } : {}),
        weight_drift: last?.weightDrift ?? 0,
      },
      trainableParams,
      trainableFraction: trainableParams / baseParams,
      ...(adaptersDir
        ? {
            lora: {
              rank: loraRank,
              alpha: loraAlpha,
              targets: loraTargets,
              adapterParams: trainableParams,
              adaptersDir,
              merged: true,
            },
          }
        : {}),
    });
    ctx.flush();
    return {
      description,
      epochs: history.length,
      steps: globalStep,
      rewardStart: first?.rewardMean ?? null,
      rewardEnd: last?.rewardMean ?? null,
      rewardFinalSamples: finalStats.mean,
      rewardCurve: history.map((h) => h.rewardMean),
      klToBase: last?.klToBase ?? null,
      weightDrift: last?.weightDrift ?? null,
      trainableParams,
      trainableFraction: trainableParams / baseParams,
    };
  } finally {
    classifier?.model.dispose();
    reference?.model.dispose();
    adapters?.dispose();
    tf.dispose(initial);
    optimizer.dispose();
    model.dispose();
  }
}
