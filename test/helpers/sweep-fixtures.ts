/** Pipelines with a `sweep` block for the sweep tests: a small MLP on a real MNIST subset. */
import type { PipelineDoc, SweepSpec } from '../../preload/contract';

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
  return {
    format: 1,
    name: options.name ?? 'sweep-mlp',
    seed: 7,
    nodes: [
      {
        id: 'data',
        type: 'dataset.mnist',
        params: {
          trainLimit: options.trainLimit ?? 1200,
          testLimit: options.testLimit ?? 300,
          validationSplit: options.validationSplit ?? 0.25,
        },
      },
      { id: 'net', type: 'model.mlp', params: { hidden: options.hidden ?? [32] } },
      {
        id: 'fit',
        type: 'train',
        params: {
          epochs: options.epochs ?? 3,
          batchSize: options.batchSize ?? 30,
          optimizer: 'adam',
          learningRate: 0.001,
          ...options.fit,
        },
      },
      { id: 'score', type: 'evaluate', params: { latencySamples: 0 } },
    ],
    edges: [
      { from: 'data.dataset', to: 'net.dataset' },
      { from: 'data.dataset', to: 'fit.dataset' },
      { from: 'net.model', to: 'fit.model' },
      { from: 'fit.model', to: 'score.model' },
      { from: 'data.dataset', to: 'score.dataset' },
    ],
    sweep,
  };
}
