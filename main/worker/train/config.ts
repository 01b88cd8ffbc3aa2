/**
 * The optimiser and loop configuration of a (fine-)tuning run from a node's resolved optimiser
 * params (main/nodes/shared-params.ts): train, distill, prune and the diffusion trainers take the
 * same group.
 */
import type { OptimizerParams, ValidationParams } from '../../nodes/shared-params';
import type { LoopConfig } from './loop';
import { createOptimizer, type Optimizer } from './optimizers';

/** Early stopping is part of the config only for nodes that declare the validation group. */
export type TrainingParams = OptimizerParams &
  Partial<Pick<ValidationParams, 'earlyStopping' | 'monitor' | 'patience' | 'minDelta' | 'restoreBest'>>;

/** The optimiser the params choose (Lion takes its own β₂). */
export function trainingOptimizer(
  params: Pick<OptimizerParams, 'optimizer' | 'momentum' | 'beta1' | 'beta2' | 'lionBeta2' | 'weightDecay'>,
): Optimizer {
  return createOptimizer({
    name: params.optimizer,
    momentum: params.momentum,
    beta1: params.beta1,
    beta2: params.optimizer === 'lion' ? params.lionBeta2 : params.beta2,
    weightDecay: params.weightDecay,
  });
}

/** The training loop's configuration (step decay defaults to once per epoch). */
export function trainingLoopConfig(params: TrainingParams, stepsPerEpoch: number): LoopConfig {
  return {
    epochs: params.epochs,
    batchSize: params.batchSize,
    shuffle: params.shuffle,
    schedule: {
      name: params.schedule,
      learningRate: params.learningRate,
      minLearningRate: params.minLearningRate,
      warmupSteps: params.warmupSteps,
      stepEvery: params.stepEvery > 0 ? params.stepEvery : stepsPerEpoch,
      stepGamma: params.stepGamma,
    },
    gradientClip: params.gradientClip,
    checkpointEvery: params.checkpointEvery,
    earlyStopping: {
      enabled: params.earlyStopping ?? false,
      monitor: params.monitor ?? 'val_loss',
      patience: params.patience ?? 0,
      minDelta: params.minDelta ?? 0,
      // As the param's help says: the best epoch's weights come back on an early stop only.
      restoreBest: (params.earlyStopping ?? false) && (params.restoreBest ?? false),
    },
  };
}

/** The optimiser and the loop configuration of one run. */
export function fineTuneSetup(
  params: TrainingParams,
  stepsPerEpoch: number,
): { optimizer: Optimizer; config: LoopConfig } {
  return { optimizer: trainingOptimizer(params), config: trainingLoopConfig(params, stepsPerEpoch) };
}
