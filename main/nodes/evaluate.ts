import { choice, defineNodeType, integer, port } from './define';
import { SCORED_SPLITS } from './shared-params';

/** Accuracy, loss, confusion matrix, size and latency of a classifier. */
export const evaluateNode = defineNodeType({
  type: 'evaluate',
  version: 1,
  title: 'Evaluate',
  category: 'evaluate',
  help: 'Accuracy, loss and confusion matrix on a split, plus parameter count, non-zero parameters, exported size and latency per sample. Results are attached to the model in the registry.',
  inputs: { model: port('model'), dataset: port('dataset') },
  outputs: {},
  params: {
    split: choice({
      default: 'test',
      choices: SCORED_SPLITS,
      help: 'Which split to score.',
    }),
    batchSize: integer({ default: 256, min: 1, max: 65_536, help: 'Batch size for scoring.' }),
    latencySamples: integer({
      default: 200,
      min: 0,
      max: 100_000,
      help: 'Single-example predictions timed for latency; 0 = skip.',
    }),
  },
});
