/**
 * The body of `diffusion.train` and `diffusion.finetune`: DDPM training (ε-prediction MSE) with the
 * shared training loop, EMA weights and sample grids streamed while it trains. A fine-tune continues
 * the model's own schedule on other data, on all weights or on LoRA adapters (merged into the saved
 * model; the adapters are kept separately in `<taskDir>/adapters`).
 */
import { join } from 'node:path';
import { DistilleryError } from '../../base/errors';
import { fineTuneSetup } from '../compress/op-support';
import type { OpContext, OpSummary } from '../context';
import type { SplitData } from '../data/dataset-file';
import { MODEL_DIR, requireInput } from '../ops/model';
import { readParams as readTrainParams } from '../ops/train';
import { runTrainingLoop, trainableVariables } from '../train/loop';
import type { Optimizer } from '../train/optimizers';
import { mixSeed } from '../train/rng';
import { loadDiffusionImages } from './images';
import { ADAPTERS_DIR, LORA_TARGETS, type LoraAdapters, type LoraConfig } from './lora';
import { DEFAULT_SAMPLER, saveDiffusionModel, type DiffusionModelMeta } from './model-io';
import { attachLora, requireDiffusionModel, requireSchedule, announceTrainedModel } from './op-support';
import { ParamReader } from './params';
import { modelNoiseFn, type NoiseFn, type SamplerConfig } from './samplers';
import {
  NOISE_SCHEDULES,
  createNoiseSchedule,
  type NoiseSchedule,
  type NoiseScheduleConfig,
} from './schedule';
import { WeightAverage, diffusionLossFn, previewLabels, writePreview } from './training';

export interface TrainingMode {
  kind: 'train' | 'finetune';
  /** The node type, recorded in the model's history. */
  nodeType: string;
}

/** Trains (or fine-tunes) the U-Net on `model` on the images on `dataset`; see the file comment. */
export async function trainDiffusion(ctx: OpContext, mode: TrainingMode): Promise<OpSummary> {
  const train = readTrainParams(ctx.params, ctx.nodeId);
  const reader = new ParamReader(ctx.params, ctx.nodeId);
  const finetune = mode.kind === 'finetune';
  const scheduleParams: NoiseScheduleConfig = {
    kind: reader.choice('noiseSchedule', NOISE_SCHEDULES, 'linear'),
    timesteps: reader.integer('timesteps', 1000, { min: 2, max: 100_000 }),
    betaStart: reader.number('betaStart', 1e-4, { above: 0, max: 1 }),
    betaEnd: reader.number('betaEnd', 0.02, { above: 0, max: 1 }),
  };
  const classDropout = reader.number('classDropout', 0.1, { min: 0, max: 1 });
  const emaDecay = reader.number('emaDecay', finetune ? 0 : 0.999, { min: 0, max: 1 });
  const classes = reader.integers('classes', [], { min: 0, max: 100_000 });
  const sampleEvery = reader.integer('sampleEvery', 0, { min: 0 });
  const sampleCount = reader.integer('sampleCount', 20, { min: 0, max: 400 });
  const sampleSteps = reader.integer('sampleSteps', 25, { min: 1, max: 10_000 });
  const guidanceScale = reader.number('guidanceScale', 2, { min: 0, max: 50 });
  const method = finetune ? reader.choice('method', ['full', 'lora'] as const, 'lora') : 'full';
  const loraRank = reader.integer('loraRank', 4, { min: 1, max: 1024 });
  const loraAlpha = reader.number('loraAlpha', 4, { above: 0, max: 1e6 });
  const loraTargets = reader.choice('loraTargets', LORA_TARGETS, 'all');
  reader.done();
  const loraConfig: LoraConfig = { rank: loraRank, alpha: loraAlpha, targets: loraTargets };

  const loaded = await requireDiffusionModel(ctx);
  const { model, spec, meta } = loaded;
  let adapters: LoraAdapters | undefined;
  let average: WeightAverage | undefined;
  let optimizer: Optimizer | undefined;
  try {
    let schedule: NoiseSchedule;
    if (finetune) {
      schedule = requireSchedule(ctx, loaded);
    } else {
      if (scheduleParams.kind === 'linear' && scheduleParams.betaEnd! <= scheduleParams.betaStart!) {
        throw new DistilleryError(
          'PARAM_OUT_OF_RANGE',
          `Node "${ctx.nodeId}": betaEnd must exceed betaStart (${scheduleParams.betaStart}), got ${scheduleParams.betaEnd}`,
          {
            nodeId: ctx.nodeId,
            param: 'betaEnd',
            expected: `> betaStart (${scheduleParams.betaStart})`,
            received: scheduleParams.betaEnd,
          },
        );
      }
      schedule = createNoiseSchedule(scheduleParams);
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
    if (method === 'lora') {
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

    const stepsPerEpoch = Math.ceil(images.split.count / train.batchSize);
    const setup = fineTuneSetup(train, stepsPerEpoch);
    optimizer = setup.optimizer;
    const what =
      method === 'lora'
        ? `LoRA r=${loraRank} α=${loraAlpha} on ${adapters!.layerNames.length} ${loraTargets === 'all' ? 'conv/dense' : loraTargets} kernels`
        : 'all weights';
    ctx.log(
      `${finetune ? 'Fine-tuning' : 'Training'} a ${spec.imageSize}×${spec.imageSize} U-Net (${baseParams} parameters; training ${what}: ${trainableParams} = ${(100 * trainableFraction).toFixed(2)}%) ` +
        `on ${images.split.count} images of ${images.manifest.name}${classes.length ? ` (classes ${classes.join(', ')})` : ''}, ` +
        `${train.epochs} epochs × ${stepsPerEpoch} steps, ${schedule.config.kind} schedule T = ${schedule.timesteps}, class dropout ${classDropout}, EMA ${emaDecay || 'off'}`,
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
      config: {
        ...setup.config,
        // `train`'s early-stopping params are read with the rest but do not apply to diffusion.
        earlyStopping: { enabled: false, monitor: 'loss', patience: 0, minDelta: 0, restoreBest: false },
      },
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
      op: mode.nodeType,
      method,
      epochs: result.epochsRun,
      steps: result.globalStep,
      examples: images.split.count,
      dataset: images.manifest.name,
      ...(classes.length ? { classes } : {}),
      ...(method === 'lora' ? { loraRank, loraAlpha, loraTargets } : {}),
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
      method === 'lora'
        ? `LoRA r=${loraRank} fine-tune${classes.length ? ` on classes ${classes.join(', ')}` : ''}, ${result.epochsRun} epochs (merged)`
        : `${finetune ? 'full fine-tune' : `DDPM ${schedule.config.kind} T=${schedule.timesteps}`}${classes.length ? ` on classes ${classes.join(', ')}` : ''}, ${result.epochsRun} epochs`;
    announceTrainedModel(ctx, outDir, model, meta, {
      description,
      metrics,
      trainableParams,
      trainableFraction,
      ...(adaptersDir ? { lora: { config: loraConfig, adaptersDir } } : {}),
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
