import { defineNodeType, integer, list, port } from './define';
import { samplerParams } from './diffusion-params';

/** DDPM / DDIM sampling of a trained diffusion model. */
export const diffusionSampleNode = defineNodeType({
  type: 'diffusion.sample',
  version: 1,
  title: 'Sample diffusion',
  category: 'diffusion',
  help:
    'Draws images from a trained diffusion model with DDPM or DDIM (any number of steps, η), classifier-free guidance and chosen class labels. ' +
    'Writes a PNG grid (shown in the run view) and the images as a dataset (test split, labels = the requested classes).',
  inputs: { model: port('diffusion-model') },
  outputs: {
    samples: port('dataset', {
      help: 'The generated images, uint8, labelled with the class they were conditioned on.',
    }),
  },
  params: {
    ...samplerParams({ steps: 50, eta: 0, guidanceScale: 2 }),
    count: integer({ default: 64, min: 1, max: 100_000, help: 'Number of images.' }),
    labels: list({
      of: 'integer',
      default: [],
      min: -1,
      max: 100_000,
      help: 'Class of each image, repeated to fill count; −1 = unconditional. Empty = every class in turn.',
    }),
    seed: integer({ default: 0, min: 0, max: 4_294_967_295, help: 'Sampling seed; 0 = the run’s seed.' }),
    columns: integer({ default: 0, min: 0, max: 1000, help: 'Images per row of the grid; 0 = automatic.' }),
    batchSize: integer({ default: 64, min: 1, max: 4096, help: 'Images denoised together.' }),
  },
});
