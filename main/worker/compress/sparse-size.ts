/**
 * What a sparse encoding of a model's weights would take. TensorFlow.js layers exports are always
 * dense: the weights manifest has no sparse tensor type, so a pruned model's zeros are written out
 * like any other value and its export is no smaller. This is the size a simple sparse container
 * would need, per tensor: a bitmask of the non-zero positions (⌈n/8⌉ bytes) plus the non-zero
 * values at their stored width (4 bytes for float32, 1 or 2 when quantized), or the dense tensor
 * where that is smaller. At the sparsities pruning reaches (≥ 50%), a bitmask beats CSR with 16- or
 * 32-bit column indices.
 */
import type * as tf from '@tensorflow/tfjs';

export interface SparseTensorInput {
  values: ArrayLike<number>;
  /** Bytes per stored value (4 float32, 2 float16/uint16, 1 uint8). */
  bytesPerValue: number;
}

/** Bytes of one tensor: min(dense, bitmask + non-zero values). */
export function sparseTensorBytes(input: SparseTensorInput): number {
  const n = input.values.length;
  let nonZero = 0;
  for (let i = 0; i < n; i++) if (input.values[i] !== 0) nonZero++;
  const dense = n * input.bytesPerValue;
  const sparse = Math.ceil(n / 8) + nonZero * input.bytesPerValue;
  return Math.min(dense, sparse);
}

/** Sum over tensors of `sparseTensorBytes`. */
export function sparseSizeBytes(tensors: readonly SparseTensorInput[]): number {
  return tensors.reduce((sum, tensor) => sum + sparseTensorBytes(tensor), 0);
}

/**
 * Sparse size of a loaded model's weights; `bytesPerValue` gives each weight's stored width by
 * manifest name (from model.json: quantized weights are narrower), 4 when absent.
 */
export function modelSparseSizeBytes(
  model: tf.LayersModel,
  bytesPerValue: ReadonlyMap<string, number> = new Map(),
): number {
  return sparseSizeBytes(
    model.weights.map((weight) => ({
      values: weight.read().dataSync(),
      bytesPerValue: bytesPerValue.get(weight.originalName) ?? 4,
    })),
  );
}
