import type * as tf from '@tensorflow/tfjs';

/** Facts about a model that the registry stores with every version. */
export interface ModelStats {
  /** All weights, trainable or not. */
  paramCount: number;
  /** Weights that are not exactly zero (pruning shows here). */
  nonZeroParams: number;
  /** Bytes of the float32 weights as exported (weights.bin). */
  sizeBytes: number;
}

export function modelStats(model: tf.LayersModel): ModelStats {
  let paramCount = 0;
  let nonZeroParams = 0;
  let sizeBytes = 0;
  for (const weight of model.weights) {
    const values = weight.read().dataSync();
    paramCount += values.length;
    sizeBytes += values.length * 4;
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) nonZeroParams++;
  }
  return { paramCount, nonZeroParams, sizeBytes };
}

/** One line per layer, for task summaries. */
export function describeLayers(
  model: tf.LayersModel,
): Array<{ name: string; type: string; outputShape: unknown; params: number }> {
  return model.layers.map((layer) => ({
    name: layer.name,
    type: layer.getClassName(),
    outputShape: layer.outputShape,
    params: layer.countParams(),
  }));
}
