import { defineNodeType, integer, list, number, port, string } from './define';

/** Any IDX image/label files (e.g. Fashion-MNIST from Debian's dataset-fashion-mnist). */
export const datasetIdxNode = defineNodeType({
  type: 'dataset.idx',
  version: 1,
  title: 'IDX files',
  category: 'data',
  help: 'Images and labels in the IDX format of MNIST, gzipped or not — e.g. /usr/share/datasets/fashion-mnist/.',
  inputs: {},
  outputs: { dataset: port('dataset') },
  params: {
    trainImages: string({ required: true, help: 'Path of the training images (idx3, .gz allowed).' }),
    trainLabels: string({ required: true, help: 'Path of the training labels (idx1, .gz allowed).' }),
    testImages: string({
      default: '',
      help: 'Path of the test images; empty = carve testSplit off the training set.',
    }),
    testLabels: string({ default: '', help: 'Path of the test labels.' }),
    trainLimit: integer({
      default: 0,
      min: 0,
      max: 100_000_000,
      help: 'Use the first N training images; 0 = all.',
    }),
    testLimit: integer({
      default: 0,
      min: 0,
      max: 100_000_000,
      help: 'Use the first N test images; 0 = all.',
      visibleWhen: { testImages: [''] },
    }),
    testSplit: number({
      default: 0.2,
      min: 0,
      max: 0.9,
      help: 'Test fraction when no test files are given.',
      visibleWhen: { testImages: [''] },
    }),
    validationSplit: number({
      default: 0,
      min: 0,
      max: 0.5,
      help: 'Fraction of the training images held out for validation.',
    }),
    classNames: list({ of: 'string', default: [], help: 'Class names in label order; empty = "0", "1", …' }),
  },
  check: (params) =>
    (params.testImages === '') !== (params.testLabels === '')
      ? [
          {
            param: params.testImages === '' ? 'testImages' : 'testLabels',
            expected: 'testImages and testLabels both set or both empty',
            received: params.testImages === '' ? params.testImages : params.testLabels,
            message: 'testImages and testLabels must be given together',
          },
        ]
      : [],
});
