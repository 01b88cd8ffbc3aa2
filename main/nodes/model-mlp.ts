import { choice, defineNodeType, list, number, port } from './define';

/** Hidden-layer activations (all registered by tfjs-layers 4.x). */
export const ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'elu', 'selu', 'swish', 'gelu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** A multi-layer perceptron; input size and class count come from the connected dataset. */
export const modelMlpNode = defineNodeType({
  type: 'model.mlp',
  version: 1,
  title: 'MLP',
  category: 'model',
  help: 'Fully connected network (LeNet-300-100 by default). Input shape and class count are read from the dataset.',
  inputs: { dataset: port('dataset', { help: 'Only its shape and classes are read.' }) },
  outputs: { model: port('model') },
  params: {
    hidden: list({
      of: 'integer',
      default: [300, 100],
      min: 1,
      max: 65_536,
      maxLength: 32,
      help: 'Units of each hidden layer.',
    }),
    activation: choice({ default: 'relu', choices: ACTIVATIONS, help: 'Hidden-layer activation.' }),
    dropout: number({
      default: 0,
      min: 0,
      max: 1,
      exclusiveMax: true,
      help: 'Dropout rate after each hidden layer.',
    }),
  },
});
