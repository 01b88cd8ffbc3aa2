/**
 * Structured pruning: whole output units of Dense layers and whole filters of Conv2D layers are
 * ranked by the L1 or L2 norm of their incoming weights (Li et al. 2017, "Pruning Filters for
 * Efficient ConvNets"); the lowest are removed together with the matching inputs of the next
 * weighted layer, so the result is a physically smaller model: fewer parameters, a smaller export,
 * fewer FLOPs.
 *
 * Works on chains of layers (every Sequential model the model nodes build): between one weighted
 * layer and the next only shape-preserving or channel-preserving layers may sit (dropout, pooling,
 * flatten, activations). The output layer is never pruned (its units are the classes).
 *
 * Exactness: a removed unit of the "masked" model (incoming weights and bias zeroed, see
 * `applyStructuredMask`) outputs the constant act(0). For relu, tanh, elu, gelu, swish, linear that
 * is 0 and the rewired model gives the same outputs as the masked one; for activations with
 * act(0) ≠ 0 (sigmoid) the constant's contribution is folded into the next layer's bias, which is
 * exact when the next layer is Dense or a 'valid' convolution, and off at the borders of a 'same'
 * convolution (a warning says so).
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { NormCriterion } from '../../nodes/prune';

/** Layers that may sit between two weighted layers: they keep the channel axis as it is. */
const PASS_THROUGH: ReadonlySet<string> = new Set([
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'MaxPooling2D',
  'AveragePooling2D',
  'Flatten',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
]);

const WEIGHTED: ReadonlySet<string> = new Set(['Dense', 'Conv2D']);

/** What happens to one prunable layer. */
export interface StructuredLayerPlan {
  layer: string;
  layerClass: 'Dense' | 'Conv2D';
  /** Units (Dense) or filters (Conv2D) before pruning. */
  total: number;
  /** Indices of the units kept, ascending. */
  keep: number[];
  /** Norm of each unit's incoming weights (by the plan's criterion). */
  norms: number[];
}

export interface StructuredPlan {
  criterion: NormCriterion;
  fraction: number;
  layers: StructuredLayerPlan[];
}

function modelInvalid(message: string, details: Record<string, unknown>): DistilleryError {
  return new DistilleryError('MODEL_INVALID', message, details);
}

/** The model's layers as a chain (each fed by the one before); refuses other topologies. */
function chainLayers(model: tf.LayersModel): tf.layers.Layer[] {
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  layers.forEach((layer, i) => {
    const nodes = layer.inboundNodes;
    const inbound =
      nodes.length === 1 ? nodes[0]!.inboundLayers.filter((l) => l.getClassName() !== 'InputLayer') : [];
    const expected = i === 0 ? [] : [layers[i - 1]];
    if (nodes.length !== 1 || inbound.length !== expected.length || inbound[0] !== expected[0]) {
      throw modelInvalid(
        `Structured pruning needs a chain of layers; layer "${layer.name}" is not fed by the one before it`,
        { layer: layer.name, expected: 'a sequential chain of layers', received: layer.getClassName() },
      );
    }
  });
  return layers;
}

/** Pairs each weighted layer with the next one, checking what lies between. */
function weightedPairs(
  layers: tf.layers.Layer[],
): Array<{ layer: tf.layers.Layer; next: tf.layers.Layer | undefined }> {
  const pairs: Array<{ layer: tf.layers.Layer; next: tf.layers.Layer | undefined }> = [];
  let current: tf.layers.Layer | undefined;
  for (const layer of layers) {
    const layerClass = layer.getClassName();
    if (WEIGHTED.has(layerClass)) {
      if (current) pairs.push({ layer: current, next: layer });
      current = layer;
    } else if (!PASS_THROUGH.has(layerClass) && current) {
      throw modelInvalid(`Structured pruning cannot rewire through layer "${layer.name}" (${layerClass})`, {
        layer: layer.name,
        expected: `Dense, Conv2D or one of ${[...PASS_THROUGH].join(', ')}`,
        received: layerClass,
      });
    }
  }
  if (current) pairs.push({ layer: current, next: undefined });
  return pairs;
}

/** Norm of each output unit's incoming weights, from a kernel of shape [..., in, out]. */
export function unitNorms(
  kernel: Float32Array,
  shape: readonly number[],
  criterion: NormCriterion,
): number[] {
  const units = shape[shape.length - 1] ?? 1;
  const norms = new Array<number>(units).fill(0);
  for (let i = 0; i < kernel.length; i++) {
    const value = kernel[i]!;
    norms[i % units]! += criterion === 'l1' ? Math.abs(value) : value * value;
  }
  return criterion === 'l2' ? norms.map(Math.sqrt) : norms;
}

/**
 * Chooses, in every prunable layer, the units to keep: round(fraction × units) of the lowest norms
 * are removed (at least one unit always stays). `exclude` names layers to leave whole.
 */
export function planStructuredPruning(
  model: tf.LayersModel,
  fraction: number,
  criterion: NormCriterion,
  exclude: readonly string[] = [],
): StructuredPlan {
  if (!(fraction >= 0 && fraction < 1)) {
    throw new DistilleryError('PARAM_OUT_OF_RANGE', `sparsity must be in [0, 1), got ${fraction}`, {
      param: 'sparsity',
      expected: '0 ≤ sparsity < 1',
      received: fraction,
    });
  }
  const plans: StructuredLayerPlan[] = [];
  for (const { layer, next } of weightedPairs(chainLayers(model))) {
    if (!next || exclude.includes(layer.name)) continue;
    const kernel = layer.weights[0]!;
    const values = kernel.read().dataSync() as Float32Array;
    const norms = unitNorms(values, kernel.shape as number[], criterion);
    const total = norms.length;
    const remove = Math.min(total - 1, Math.round(fraction * total));
    const ranked = norms
      .map((norm, index) => ({ norm, index }))
      .sort((a, b) => b.norm - a.norm || a.index - b.index);
    const keep = ranked
      .slice(0, total - remove)
      .map((entry) => entry.index)
      .sort((a, b) => a - b);
    plans.push({
      layer: layer.name,
      layerClass: layer.getClassName() as 'Dense' | 'Conv2D',
      total,
      keep,
      norms,
    });
  }
  return { criterion, fraction, layers: plans };
}

/** act(0) of a layer's activation (0 for relu, tanh, …; 0.5 for sigmoid). */
function activationAtZero(layer: tf.layers.Layer): number {
  const name = layer.getConfig().activation;
  if (typeof name !== 'string' || name === 'linear') return 0;
  return tf.tidy(() => {
    const activation = tf.layers.activation({
      activation: name as Parameters<typeof tf.layers.activation>[0]['activation'],
    });
    return (activation.apply(tf.zeros([1, 1])) as tf.Tensor).dataSync()[0] ?? 0;
  });
}

/**
 * The same model with every removed unit's incoming weights and bias set to zero, in place: what
 * the rewired model must reproduce.
 */
export function applyStructuredMask(model: tf.LayersModel, plan: StructuredPlan): void {
  for (const entry of plan.layers) {
    const layer = model.getLayer(entry.layer);
    const kept = new Uint8Array(entry.total);
    for (const index of entry.keep) kept[index] = 1;
    for (const weight of layer.weights.slice(0, 2)) {
      const values = Float32Array.from(weight.read().dataSync() as Float32Array);
      for (let i = 0; i < values.length; i++) if (kept[i % entry.total] === 0) values[i] = 0;
      const tensor = tf.tensor(values, weight.shape as number[], 'float32');
      weight.write(tensor);
      tensor.dispose();
    }
  }
}

/** How the inputs of a weighted layer relate to the units of the pruned layer before it. */
interface InputMapping {
  source: StructuredLayerPlan;
  /** act(0) of the source layer: what a removed unit contributes. */
  constant: number;
  /** Positions per unit: input index = position × units + unit (Flatten of [h, w, c]), 1 otherwise. */
  positions: number;
}

/** Keeps `rows` of the input axis and `columns` of the output axis of a [spatial, in, out] kernel. */
function sliceKernel(
  values: Float32Array,
  shape: readonly number[],
  rows: readonly number[] | null,
  columns: readonly number[] | null,
): { values: Float32Array; shape: number[] } {
  const outs = shape[shape.length - 1]!;
  const ins = shape[shape.length - 2]!;
  const spatial = values.length / (ins * outs);
  const rowList = rows ?? Array.from({ length: ins }, (_, i) => i);
  const columnList = columns ?? Array.from({ length: outs }, (_, i) => i);
  const out = new Float32Array(spatial * rowList.length * columnList.length);
  let k = 0;
  for (let s = 0; s < spatial; s++) {
    for (const r of rowList) {
      const base = (s * ins + r) * outs;
      for (const c of columnList) out[k++] = values[base + c]!;
    }
  }
  return { values: out, shape: [...shape.slice(0, -2), rowList.length, columnList.length] };
}

/**
 * Builds the smaller model: the planned layers keep only their `keep` units, and the next weighted
 * layer only the matching inputs. Returns the new model (the input is left untouched) and warnings.
 */
export async function rewireModel(
  model: tf.LayersModel,
  plan: StructuredPlan,
): Promise<{ model: tf.LayersModel; warnings: string[] }> {
  const byLayer = new Map(plan.layers.map((entry) => [entry.layer, entry]));
  const warnings: string[] = [];
  const layers = chainLayers(model);

  // New weights per layer name, walking the chain.
  const newWeights = new Map<string, Array<{ values: Float32Array; shape: number[] }>>();
  let mapping: InputMapping | undefined;
  for (const layer of layers) {
    const layerClass = layer.getClassName();
    if (layerClass === 'Flatten' && mapping) {
      const shape = (layer.input as tf.SymbolicTensor).shape;
      const positions = shape.slice(1, -1).reduce<number>((a, b) => a * (b ?? 1), 1);
      mapping = { ...mapping, positions };
      continue;
    }
    if (layerClass === 'GlobalAveragePooling2D' || layerClass === 'GlobalMaxPooling2D') {
      if (mapping) mapping = { ...mapping, positions: 1 };
      continue;
    }
    if (!WEIGHTED.has(layerClass)) continue;
    const [kernel, bias] = layer.weights;
    if (!kernel) continue;
    const kernelValues = kernel.read().dataSync() as Float32Array;
    const kernelShape = kernel.shape as number[];
    const own = byLayer.get(layer.name);
    let rows: number[] | null = null;
    let biasShift: Float32Array | undefined;
    if (mapping) {
      const { source, positions, constant } = mapping;
      const units = source.total;
      const ins = kernelShape[kernelShape.length - 2]!;
      if (ins !== positions * units) {
        throw modelInvalid(
          `Layer "${layer.name}" takes ${ins} inputs; expected ${positions} × ${units} from "${source.layer}"`,
          {
            layer: layer.name,
            expected: positions * units,
            received: ins,
          },
        );
      }
      rows = [];
      for (let p = 0; p < positions; p++) for (const unit of source.keep) rows.push(p * units + unit);
      if (constant !== 0) {
        // Removed units output `constant`: add constant × their weights to this layer's bias.
        const outs = kernelShape[kernelShape.length - 1]!;
        const kept = new Uint8Array(ins);
        for (const row of rows) kept[row] = 1;
        biasShift = new Float32Array(outs);
        for (let i = 0; i < kernelValues.length; i++) {
          const row = Math.floor(i / outs) % ins;
          if (kept[row] === 0) biasShift[i % outs]! += constant * kernelValues[i]!;
        }
        if (layerClass === 'Conv2D' && layer.getConfig().padding === 'same') {
          warnings.push(
            `"${source.layer}" outputs ${constant} for removed filters; folding that into "${layer.name}" is approximate at the borders of a 'same' convolution`,
          );
        }
      }
    }
    const columns = own ? own.keep : null;
    const weights = [sliceKernel(kernelValues, kernelShape, rows, columns)];
    if (bias) {
      const biasValues = Float32Array.from(bias.read().dataSync() as Float32Array);
      if (biasShift) for (let i = 0; i < biasValues.length; i++) biasValues[i]! += biasShift[i]!;
      const kept = columns ? Float32Array.from(columns, (c) => biasValues[c]!) : biasValues;
      weights.push({ values: kept, shape: [kept.length] });
    }
    if (layer.weights.length > 2) {
      throw modelInvalid(
        `Layer "${layer.name}" has ${layer.weights.length} weights; structured pruning expects kernel and bias`,
        {
          layer: layer.name,
          expected: 'kernel and bias',
          received: layer.weights.map((w) => w.originalName),
        },
      );
    }
    newWeights.set(layer.name, weights);
    mapping = own ? { source: own, constant: activationAtZero(layer), positions: 1 } : undefined;
  }

  // Same topology with fewer units, then the sliced weights.
  const topology = model.toJSON(null, false) as {
    config: { layers: Array<{ config: Record<string, unknown> }> };
  };
  for (const entry of topology.config.layers) {
    const plan = byLayer.get(entry.config.name as string);
    if (!plan) continue;
    if (plan.layerClass === 'Dense') entry.config.units = plan.keep.length;
    else entry.config.filters = plan.keep.length;
  }
  const rewired = await tf.models.modelFromJSON({
    modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'],
  });
  const tensors: tf.Tensor[] = [];
  for (const layer of rewired.layers) {
    const values = newWeights.get(layer.name);
    if (!values) continue;
    layer.weights.forEach((weight, i) => {
      const value = values[i];
      if (!value || !tf.util.arraysEqual(value.shape, weight.shape as number[])) {
        throw modelInvalid(
          `Rewired layer "${layer.name}": weight ${weight.originalName} has the wrong shape`,
          {
            layer: layer.name,
            expected: weight.shape,
            received: value?.shape,
          },
        );
      }
      const tensor = tf.tensor(value.values, value.shape, 'float32');
      tensors.push(tensor);
      weight.write(tensor);
    });
  }
  tf.dispose(tensors);
  return { model: rewired, warnings };
}

/** Units per planned layer before and after, for logs and the registry. */
export function describePlan(plan: StructuredPlan): Array<{ layer: string; before: number; after: number }> {
  return plan.layers.map((entry) => ({ layer: entry.layer, before: entry.total, after: entry.keep.length }));
}
