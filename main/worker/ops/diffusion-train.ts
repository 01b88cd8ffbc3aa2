import type { Op } from '../context';
import { atNode } from '../diffusion/op-support';
import { trainDiffusion } from '../diffusion/training-run';

/** `diffusion.train`: DDPM training of the input U-Net on an image dataset. */
export const diffusionTrainOp: Op = atNode((ctx) =>
  trainDiffusion(ctx, { kind: 'train', nodeType: 'diffusion.train' }),
);
