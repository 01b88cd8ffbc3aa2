import { defineNodeType, port } from './define';
import { checkOptimizerParams, optimizerParams, validationParams } from './shared-params';

/** Supervised training of a classifier with a choice of optimizer and learning-rate schedule. */
export const trainNode = defineNodeType({
  type: 'train',
  version: 1,
  title: 'Train',
  category: 'train',
  help: 'Trains a classifier with cross-entropy. Streams loss, learning rate and samples/s per step and accuracy / validation metrics per epoch; checkpoints so a cancelled run resumes exactly.',
  inputs: { model: port('model'), dataset: port('dataset') },
  outputs: { model: port('model') },
  params: { ...optimizerParams, ...validationParams },
  check: checkOptimizerParams,
});
