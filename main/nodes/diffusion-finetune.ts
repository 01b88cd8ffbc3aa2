import { choice, defineNodeType, integer, list, number, port } from './define';
import { loraParams, previewParams, TUNING_METHODS } from './diffusion-params';
import { checkOptimizerParams, optimizerParams } from './shared-params';

/** Fine-tuning of a trained diffusion model: all weights or LoRA adapters (Hu et al.). */
export const diffusionFinetuneNode = defineNodeType({
  type: 'diffusion.finetune',
  version: 1,
  title: 'Fine-tune diffusion',
  category: 'diffusion',
  help:
    'Continues DDPM training of a trained diffusion model on other images (e.g. a few classes or an image folder), with the model’s own noise schedule. ' +
    'Trains either all weights or LoRA adapters on the conv/dense kernels (W + (α/r)·BA, B starting at zero); adapters are merged into the saved model ' +
    'and also kept on their own in the task’s adapters/ folder. Reports the trainable-parameter fraction.',
  inputs: {
    model: port('diffusion-model', { help: 'A trained diffusion model.' }),
    dataset: port('dataset', { help: 'Images to fine-tune on; resized to the model’s size.' }),
  },
  outputs: { model: port('diffusion-model') },
  params: {
    ...optimizerParams,
    epochs: integer({ default: 3, min: 1, max: 10_000, help: 'Passes over the fine-tuning images.' }),
    batchSize: integer({ default: 64, min: 1, max: 65_536, help: 'Images per optimisation step.' }),
    learningRate: number({
      default: 0.001,
      min: 0,
      max: 10,
      help: 'Learning rate (LoRA usually takes a larger one than full fine-tuning).',
    }),
    gradientClip: number({
      default: 1,
      min: 0,
      max: 1e6,
      help: 'Clip gradients to this global L2 norm; 0 = off.',
    }),
    method: choice({
      default: 'lora',
      choices: TUNING_METHODS,
      help: 'Train LoRA adapters only, or every weight.',
    }),
    ...loraParams,
    classDropout: number({
      default: 0.1,
      min: 0,
      max: 1,
      help: 'Fraction of examples trained with the null class.',
    }),
    emaDecay: number({
      default: 0,
      min: 0,
      max: 1,
      exclusiveMax: true,
      help: 'EMA of the trained weights (0 = off).',
    }),
    classes: list({
      of: 'integer',
      default: [],
      min: 0,
      max: 100_000,
      help: 'Fine-tune only on these classes; empty = all.',
    }),
    ...previewParams,
  },
  check: checkOptimizerParams,
  lineageParams: (params) =>
    params.method === 'lora'
      ? ['method', 'loraRank', 'loraAlpha', 'classes', 'epochs']
      : ['method', 'classes', 'epochs'],
});
