/**
 * Pruning masks: which weights of a model are prunable, magnitude masks (global or layer-wise) that
 * hit a target sparsity exactly, N:M semi-structured masks, the AGP schedule, and applying masks.
 *
 * A mask is a Uint8Array with one entry per weight value: 1 keeps it, 0 prunes it. Only the kernels
 * of Dense and Conv2D layers are pruned; biases (and any other weight) never are (Han et al. 2015
 * and Zhu & Gupta 2017 do the same: they are few and matter a lot).
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { PruneScope } from '../../nodes/prune';

/** Layer classes whose kernel (their first weight) is pruned. */
export const PRUNABLE_LAYER_CLASSES: readonly string[] = ['Dense', 'Conv2D'];

/** One prunable kernel of a model. */
export interface PrunableWeight {
  /** Name of the layer that owns it. */
  layer: string;
  layerClass: string;
  /** The weight's name in the weights manifest (e.g. `hidden_1/kernel`). */
  name: string;
  /** Position in `model.weights` (and in checkpoints). */
  index: number;
  shape: number[];
  size: number;
  variable: tf.LayerVariable;
}

/** Per-layer count of zeros among the prunable weights. */
export interface LayerSparsity {
  layer: string;
  weight: string;
  shape: number[];
  total: number;
  zeros: number;
  sparsity: number;
}

/** The prunable kernels of `model`, in model order; `exclude` lists layer names to leave alone. */
export function prunableWeights(model: tf.LayersModel, exclude: readonly string[] = []): PrunableWeight[] {
  const positions = new Map<tf.LayerVariable, number>();
  model.weights.forEach((weight, index) => positions.set(weight, index));
  const found: PrunableWeight[] = [];
  for (const layer of model.layers) {
    const layerClass = layer.getClassName();
    if (!PRUNABLE_LAYER_CLASSES.includes(layerClass) || exclude.includes(layer.name)) continue;
    const kernel = layer.weights[0];
    const index = kernel ? positions.get(kernel) : undefined;
    if (!kernel || index === undefined) continue;
    found.push({
      layer: layer.name,
      layerClass,
      name: kernel.originalName,
      index,
      shape: [...kernel.shape] as number[],
      size: kernel.shape.reduce((a: number, b) => a * (b ?? 1), 1),
      variable: kernel,
    });
  }
  return found;
}

/** Current values of the weights, copied. */
export function readValues(weights: readonly PrunableWeight[]): Float32Array[] {
  return weights.map((weight) => Float32Array.from(weight.variable.read().dataSync() as Float32Array));
}

function checkSparsity(sparsity: number): void {
  if (!(sparsity >= 0 && sparsity < 1)) {
    throw new DistilleryError('PARAM_OUT_OF_RANGE', `sparsity must be in [0, 1), got ${sparsity}`, {
      param: 'sparsity',
      expected: '0 ≤ sparsity < 1',
      received: sparsity,
    });
  }
}

/**
 * Keeps all but the `prune` smallest magnitudes of the values spread over `arrays`, as masks. Ties at
 * the threshold are pruned in array order, so exactly `prune` values are masked.
 */
function smallestMagnitudeMasks(arrays: readonly Float32Array[], prune: number): Uint8Array[] {
  const masks = arrays.map((values) => new Uint8Array(values.length).fill(1));
  if (prune <= 0) return masks;
  const total = arrays.reduce((sum, values) => sum + values.length, 0);
  const magnitudes = new Float32Array(total);
  let offset = 0;
  for (const values of arrays) {
    for (let i = 0; i < values.length; i++) magnitudes[offset + i] = Math.abs(values[i]!);
    offset += values.length;
  }
  magnitudes.sort();
  const threshold = magnitudes[Math.min(prune, total) - 1]!;
  let pruned = 0;
  arrays.forEach((values, a) => {
    const mask = masks[a]!;
    for (let i = 0; i < values.length; i++) {
      if (Math.abs(values[i]!) < threshold) {
        mask[i] = 0;
        pruned++;
      }
    }
  });
  arrays.forEach((values, a) => {
    const mask = masks[a]!;
    for (let i = 0; i < values.length && pruned < prune; i++) {
      if (mask[i] === 1 && Math.abs(values[i]!) === threshold) {
        mask[i] = 0;
        pruned++;
      }
    }
  });
  return masks;
}

/**
 * Magnitude masks at a target sparsity: `global` ranks every value of every array together (one
 * threshold), `layer` prunes each array to the same fraction. round(sparsity × count) values are
 * pruned, so the achieved sparsity is the target to within half a weight.
 */
export function magnitudeMasks(
  arrays: readonly Float32Array[],
  sparsity: number,
  scope: PruneScope,
): Uint8Array[] {
  checkSparsity(sparsity);
  if (scope === 'global') {
    const total = arrays.reduce((sum, values) => sum + values.length, 0);
    return smallestMagnitudeMasks(arrays, Math.round(sparsity * total));
  }
  return arrays.map((values) => smallestMagnitudeMasks([values], Math.round(sparsity * values.length))[0]!);
}

/** Whether a kernel of `shape` can take an N:M pattern (its reduction length is a multiple of M). */
export function supportsNm(shape: readonly number[], m: number): boolean {
  const reduction = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return shape.length >= 2 && reduction % m === 0;
}

/**
 * N:M mask of a kernel: in every group of M consecutive weights along the input (reduction) axis,
 * the N largest magnitudes are kept. Kernels are stored [..., in, out] (Dense [in, out], Conv2D
 * [kh, kw, in, out]); the reduction axis is everything but the last dimension, flattened, so for a
 * convolution the groups run along input channels first (the layout NVIDIA's 2:4 kernels use).
 * Ties keep the earlier weight.
 */
export function nmMask(values: Float32Array, shape: readonly number[], n: number, m: number): Uint8Array {
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 0 || m < 1 || n > m) {
    throw new DistilleryError('PARAM_INVALID', `N:M needs integers 0 ≤ N ≤ M, M ≥ 1; got ${n}:${m}`, {
      param: 'n',
      expected: '0 ≤ n ≤ m',
      received: { n, m },
    });
  }
  const columns = shape[shape.length - 1] ?? 1;
  const rows = values.length / columns;
  if (!supportsNm(shape, m)) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `A kernel of shape [${shape.join(', ')}] has ${rows} inputs, not a multiple of M = ${m}`,
      { param: 'm', expected: `a divisor of ${rows}`, received: m },
    );
  }
  const mask = new Uint8Array(values.length);
  const group = new Array<number>(m);
  for (let column = 0; column < columns; column++) {
    for (let start = 0; start < rows; start += m) {
      for (let k = 0; k < m; k++) group[k] = (start + k) * columns + column;
      // Stable sort by magnitude, largest first: ties keep the earlier index.
      const order = [...group].sort((a, b) => Math.abs(values[b]!) - Math.abs(values[a]!) || a - b);
      for (let k = 0; k < n; k++) mask[order[k]!] = 1;
    }
  }
  return mask;
}

/** Parameters of the AGP schedule (Zhu & Gupta 2017). */
export interface AgpSchedule {
  /** s_i: sparsity at the first pruning step. */
  initialSparsity: number;
  /** s_f: sparsity reached at the end of the ramp. */
  finalSparsity: number;
  /** t_0: step of the first pruning. */
  startStep: number;
  /** n·Δt: steps from the first pruning to the last. */
  rampSteps: number;
  /** Δt: steps between prunings. */
  pruneEvery: number;
}

/**
 * AGP's cubic schedule s_t = s_f + (s_i − s_f)·(1 − (t − t_0)/(n·Δt))³, held at s_i before t_0
 * (when pruning starts) and at s_f after the ramp.
 */
export function agpSparsity(step: number, schedule: AgpSchedule): number {
  const { initialSparsity, finalSparsity, startStep, rampSteps } = schedule;
  if (step < startStep) return initialSparsity;
  if (step >= startStep + rampSteps) return finalSparsity;
  if (step === startStep) return initialSparsity;
  const progress = (step - startStep) / rampSteps;
  return finalSparsity + (initialSparsity - finalSparsity) * (1 - progress) ** 3;
}

/** Whether masks are recomputed after `step`: t_0, t_0 + Δt, …, and t_0 + n·Δt itself. */
export function isAgpPruningStep(step: number, schedule: AgpSchedule): boolean {
  const since = step - schedule.startStep;
  if (since < 0 || since > schedule.rampSteps) return false;
  return since === schedule.rampSteps || since % Math.max(1, schedule.pruneEvery) === 0;
}

/** Writes `values` (as read by readValues) back into the weights. */
export function writeValues(weights: readonly PrunableWeight[], values: readonly Float32Array[]): void {
  weights.forEach((weight, i) => {
    const tensor = tf.tensor(values[i]!, weight.shape, 'float32');
    weight.variable.write(tensor);
    tensor.dispose();
  });
}

/** Sets pruned weights to exactly zero: w ← w · mask. */
export function applyMasks(weights: readonly PrunableWeight[], masks: readonly Uint8Array[]): void {
  weights.forEach((weight, i) => {
    const mask = masks[i];
    if (!mask) return;
    const values = Float32Array.from(weight.variable.read().dataSync() as Float32Array);
    for (let j = 0; j < values.length; j++) if (mask[j] === 0) values[j] = 0;
    const tensor = tf.tensor(values, weight.shape, 'float32');
    weight.variable.write(tensor);
    tensor.dispose();
  });
}

/**
 * Masks held as float tensors beside the weights they mask, for re-applying them after every
 * optimiser step without a round trip through JavaScript arrays.
 */
export class MaskTensors {
  private tensors: tf.Tensor[] = [];

  constructor(private readonly weights: readonly PrunableWeight[]) {}

  /** Replaces the masks. */
  set(masks: readonly Uint8Array[]): void {
    tf.dispose(this.tensors);
    this.tensors = masks.map((mask, i) =>
      tf.tensor(Float32Array.from(mask), this.weights[i]!.shape, 'float32'),
    );
  }

  /** w ← w · mask for every weight. */
  apply(): void {
    this.weights.forEach((weight, i) => {
      const mask = this.tensors[i];
      if (!mask) return;
      tf.tidy(() => {
        weight.variable.write(tf.mul(weight.variable.read(), mask));
      });
    });
  }

  dispose(): void {
    tf.dispose(this.tensors);
    this.tensors = [];
  }
}

/** Zeros per prunable weight, read from the model. */
export function layerSparsity(weights: readonly PrunableWeight[]): LayerSparsity[] {
  return weights.map((weight) => {
    const values = weight.variable.read().dataSync();
    let zeros = 0;
    for (let i = 0; i < values.length; i++) if (values[i] === 0) zeros++;
    return {
      layer: weight.layer,
      weight: weight.name,
      shape: weight.shape,
      total: values.length,
      zeros,
      sparsity: values.length > 0 ? zeros / values.length : 0,
    };
  });
}

/** Fraction of zeros over all the listed layers together. */
export function overallSparsity(layers: readonly LayerSparsity[]): number {
  const total = layers.reduce((sum, layer) => sum + layer.total, 0);
  const zeros = layers.reduce((sum, layer) => sum + layer.zeros, 0);
  return total > 0 ? zeros / total : 0;
}

/** Fraction of zeros in a set of masks. */
export function maskSparsity(masks: readonly Uint8Array[]): number {
  let total = 0;
  let zeros = 0;
  for (const mask of masks) {
    total += mask.length;
    for (let i = 0; i < mask.length; i++) if (mask[i] === 0) zeros++;
  }
  return total > 0 ? zeros / total : 0;
}
