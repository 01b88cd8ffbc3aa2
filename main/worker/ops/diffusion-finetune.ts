import type { Op } from '../context';
import { atNode } from '../diffusion/op-support';
import { trainDiffusion } from '../diffusion/training-run';

/** `diffusion.finetune`: continued training, all weights or LoRA (merged on save). */
export const diffusionFinetuneOp: Op = atNode((ctx) =>
  trainDiffusion(ctx, { kind: 'finetune', nodeType: 'diffusion.finetune' }),
);
