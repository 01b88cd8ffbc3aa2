/**
 * The `prune` op's unstructured masks over time: the masks fine-tuning starts from (n:m, one-shot
 * magnitude, or the start of an AGP ramp with its schedule), the masks as extra checkpoint state
 * (so a resumed run continues with the same masks), and the `sparsity` metric.
 */
import type { ParamsOf } from '../../nodes/define';
import type { pruneNode } from '../../nodes/prune';
import type { OpContext } from '../context';
import type { NamedArrays } from '../train/optimizers';
import {
  magnitudeMasks,
  nmMask,
  overallSparsity,
  supportsNm,
  type AgpSchedule,
  type LayerSparsity,
  type PrunableWeight,
} from './masks';

/** Fraction of the fine-tuning steps AGP ramps over when `rampSteps` is 0. */
const DEFAULT_RAMP_FRACTION = 0.75;

const MASK_STATE_PREFIX = 'prune/mask/';

/**
 * The masks to apply before fine-tuning (`values` are the weights' current values), and the AGP
 * schedule when the sparsity ramps up during the `totalSteps` fine-tuning steps.
 */
export function initialMasks(
  ctx: OpContext,
  params: ParamsOf<typeof pruneNode>,
  weights: readonly PrunableWeight[],
  values: readonly Float32Array[],
  totalSteps: number,
): { masks: Uint8Array[]; agp?: AgpSchedule } {
  if (params.method === 'n:m') {
    const masks = weights.map((weight, i) => {
      if (supportsNm(weight.shape, params.m)) return nmMask(values[i]!, weight.shape, params.n, params.m);
      ctx.log(
        `${weight.layer}: ${weight.shape.slice(0, -1).reduce((a, b) => a * b, 1)} inputs is not a multiple of M = ${params.m}; left dense`,
        'warn',
      );
      return new Uint8Array(weight.size).fill(1);
    });
    return { masks };
  }
  if (params.pruningSchedule === 'one-shot') {
    return { masks: magnitudeMasks(values, params.sparsity, params.scope) };
  }
  const rampSteps =
    params.rampSteps > 0
      ? params.rampSteps
      : Math.max(1, Math.floor((totalSteps - params.startStep) * DEFAULT_RAMP_FRACTION));
  const agp: AgpSchedule = {
    initialSparsity: params.initialSparsity,
    finalSparsity: params.sparsity,
    startStep: params.startStep,
    rampSteps,
    pruneEvery: params.pruneEvery,
  };
  if (params.startStep + rampSteps > totalSteps) {
    ctx.log(
      `AGP ramp ends at step ${params.startStep + rampSteps}, after the last fine-tuning step ${totalSteps}: the final sparsity is forced at the end`,
      'warn',
    );
  }
  const masks =
    params.startStep === 0
      ? magnitudeMasks(values, params.initialSparsity, params.scope)
      : weights.map((weight) => new Uint8Array(weight.size).fill(1));
  ctx.log(
    `AGP: ${params.initialSparsity} → ${params.sparsity} from step ${params.startStep} over ${rampSteps} steps, pruning every ${params.pruneEvery}; ${totalSteps} fine-tuning steps`,
  );
  return { masks, agp };
}

/** The masks as extra checkpoint arrays (see `LoopHooks.saveState`). */
export function masksToState(masks: readonly Uint8Array[], weights: readonly PrunableWeight[]): NamedArrays {
  const state: NamedArrays = {};
  masks.forEach((mask, i) => {
    state[`${MASK_STATE_PREFIX}${i}`] = { shape: weights[i]!.shape, values: Float32Array.from(mask) };
  });
  return state;
}

/** The masks saved by `masksToState`, or undefined when the checkpoint lacks any of the `count`. */
export function masksFromState(arrays: NamedArrays, count: number): Uint8Array[] | undefined {
  const masks: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const saved = arrays[`${MASK_STATE_PREFIX}${i}`];
    if (!saved) return undefined;
    masks.push(Uint8Array.from(saved.values));
  }
  return masks;
}

/** Emits the overall `sparsity` metric at `step` (and `epoch`); returns it. */
export function reportSparsity(
  ctx: OpContext,
  layers: LayerSparsity[],
  step: number,
  epoch?: number,
): number {
  const sparsity = overallSparsity(layers);
  ctx.metric('sparsity', sparsity, epoch === undefined ? { step } : { step, epoch });
  return sparsity;
}
