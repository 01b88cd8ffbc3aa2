import { boolean, choice, defineNodeType, integer, list, port } from './define';
import { ACTIVATIONS } from './model-mlp';

/** How time and class enter each U-Net block. */
export const CONDITIONINGS = ['scale-shift', 'shift'] as const;
export type Conditioning = (typeof CONDITIONINGS)[number];

/**
 * A small class-conditional U-Net for denoising diffusion (Ho et al. 2020): conv residual blocks,
 * stride-2 down and nearest 2× up sampling with skip connections, a sinusoidal time embedding and
 * an optional class embedding with a null class for classifier-free guidance. Built from stock
 * tfjs layers, so the exported model loads with a plain tf.loadLayersModel.
 */
export const modelUnetNode = defineNodeType({
  type: 'model.unet',
  version: 1,
  title: 'U-Net (diffusion)',
  category: 'model',
  help:
    'An untrained U-Net that predicts the noise of a diffusion model, sized for an image dataset (its channels and classes). ' +
    'Inputs: the noisy image, the sinusoidal embedding of the timestep, the one-hot class (plus a null class). Train it with diffusion.train.',
  inputs: { dataset: port('dataset', { help: 'An image dataset; only its shape and classes are read.' }) },
  outputs: { model: port('diffusion-model') },
  params: {
    imageSize: integer({
      default: 16,
      min: 0,
      max: 256,
      help: 'Side of the square images the model generates; training data is resized to it (area averaging). 0 = the dataset’s height. Must be a multiple of 2^(levels − 1).',
    }),
    widths: list({
      of: 'integer',
      default: [32, 64],
      min: 1,
      max: 1024,
      minLength: 1,
      maxLength: 5,
      help: 'Channels of each resolution level, finest first; the image is halved between levels.',
    }),
    blocksPerLevel: integer({
      default: 1,
      min: 1,
      max: 8,
      help: 'Residual blocks per level (encoder and decoder each).',
    }),
    timeEmbedDim: integer({
      default: 32,
      min: 2,
      max: 1024,
      help: 'Length of the sinusoidal timestep embedding (even).',
    }),
    classConditional: boolean({
      default: true,
      help: 'Condition on the dataset’s classes (with a null class, so classifier-free guidance works). Off: an unconditional model.',
    }),
    conditioning: choice({
      default: 'scale-shift',
      choices: CONDITIONINGS,
      help: 'How time and class enter each block: scale and shift the features per channel (FiLM, Nichol & Dhariwal’s scale-shift) or only shift them (DDPM).',
      visibleWhen: { classConditional: [true] },
    }),
    activation: choice({
      default: 'swish',
      choices: ACTIVATIONS,
      help: 'Activation of the convolutions and the condition MLP.',
    }),
  },
  check: ({ imageSize, timeEmbedDim, widths }) => {
    const problems = [];
    if (timeEmbedDim % 2 !== 0) {
      problems.push({
        param: 'timeEmbedDim',
        expected: 'an even integer',
        received: timeEmbedDim,
        message: `timeEmbedDim must be even (sines and cosines in pairs), got ${timeEmbedDim}`,
      });
    }
    // 0 takes the dataset's height, which only the op knows; it checks that size when it builds.
    const factor = 2 ** (widths.length - 1);
    if (imageSize !== 0 && imageSize % factor !== 0) {
      problems.push({
        param: 'imageSize',
        expected: `0 or a multiple of ${factor} for ${widths.length} levels (each level halves the image)`,
        received: imageSize,
        message: `imageSize must be a multiple of ${factor} for ${widths.length} levels, got ${imageSize}`,
      });
    }
    return problems;
  },
});
