/**
 * The parameters of `diffusion.ddpo` (node spec in main/nodes/diffusion-ddpo.ts), read with every
 * issue reported at once.
 */
import { DistilleryError } from '../../base/errors';
import type { OpContext } from '../context';
import { OPTIMIZER_NAMES, createOptimizer, type Optimizer } from '../train/optimizers';
import { SCHEDULE_NAMES } from '../train/schedules';
import { LORA_TARGETS } from './lora';
import { readSamplerParams } from './op-support';
import { ParamReader } from './params';
import { REWARDS } from './rewards';

export const DDPO_ALGORITHMS = ['ddpo-is', 'ddpo-sf'] as const;
export const ADVANTAGE_NORMALIZATIONS = ['batch', 'per-class', 'none'] as const;

export type DdpoParams = ReturnType<typeof readDdpoParams>;

/** Reads and checks the op's params; DDPO needs stochastic sampler steps. */
export function readDdpoParams(ctx: OpContext) {
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

  return {
    reward,
    targetClass,
    algorithm,
    epochs,
    samplesPerEpoch,
    trainBatchSize,
    innerEpochs,
    promptClasses,
    clipRange,
    advantageClip,
    advantageNormalization,
    timestepFraction,
    method,
    loraRank,
    loraAlpha,
    loraTargets,
    optimizerName,
    learningRate,
    beta1,
    beta2,
    lionBeta2,
    momentum,
    weightDecay,
    lrSchedule,
    warmupSteps,
    minLearningRate,
    stepEvery,
    stepGamma,
    gradientClip,
    sampleEvery,
    reportKl,
    sampler,
  };
}

/** The optimiser the params name (lion takes its own β2). */
export function createDdpoOptimizer(params: DdpoParams): Optimizer {
  return createOptimizer({
    name: params.optimizerName,
    momentum: params.momentum,
    beta1: params.beta1,
    beta2: params.optimizerName === 'lion' ? params.lionBeta2 : params.beta2,
    weightDecay: params.weightDecay,
  });
}
