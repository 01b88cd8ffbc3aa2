/** Pipelines with a `sweep` block for the sweep tests: a small MLP on a real MNIST subset. */
import type { PipelineDoc, SweepSpec } from '../../preload/contract';
import { mnistMlpPipeline } from './pipelines';

export interface SweepPipelineOptions {
  name?: string;
  trainLimit?: number;
  testLimit?: number;
  validationSplit?: number;
  epochs?: number;
  batchSize?: number;
  hidden?: number[];
  /** Extra params of the train node. */
  fit?: Record<string, unknown>;
}

/** data → net → fit → score, with `sweep` as its block. */
export function sweepPipeline(sweep: SweepSpec, options: SweepPipelineOptions = {}): PipelineDoc {
  return mnistMlpPipeline({
    name: options.name ?? 'sweep-mlp',
    seed: 7,
    data: {
      trainLimit: options.trainLimit ?? 1200,
      testLimit: options.testLimit ?? 300,
      validationSplit: options.validationSplit ?? 0.25,
    },
    net: { hidden: options.hidden ?? [32] },
    fit: {
      epochs: options.epochs ?? 3,
      batchSize: options.batchSize ?? 30,
      optimizer: 'adam',
      learningRate: 0.001,
      ...options.fit,
    },
    score: { latencySamples: 0 },
    sweep,
  });
}
