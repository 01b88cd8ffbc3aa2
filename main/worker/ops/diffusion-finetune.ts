/** `diffusion.finetune`: continued training, all weights or LoRA (merged on save). */
import type { ParamsOf } from '../../nodes/define';
import type { diffusionFinetuneNode } from '../../nodes/diffusion-finetune';
import type { OpContext } from '../context';
import { trainDiffusion } from '../diffusion/training-run';

export function diffusionFinetune(ctx: OpContext, params: ParamsOf<typeof diffusionFinetuneNode>) {
  return trainDiffusion(ctx, { kind: 'finetune', params });
}
