import { choice, defineNodeType, integer, list, number, port } from './define';
import { ACTIVATIONS } from './model-mlp';

export const PADDINGS = ['same', 'valid'] as const;
export type Padding = (typeof PADDINGS)[number];
export const POOLINGS = ['max', 'avg', 'none'] as const;
export type Pooling = (typeof POOLINGS)[number];

/** A LeNet-5-like convolutional network for image datasets. */
export const modelCnnNode = defineNodeType({
  type: 'model.cnn',
  version: 1,
  title: 'CNN',
  category: 'model',
  help: 'Convolution + pooling blocks then dense layers (LeNet-5 by default). Needs an image dataset.',
  inputs: {
    dataset: port('dataset', { help: 'Must be an image dataset; only its shape and classes are read.' }),
  },
  outputs: { model: port('model') },
  params: {
    filters: list({
      of: 'integer',
      default: [6, 16],
      min: 1,
      max: 4096,
      minLength: 1,
      maxLength: 16,
      help: 'Filters of each conv block.',
    }),
    kernelSize: integer({ default: 5, min: 1, max: 15, help: 'Square kernel size of every convolution.' }),
    padding: choice({ default: 'same', choices: PADDINGS, help: 'Convolution padding.' }),
    pooling: choice({
      default: 'max',
      choices: POOLINGS,
      help: '2×2 pooling after each conv block.',
    }),
    dense: list({
      of: 'integer',
      default: [120, 84],
      min: 1,
      max: 65_536,
      maxLength: 16,
      help: 'Units of the dense layers before the output.',
    }),
    activation: choice({
      default: 'relu',
      choices: ACTIVATIONS,
      help: 'Activation of conv and dense layers.',
    }),
    dropout: number({
      default: 0,
      min: 0,
      max: 1,
      exclusiveMax: true,
      help: 'Dropout rate before each dense layer.',
    }),
  },
});
