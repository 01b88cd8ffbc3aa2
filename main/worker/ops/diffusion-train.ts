/** `diffusion.train`: DDPM training of the input U-Net on an image dataset. */
import type { ParamsOf } from '../../nodes/define';
import type { diffusionTrainNode } from '../../nodes/diffusion-train';
import type { OpContext } from '../context';
import { trainDiffusion } from '../diffusion/training-run';

export function diffusionTrain(ctx: OpContext, params: ParamsOf<typeof diffusionTrainNode>) {
  return trainDiffusion(ctx, { kind: 'train', params });
}
