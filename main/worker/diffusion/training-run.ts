/**
 * The body of `diffusion.train` and `diffusion.finetune`: DDPM training (ε-prediction MSE) with the
 * shared training loop, EMA weights and sample grids streamed while it trains. A fine-tune continues
 * the model's own schedule on other data, on all weights or on LoRA adapters (merged into the saved
 * model; the adapters are kept separately in `<taskDir>/adapters`).
 */
import { join } from 'node:path';
import { DistilleryError } from '../../base/errors';
import type { ParamsOf } from '../../nodes/define';
import type { diffusionFinetuneNode } from '../../nodes/diffusion-finetune';
import type { diffusionTrainNode } from '../../nodes/diffusion-train';
import { requireInput, type OpContext, type OpSummary } from '../context';
import type { SplitData } from '../data/dataset-file';
import { MODEL_DIR } from '../models/model-file';
import { fineTuneSetup } from '../train/config';
import { runTrainingLoop, trainableVariables } from '../train/loop';
import type { Optimizer } from '../train/optimizers';
import { mixSeed } from '../train/rng';
import { loadDiffusionImages } from './images';
import { ADAPTERS_DIR, type LoraAdapters, type LoraConfig } from './lora';
import { DEFAULT_SAMPLER, saveDiffusionModel, type DiffusionModelMeta } from './model-io';
import { attachLora, requireDiffusionModel, requireSchedule, announceTrainedModel } from './op-support';
import { modelNoiseFn, type NoiseFn, type SamplerConfig } from './samplers';
import { createNoiseSchedule, type NoiseSchedule } from './schedule';
import { WeightAverage, diffusionLossFn, previewLabels, writePreview } from './training';

/** What is trained, with the node's resolved params. */
export type TrainingMode =
  | { kind: 'train'; params: ParamsOf<typeof diffusionTrainNode> }
  | { kind: 'finetune'; params: ParamsOf<typeof diffusionFinetuneNode> };

/** Trains (or fine-tunes) the U-Net on `model` on the images on `dataset`; see the file comment. */
export async function trainDiffusion(ctx: OpContext, mode: TrainingMode): Promise<OpSummary> {
  const { params } = mode;
  const finetune = mode.kind === 'finetune';
  const nodeType = finetune ? 'diffusion.finetune' : 'diffusion.train';
  const { classDropout, emaDecay, classes, sampleEvery, sampleCount, sampleSteps, guidanceScale } = params;
  const method = mode.kind === 'finetune' ? mode.params.method : 'full';
  const loraConfig: LoraConfig | undefined =
    mode.kind === 'finetune'
      ? { rank: mode.params.loraRank, alpha: mode.params.loraAlpha, targets: mode.params.loraTargets }
      : undefined;

  const loaded = await requireDiffusionModel(ctx);
  const { model, spec, meta } = loaded;
  let adapters: LoraAdapters | undefined;
  let average: WeightAverage | undefined;
  let optimizer: Optimizer | undefined;
  try {
    let schedule: NoiseSchedule;
    if (mode.kind === 'finetune') {
      schedule = requireSchedule(ctx, loaded);
    } else {
      const { noiseSchedule, timesteps, betaStart, betaEnd } = mode.params;
      schedule = createNoiseSchedule({ kind: noiseSchedule, timesteps, betaStart, betaEnd });
      if (loaded.schedule && JSON.stringify(loaded.schedule.config) !== JSON.stringify(schedule.config)) {
        ctx.log(
          `The input model was trained with another noise schedule; continuing with ${schedule.config.kind}, T = ${schedule.timesteps}`,
          'warn',
        );
      }
    }
    const datasetDir = requireInput(ctx, 'dataset', 'dataset').path;
    const images = loadDiffusionImages(datasetDir, {
      size: spec.imageSize,
      channels: spec.channels,
      classes,
      nodeId: ctx.nodeId,
    });
    let validation: SplitData | undefined;
    if (images.manifest.splits.validation) {
      validation = loadDiffusionImages(datasetDir, {
        size: spec.imageSize,
        channels: spec.channels,
        classes,
        nodeId: ctx.nodeId,
        split: 'validation',
      }).split;
    }
    if (spec.numClasses > 0 && images.manifest.numClasses !== spec.numClasses) {
      throw new DistilleryError(
        'INCOMPATIBLE_INPUTS',
        `Node "${ctx.nodeId}": the model is conditioned on ${spec.numClasses} classes, the dataset has ${images.manifest.numClasses}`,
        {
          nodeId: ctx.nodeId,
          port: 'dataset',
          expected: `${spec.numClasses} classes`,
          received: images.manifest.numClasses,
        },
      );
    }

    const base = modelNoiseFn(model, spec);
    let noise: NoiseFn = base;
    let trainable = trainableVariables(model);
    const baseParams = model.countParams();
    if (loraConfig && method === 'lora') {
      ({ adapters, noise, trainable } = attachLora(model, base, loraConfig, ctx.seed));
    }
    const trainableParams = trainable.reduce((sum, v) => sum + v.size, 0);
    const trainableFraction = trainableParams / baseParams;
    ctx.metric('trainable_params', trainableParams, { step: 0 });
    ctx.metric('trainable_fraction', trainableFraction, { step: 0 });
    if (emaDecay > 0) average = new WeightAverage(trainable, emaDecay);

    const sampler: SamplerConfig = {
      ...DEFAULT_SAMPLER,
      steps: Math.min(sampleSteps, schedule.timesteps),
      guidanceScale,
    };
    const labels = previewLabels(sampleCount, spec.numClasses, classes);
    const preview = (name: string, step: number): void => {
      if (sampleCount === 0) return;
      const draw = (): string =>
        writePreview(ctx, name, step, noise, spec, schedule, sampler, labels, mixSeed(ctx.seed, 0x5052_4556));
      if (average) average.withAverage(draw);
      else draw();
    };

    const stepsPerEpoch = Math.ceil(images.split.count / params.batchSize);
    const setup = fineTuneSetup(params, stepsPerEpoch);
    optimizer = setup.optimizer;
    const what =
      adapters && loraConfig
        ? `LoRA r=${loraConfig.rank} α=${loraConfig.alpha} on ${adapters.layerNames.length} ${loraConfig.targets === 'all' ? 'conv/dense' : loraConfig.targets} kernels`
        : 'all weights';
    ctx.log(
      `${finetune ? 'Fine-tuning' : 'Training'} a ${spec.imageSize}×${spec.imageSize} U-Net (${baseParams} parameters; training ${what}: ${trainableParams} = ${(100 * trainableFraction).toFixed(2)}%) ` +
        `on ${images.split.count} images of ${images.manifest.name}${classes.length ? ` (classes ${classes.join(', ')})` : ''}, ` +
        `${params.epochs} epochs × ${stepsPerEpoch} steps, ${schedule.config.kind} schedule T = ${schedule.timesteps}, class dropout ${classDropout}, EMA ${emaDecay || 'off'}`,
    );

    let smoothed: number | undefined;
    let lastPreviewStep = -1;
    const result = await runTrainingLoop({
      ctx,
      model,
      train: images.split,
      ...(validation ? { validation } : {}),
      inputShape: [spec.imageSize, spec.imageSize, spec.channels],
      lossFn: diffusionLossFn({ schedule, spec, classDropout, noise }),
      trainable,
      optimizer,
      config: setup.config,
      hooks: {
        afterStep: (info) => {
          average?.update(info.globalStep - 1);
          smoothed = smoothed === undefined ? info.loss : 0.98 * smoothed + 0.02 * info.loss;
          ctx.metric('loss_ema', smoothed, { step: info.globalStep, epoch: info.epoch });
          if (sampleEvery > 0 && info.globalStep % sampleEvery === 0) {
            preview(`step-${info.globalStep}`, info.globalStep);
            lastPreviewStep = info.globalStep;
          }
        },
        afterEpoch: (record) => {
          const step = record.epoch * stepsPerEpoch;
          if (sampleEvery === 0 && step !== lastPreviewStep) {
            preview(`epoch-${record.epoch}`, step);
            lastPreviewStep = step;
          }
        },
        saveState: () => ({ ...(average?.state() ?? {}), ...(adapters?.state() ?? {}) }),
        loadState: (arrays) => {
          average?.load(arrays);
          if (adapters && Object.keys(arrays).some((key) => key.startsWith('lora/')))
            adapters.load(arrays, 'checkpoint extra.json');
        },
      },
    });

    if (average) average.copyToVariables();
    preview('final', result.globalStep);
    let adaptersDir: string | undefined;
    if (adapters) {
      adaptersDir = adapters.save(join(ctx.taskDir, ADAPTERS_DIR), {
        baseModel: requireInput(ctx, 'model', 'model').meta.versionId ?? null,
        ema: emaDecay > 0,
      });
      adapters.merge();
      ctx.log(`Merged the LoRA adapters into the base kernels; the adapters alone are in ${adaptersDir}`);
    }
    const historyEntry: Record<string, unknown> = {
      op: nodeType,
      method,
      epochs: result.epochsRun,
      steps: result.globalStep,
      examples: images.split.count,
      dataset: images.manifest.name,
      ...(classes.length ? { classes } : {}),
      ...(adapters && loraConfig
        ? { loraRank: loraConfig.rank, loraAlpha: loraConfig.alpha, loraTargets: loraConfig.targets }
        : {}),
      finalLoss: result.final?.loss ?? null,
    };
    const outMeta: DiffusionModelMeta = {
      ...meta,
      trained: true,
      diffusion: {
        ...meta.diffusion,
        schedule: schedule.config,
        classDropout: finetune ? meta.diffusion.classDropout : classDropout,
        history: [...meta.diffusion.history, historyEntry],
      },
    };
    const outDir = join(ctx.taskDir, MODEL_DIR);
    await saveDiffusionModel(model, outDir, outMeta);
    const metrics: Record<string, number> = {};
    if (result.final) metrics.loss = result.final.loss;
    if (result.final?.val_loss !== undefined) metrics.val_loss = result.final.val_loss;
    const description =
      adapters && loraConfig
        ? `LoRA r=${loraConfig.rank} fine-tune${classes.length ? ` on classes ${classes.join(', ')}` : ''}, ${result.epochsRun} epochs (merged)`
        : `${finetune ? 'full fine-tune' : `DDPM ${schedule.config.kind} T=${schedule.timesteps}`}${classes.length ? ` on classes ${classes.join(', ')}` : ''}, ${result.epochsRun} epochs`;
    announceTrainedModel(ctx, outDir, model, meta, {
      description,
      metrics,
      trainableParams,
      trainableFraction,
      ...(adaptersDir && loraConfig ? { lora: { config: loraConfig, adaptersDir } } : {}),
    });
    ctx.flush();
    return {
      epochs: result.epochsRun,
      steps: result.globalStep,
      finalLoss: result.final?.loss ?? null,
      valLoss: result.final?.val_loss ?? null,
      samplesPerSecond: Math.round(result.samplesPerSecond),
      method,
      trainableParams,
      trainableFraction,
      schedule: schedule.config,
      resumedFromStep: result.resumedFromStep,
      description,
    };
  } finally {
    average?.dispose();
    adapters?.dispose();
    optimizer?.dispose();
    model.dispose();
  }
}
