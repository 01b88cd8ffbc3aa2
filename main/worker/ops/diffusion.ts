/**
 * Diffusion ops (node types in main/nodes/model-unet.ts and diffusion-*.ts):
 * - `model-unet`: builds an untrained class-conditional U-Net sized for an image dataset;
 * - `diffusion-train`: DDPM training (ε-prediction MSE) with the shared training loop, EMA weights,
 *   sample grids streamed while it trains;
 * - `diffusion-finetune`: the same objective continued on other data, all weights or LoRA adapters
 *   (merged into the saved model; the adapters are kept separately in `<taskDir>/adapters`);
 * - `diffusion-sample`: DDPM / DDIM sampling with guidance to a PNG grid and a dataset of images;
 * - `diffusion-evaluate`: reward statistics and classifier scores of fresh samples.
 * Models travel as tfjs layers directories with kind `diffusion` (diffusion/model-io.ts).
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { Op, OpContext, OpSummary } from '../context';
import { readDatasetManifest, writeDataset, type SplitData } from '../data/dataset-file';
import { loadDiffusionImages } from '../diffusion/images';
import { LORA_TARGETS, LoraAdapters, ADAPTERS_DIR } from '../diffusion/lora';
import {
  DEFAULT_SAMPLER,
  loadDiffusionModel,
  saveDiffusionModel,
  type DiffusionModelMeta,
  type LoadedDiffusionModel,
} from '../diffusion/model-io';
import { ParamReader } from '../diffusion/params';
import { writeSampleGrid } from '../diffusion/png-grid';
import {
  REWARDS,
  brightness,
  classifierProbabilities,
  computeRewards,
  summarize,
  type RewardClassifier,
  type RewardName,
} from '../diffusion/rewards';
import {
  SAMPLER_METHODS,
  modelNoiseFn,
  sampleImages,
  toUnitRange,
  type NoiseFn,
  type SamplerConfig,
} from '../diffusion/samplers';
import {
  NOISE_SCHEDULES,
  createNoiseSchedule,
  type NoiseSchedule,
  type NoiseScheduleConfig,
} from '../diffusion/schedule';
import { WeightAverage, diffusionLossFn, previewLabels, writePreview } from '../diffusion/training';
import type { UnetSpec } from '../diffusion/unet';
import { architectures } from '../models';
import { loadModel } from '../models/model-file';
import { modelStats } from '../models/stats';
import { runTrainingLoop, trainableVariables } from '../train/loop';
import { createOptimizer } from '../train/optimizers';
import { mixSeed } from '../train/rng';
import { MODEL_DIR, describeLayers, nodeError, requireInput } from './model';
import { readParams as readTrainParams } from './train';

/** Runs an op body and puts the node on errors raised by code that does not know it. */
export function atNode(body: (ctx: OpContext) => Promise<OpSummary>): Op {
  return async (ctx) => {
    try {
      return await body(ctx);
    } catch (error) {
      if (error instanceof DistilleryError && error.code === 'TASK_CANCELLED') throw error;
      throw nodeError(ctx.nodeId, error);
    }
  };
}

/** The diffusion model on the `model` port. */
export async function requireDiffusionModel(ctx: OpContext, port = 'model'): Promise<LoadedDiffusionModel> {
  const input = requireInput(ctx, port, 'model');
  if (input.meta.kind !== undefined && input.meta.kind !== 'diffusion') {
    throw new DistilleryError(
      'PORT_TYPE_MISMATCH',
      `Node "${ctx.nodeId}": input "${port}" must be a diffusion model`,
      {
        nodeId: ctx.nodeId,
        port,
        expected: 'diffusion-model',
        received: JSON.stringify(input.meta.kind),
      },
    );
  }
  return loadDiffusionModel(input.path);
}

/** A trained model's schedule, or INCOMPATIBLE_INPUTS naming the port. */
export function requireSchedule(ctx: OpContext, loaded: LoadedDiffusionModel, port = 'model'): NoiseSchedule {
  if (!loaded.schedule) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `Node "${ctx.nodeId}": the diffusion model on "${port}" has not been trained (no noise schedule); connect it through diffusion.train first`,
      { nodeId: ctx.nodeId, port, expected: 'a trained diffusion model', received: 'an untrained U-Net' },
    );
  }
  return loaded.schedule;
}

/** A classifier on `port` (optional ports give undefined when unconnected). */
export async function loadClassifier(
  ctx: OpContext,
  port: string,
  required: boolean,
): Promise<RewardClassifier | undefined> {
  if (!ctx.inputs[port] && !required) return undefined;
  const input = requireInput(ctx, port, 'model');
  const { model, meta } = await loadModel(input.path);
  if (meta.kind !== 'classifier') {
    model.dispose();
    throw new DistilleryError(
      'PORT_TYPE_MISMATCH',
      `Node "${ctx.nodeId}": input "${port}" must be a classifier`,
      {
        nodeId: ctx.nodeId,
        port,
        expected: 'model (classifier)',
        received: meta.kind,
      },
    );
  }
  return { model, numClasses: meta.numClasses };
}

export function throwIfCancelled(ctx: OpContext): void {
  if (ctx.signal.aborted)
    throw new DistilleryError('TASK_CANCELLED', `Task "${ctx.taskId}" was cancelled`, { taskId: ctx.taskId });
}

/** Reads the sampler params shared by sample, evaluate and ddpo (ddpo names two of them apart). */
export function readSamplerParams(
  reader: ParamReader,
  defaults: SamplerConfig,
  names: { method: string; steps: string } = { method: 'method', steps: 'steps' },
): SamplerConfig {
  return {
    method: reader.choice(names.method, SAMPLER_METHODS, defaults.method),
    steps: reader.integer(names.steps, defaults.steps, { min: 1, max: 10_000 }),
    eta: reader.number('eta', defaults.eta, { min: 0, max: 10 }),
    guidanceScale: reader.number('guidanceScale', defaults.guidanceScale, { min: 0, max: 50 }),
    clipDenoised: reader.boolean('clipDenoised', defaults.clipDenoised),
  };
}

export function checkSteps(ctx: OpContext, steps: number, schedule: NoiseSchedule, param = 'steps'): void {
  if (steps > schedule.timesteps) {
    throw new DistilleryError(
      'PARAM_OUT_OF_RANGE',
      `Node "${ctx.nodeId}": ${param} must be ≤ the model's ${schedule.timesteps} diffusion steps, got ${steps}`,
      {
        nodeId: ctx.nodeId,
        param,
        expected: `≤ ${schedule.timesteps}`,
        received: steps,
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// model.unet

/** `model.unet`: an untrained U-Net for the dataset's image channels and classes. */
export const modelUnetOp: Op = atNode(async (ctx) => {
  const dataset = requireInput(ctx, 'dataset', 'dataset');
  const manifest = readDatasetManifest(dataset.path);
  if (!manifest.image || manifest.inputShape.length !== 3) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `Node "${ctx.nodeId}": model.unet needs an image dataset, got examples of shape ${JSON.stringify(manifest.inputShape)}`,
      { nodeId: ctx.nodeId, port: 'dataset', expected: 'an image dataset', received: manifest.inputShape },
    );
  }
  const architecture = architectures.get('unet');
  const params = architecture.parseParams(ctx.params) as { imageSize: number; classConditional: boolean };
  const channels = manifest.inputShape[2]!;
  const imageSize = params.imageSize || manifest.inputShape[0]!;
  const numClasses = params.classConditional ? manifest.numClasses : 0;
  const model = architecture.build(
    { inputShape: [imageSize, imageSize, channels], numClasses, seed: ctx.seed },
    { ...params, imageSize },
  );
  try {
    const dir = join(ctx.taskDir, MODEL_DIR);
    const meta: DiffusionModelMeta = {
      format: 1,
      kind: 'diffusion',
      architecture: 'unet',
      architectureParams: { ...params, imageSize },
      inputShape: [imageSize, imageSize, channels],
      numClasses,
      classNames: params.classConditional ? manifest.classNames : [],
      trained: false,
      diffusion: {
        schedule: null,
        prediction: 'epsilon',
        classDropout: 0,
        sampler: DEFAULT_SAMPLER,
        history: [],
      },
    };
    await saveDiffusionModel(model, dir, meta);
    const stats = modelStats(model);
    ctx.artifact('model', 'model', dir, {
      ...stats,
      kind: 'diffusion',
      architecture: 'unet',
      inputShape: meta.inputShape,
      numClasses,
    });
    ctx.log(
      `Built a U-Net for ${imageSize}×${imageSize}×${channels} images${numClasses ? ` and ${numClasses} classes (+ null class)` : ' (unconditional)'}: ${stats.paramCount} parameters (seed ${ctx.seed})`,
    );
    return { paramCount: stats.paramCount, imageSize, numClasses, layers: describeLayers(model).length };
  } finally {
    model.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// diffusion.train / diffusion.finetune

interface TrainingMode {
  kind: 'train' | 'finetune';
  /** The node type, recorded in the model's history. */
  nodeType: string;
}

async function trainDiffusion(ctx: OpContext, mode: TrainingMode): Promise<OpSummary> {
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

  const loaded = await requireDiffusionModel(ctx);
  const { model, spec, meta } = loaded;
  let adapters: LoraAdapters | undefined;
  let average: WeightAverage | undefined;
  const optimizer = createOptimizer({
    name: train.optimizer,
    momentum: train.momentum,
    beta1: train.beta1,
    beta2: train.optimizer === 'lion' ? train.lionBeta2 : train.beta2,
    epsilon: train.epsilon,
    weightDecay: train.weightDecay,
  });
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
      const lora = LoraAdapters.create(
        model,
        { rank: loraRank, alpha: loraAlpha, targets: loraTargets },
        ctx.seed,
      );
      adapters = lora;
      noise = (x, t, labels) => lora.withAdapters(() => base(x, t, labels));
      trainable = lora.variables;
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
        epochs: train.epochs,
        batchSize: train.batchSize,
        shuffle: train.shuffle,
        schedule: {
          name: train.schedule,
          learningRate: train.learningRate,
          minLearningRate: train.minLearningRate,
          warmupSteps: train.warmupSteps,
          stepEvery: train.stepEvery > 0 ? train.stepEvery : stepsPerEpoch,
          stepGamma: train.stepGamma,
        },
        gradientClip: train.gradientClip,
        checkpointEvery: train.checkpointEvery,
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
    ctx.artifact('model', 'model', outDir, {
      ...modelStats(model),
      kind: 'diffusion',
      architecture: meta.architecture,
      inputShape: meta.inputShape,
      numClasses: meta.numClasses,
      trained: true,
      description,
      metrics,
      trainableParams,
      trainableFraction,
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
    optimizer.dispose();
    model.dispose();
  }
}

/** `diffusion.train`: DDPM training of the input U-Net on an image dataset. */
export const diffusionTrainOp: Op = atNode((ctx) =>
  trainDiffusion(ctx, { kind: 'train', nodeType: 'diffusion.train' }),
);

/** `diffusion.finetune`: continued training, all weights or LoRA (merged on save). */
export const diffusionFinetuneOp: Op = atNode((ctx) =>
  trainDiffusion(ctx, { kind: 'finetune', nodeType: 'diffusion.finetune' }),
);

// ---------------------------------------------------------------------------------------------
// diffusion.sample

/** Labels for `count` samples: the given list repeated, or every class in turn, or unconditional. */
function sampleLabels(ctx: OpContext, spec: UnetSpec, given: number[], count: number): number[] {
  for (const label of given) {
    if (label >= spec.numClasses) {
      throw new DistilleryError(
        'PARAM_OUT_OF_RANGE',
        `Node "${ctx.nodeId}": labels must be −1 (unconditional) or below ${spec.numClasses}, got ${label}`,
        {
          nodeId: ctx.nodeId,
          param: 'labels',
          expected: `−1 ≤ label < ${spec.numClasses}`,
          received: given,
        },
      );
    }
  }
  if (given.length > 0) return Array.from({ length: count }, (_, i) => given[i % given.length]!);
  return previewLabels(count, spec.numClasses);
}

/** Samples in batches of `batchSize`; returns images in [0, 1] and calls `onBatch` per batch. */
function sampleInBatches(
  ctx: OpContext,
  noise: NoiseFn,
  spec: UnetSpec,
  schedule: NoiseSchedule,
  sampler: SamplerConfig,
  labels: number[],
  seed: number,
  batchSize: number,
  onImages?: (images: tf.Tensor4D, start: number) => void,
): Float32Array {
  const size = spec.imageSize * spec.imageSize * spec.channels;
  const out = new Float32Array(labels.length * size);
  const batches = Math.ceil(labels.length / batchSize);
  for (let b = 0; b < batches; b++) {
    throwIfCancelled(ctx);
    const start = b * batchSize;
    const batch = labels.slice(start, start + batchSize);
    const { images } = sampleImages(noise, spec, schedule, {
      ...sampler,
      labels: batch,
      seed: mixSeed(seed, b),
      onStep: (done, total) => ctx.progress(b * total + done, batches * total),
    });
    out.set(toUnitRange(images), start * size);
    onImages?.(images, start);
    images.dispose();
  }
  return out;
}

/** `diffusion.sample`: a PNG grid and a dataset of generated images. */
export const diffusionSampleOp: Op = atNode(async (ctx) => {
  const loaded = await requireDiffusionModel(ctx);
  const { model, spec, meta } = loaded;
  try {
    const schedule = requireSchedule(ctx, loaded);
    const reader = new ParamReader(ctx.params, ctx.nodeId);
    const sampler = readSamplerParams(reader, meta.diffusion.sampler);
    const count = reader.integer('count', 64, { min: 1, max: 100_000 });
    const given = reader.integers('labels', [], { min: -1, max: 100_000 });
    const seedParam = reader.integer('seed', 0, { min: 0 });
    const columns = reader.integer('columns', 0, { min: 0, max: 1000 });
    const batchSize = reader.integer('batchSize', 64, { min: 1, max: 4096 });
    reader.done();
    checkSteps(ctx, sampler.steps, schedule);
    const labels = sampleLabels(ctx, spec, given, count);
    const seed = seedParam || ctx.seed;
    const began = performance.now();
    const unit = sampleInBatches(
      ctx,
      modelNoiseFn(model, spec),
      spec,
      schedule,
      sampler,
      labels,
      seed,
      batchSize,
    );
    const seconds = (performance.now() - began) / 1000;
    const shape: [number, number, number] = [spec.imageSize, spec.imageSize, spec.channels];
    const gridPath = writeSampleGrid(join(ctx.taskDir, 'samples.png'), unit, count, shape, {
      columns:
        columns ||
        (spec.numClasses > 0 && given.length === 0 && count % spec.numClasses === 0 ? spec.numClasses : 0),
      scale: spec.imageSize <= 32 ? 3 : 1,
    });
    ctx.sample(gridPath, 0);
    const bytes = new Uint8Array(unit.length);
    for (let i = 0; i < unit.length; i++) bytes[i] = Math.round(unit[i]! * 255);
    const datasetDir = join(ctx.taskDir, 'samples');
    const classNames = spec.numClasses > 0 ? meta.classNames : ['unconditional'];
    writeDataset(
      datasetDir,
      {
        name: `${count} ${sampler.method.toUpperCase()} samples (${sampler.steps} steps${sampler.method === 'ddim' ? `, η ${sampler.eta}` : ''}, guidance ${sampler.guidanceScale})`,
        inputShape: [...shape],
        numClasses: Math.max(1, spec.numClasses),
        classNames,
        image: true,
      },
      { test: { count, x: bytes, y: Int32Array.from(labels, (label) => Math.max(0, label)) } },
    );
    ctx.artifact('samples', 'dataset', datasetDir, {
      count,
      inputShape: shape,
      labels: given,
      sampler,
      grid: gridPath,
    });
    const stats = summarize(brightness(unit, count));
    ctx.metric('brightness_mean', stats.mean, { step: 0 });
    ctx.metric('images_per_second', count / seconds, { step: 0 });
    ctx.log(
      `Sampled ${count} images with ${sampler.method.toUpperCase()} (${sampler.steps} steps, guidance ${sampler.guidanceScale}) in ${seconds.toFixed(1)} s → ${gridPath}`,
    );
    return { count, grid: gridPath, samples: datasetDir, sampler, seed, seconds, brightnessMean: stats.mean };
  } finally {
    model.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// diffusion.evaluate

export const EVALUATION_FILE = 'evaluation.json';

/** `diffusion.evaluate`: reward statistics and classifier scores of fresh samples. */
export const diffusionEvaluateOp: Op = atNode(async (ctx) => {
  const loaded = await requireDiffusionModel(ctx);
  const { model, spec, meta } = loaded;
  let classifier: RewardClassifier | undefined;
  try {
    const schedule = requireSchedule(ctx, loaded);
    const reader = new ParamReader(ctx.params, ctx.nodeId);
    const sampler = readSamplerParams(reader, meta.diffusion.sampler);
    const count = reader.integer('count', 200, { min: 1, max: 100_000 });
    const rewards = reader.strings(
      'rewards',
      ['brightness', 'compressibility'],
      REWARDS.filter((r) => r !== 'classifier'),
    ) as RewardName[];
    const targetClass = reader.integer('targetClass', -1, { min: -1, max: 100_000 });
    const given = reader.integers('labels', [], { min: -1, max: 100_000 });
    const seedParam = reader.integer('seed', 0, { min: 0 });
    const batchSize = reader.integer('batchSize', 100, { min: 1, max: 4096 });
    reader.done();
    checkSteps(ctx, sampler.steps, schedule);
    classifier = await loadClassifier(ctx, 'classifier', false);
    const labels = sampleLabels(ctx, spec, given, count);
    const seed = seedParam || ctx.seed;
    const shape: [number, number, number] = [spec.imageSize, spec.imageSize, spec.channels];
    const rewardValues = new Map<RewardName, Float32Array>(
      rewards.map((name) => [name, new Float32Array(count)]),
    );
    const began = performance.now();
    const unit = sampleInBatches(
      ctx,
      modelNoiseFn(model, spec),
      spec,
      schedule,
      sampler,
      labels,
      seed,
      batchSize,
      (images, start) => {
        for (const name of rewards) rewardValues.get(name)!.set(computeRewards(name, images), start);
      },
    );
    const seconds = (performance.now() - began) / 1000;
    const gridCount = Math.min(count, 100);
    const grid = writeSampleGrid(join(ctx.taskDir, 'samples.png'), unit, gridCount, shape, {
      columns:
        spec.numClasses > 0 && given.length === 0 && gridCount % spec.numClasses === 0 ? spec.numClasses : 0,
      scale: spec.imageSize <= 32 ? 3 : 1,
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
});
