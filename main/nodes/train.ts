import { defineNodeType, port } from './define';
import {
  augmentParams,
  averagingParams,
  checkAveragingParams,
  checkOptimizerParams,
  optimizerParams,
  validationParams,
} from './shared-params';

/** Supervised training of a classifier with a choice of optimizer and learning-rate schedule. */
export const trainNode = defineNodeType({
  type: 'train',
  version: 1,
  title: 'Train',
  category: 'train',
  help:
    'Trains a classifier with cross-entropy. Streams loss, learning rate and samples/s per step and accuracy / validation metrics per epoch; checkpoints so a cancelled run resumes exactly. ' +
    'Optionally jitters the training images (augment), saves an SWA or EMA weight average as the model (the final weights are then the "raw" output) and keeps its last checkpoints as the "checkpoints" output for a merge.',
  inputs: { model: port('model'), dataset: port('dataset') },
  outputs: {
    model: port('model', { help: 'The trained model; with average "swa" or "ema", the averaged one.' }),
    raw: port('model', {
      help: 'The final weights before averaging; produced only with average "swa" or "ema".',
    }),
    checkpoints: port('model', {
      help: 'The weights of the last keepCheckpoints checkpoints, for a merge node; produced only with keepCheckpoints > 0.',
    }),
  },
  params: { ...optimizerParams, ...validationParams, ...augmentParams, ...averagingParams },
  check: (params) => [...checkOptimizerParams(params), ...checkAveragingParams(params)],
  metrics: [
    'accuracy',
    'loss',
    'epoch_loss',
    'val_accuracy',
    'val_loss',
    'averaged_val_accuracy',
    'averaged_val_loss',
  ],
});
