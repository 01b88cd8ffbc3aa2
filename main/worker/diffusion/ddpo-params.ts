/** The resolved params of `diffusion.ddpo` (node spec in main/nodes/diffusion-ddpo.ts). */
import type { ParamsOf } from '../../nodes/define';
import type { diffusionDdpoNode } from '../../nodes/diffusion-ddpo';
import type { SamplerConfig } from './samplers';

export type DdpoParams = ParamsOf<typeof diffusionDdpoNode>;

/** The sampler whose steps are the policy's actions (the node names two of its params apart). */
export function ddpoSampler(params: DdpoParams): SamplerConfig {
  return {
    method: params.sampler,
    steps: params.sampleSteps,
    eta: params.eta,
    guidanceScale: params.guidanceScale,
    clipDenoised: params.clipDenoised,
  };
}
