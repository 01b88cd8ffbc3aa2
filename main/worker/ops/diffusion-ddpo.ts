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
import type { ParamsOf } from '../../nodes/define';
import type { diffusionDdpoNode } from '../../nodes/diffusion-ddpo';
import { requireInput, type OpContext, type OpSummary } from '../context';
import { computeAdvantages, concatChains } from '../diffusion/ddpo-advantages';
import {
  DDPO_HISTORY_FILE,
  reportEpoch,
  resumeDdpo,
  writeDdpoCheckpoint,
  type DdpoEpoch,
} from '../diffusion/ddpo-epochs';
import { ddpoSampler } from '../diffusion/ddpo-params';
import { updatePolicy } from '../diffusion/ddpo-update';
import { ADAPTERS_DIR, type LoraAdapters } from '../diffusion/lora';
import { loadDiffusionModel, saveDiffusionModel, type DiffusionModelMeta } from '../diffusion/model-io';
import {
  attachLora,
  gridScale,
  loadClassifier,
  requireDiffusionModel,
  requireSchedule,
  announceTrainedModel,
} from '../diffusion/op-support';
import { writeSampleGrid } from '../diffusion/png-grid';
import { computeRewards, summarize, type RewardClassifier } from '../diffusion/rewards';
import {
  modelNoiseFn,
  sampleImages,
  toUnitRange,
  type NoiseFn,
  type SampleChain,
} from '../diffusion/samplers';
import { checkSteps } from '../diffusion/sample-batches';
import { MODEL_DIR } from '../models/model-file';
import { trainingOptimizer } from '../train/config';
import { trainableVariables } from '../train/loop';
import { mixSeed } from '../train/rng';

const SALT_SAMPLING = 0x4444_504f;

/** `diffusion.ddpo`: see the file comment. */
export async function diffusionDdpo(
  ctx: OpContext,
  params: ParamsOf<typeof diffusionDdpoNode>,
): Promise<OpSummary> {
  const { reward, targetClass, algorithm, epochs, samplesPerEpoch, trainBatchSize, innerEpochs } = params;
  const { promptClasses, clipRange, advantageClip, advantageNormalization, method } = params;
  const { loraRank, loraAlpha, loraTargets, learningRate, sampleEvery, reportKl } = params;
  const sampler = ddpoSampler(params);

  const loaded = await requireDiffusionModel(ctx);
  const { model, spec, meta } = loaded;
  let classifier: RewardClassifier | undefined;
  let reference: Awaited<ReturnType<typeof loadDiffusionModel>> | undefined;
  let adapters: LoraAdapters | undefined;
  let initial: tf.Tensor[] = [];
  const optimizer = trainingOptimizer(params);
  try {
    const schedule = requireSchedule(ctx, loaded);
    checkSteps(ctx, sampler.steps, schedule, 'sampleSteps');
    const loraConfig = { rank: loraRank, alpha: loraAlpha, targets: loraTargets };
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
      ({ adapters, noise: policy, trainable } = attachLora(model, base, loraConfig, ctx.seed));
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
      ({ startEpoch, globalStep } = resumeDdpo(ctx.resumeFrom, model, optimizer, adapters, history));
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
      writeDdpoCheckpoint(ctx, model, optimizer, adapters, {
        history,
        epochsDone,
        globalStep,
        totalSteps,
        stepsPerEpoch,
      });
      lastCheckpointEpoch = epochsDone;
    };
    const stopIfCancelled = (epochsDone: number): void => {
      if (!ctx.signal.aborted) return;
      if (lastCheckpointEpoch !== epochsDone) saveCheckpoint(epochsDone);
      ctx.flush();
      ctx.throwIfCancelled();
    };

    const units = samplingBatches + stepsPerEpoch;
    for (let epoch = startEpoch; epoch < epochs; epoch++) {
      const began = performance.now();
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
          { scale: gridScale(spec.imageSize), columns: 8 },
        );
        ctx.sample(path, epoch + 1);
      }

      // 2. Policy-gradient updates on the recorded transitions.
      const updated = await updatePolicy({
        params,
        seed: ctx.seed,
        epoch,
        globalStep,
        minibatches,
        stepsPerEpoch,
        totalSteps,
        policy,
        spec,
        schedule,
        chain,
        advantages,
        trainable,
        optimizer,
        onStep: (stepsDone) => ctx.progress(epoch * units + samplingBatches + stepsDone, epochs * units),
      });
      globalStep = updated.globalStep;

      const record: DdpoEpoch = {
        epoch: epoch + 1,
        rewardMean: stats.mean,
        rewardStd: stats.std,
        rewardMin: stats.min,
        rewardMax: stats.max,
        loss: updated.loss,
        approxKl: updated.approxKl,
        clipFraction: updated.clipFraction,
        klToBase: referenceNoise ? summarize(kl).mean : null,
        weightDrift: weightDrift(),
        learningRate: updated.learningRate,
        seconds: (performance.now() - began) / 1000,
      };
      reportEpoch(ctx, record, epochs, rewards, chain.labels, distinctClasses);
      history.push(record);
      saveCheckpoint(epoch + 1);
      stopIfCancelled(epoch + 1);
    }

    // Fresh samples of the final model with the first epoch's noise: a before/after pair.
    const finalRewards = new Float32Array(samplesPerEpoch);
    const gridCount = Math.min(samplesPerEpoch, 32);
    const size = shape[0] * shape[1] * shape[2];
    const finalImages = new Float32Array(gridCount * size);
    for (let b = 0; b < samplingBatches; b++) {
      ctx.throwIfCancelled();
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
      { scale: gridScale(spec.imageSize), columns: 8 },
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
    announceTrainedModel(ctx, outDir, model, meta, {
      description,
      metrics: {
        reward_mean: finalStats.mean,
        ...(last?.klToBase != null ? { kl_to_base: last.klToBase } : {}),
        weight_drift: last?.weightDrift ?? 0,
      },
      trainableParams,
      trainableFraction: trainableParams / baseParams,
      ...(adaptersDir ? { lora: { config: loraConfig, adaptersDir } } : {}),
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
