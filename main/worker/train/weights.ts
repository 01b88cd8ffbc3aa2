/**
 * Model weights and gradients as the training loop and checkpoints handle them: the trainable
 * variables, global-norm clipping, copying every weight out and back in (checked against the model),
 * and the check that a checkpoint's optimiser state fits the run.
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { NamedArrays, Optimizer, OptimizerState } from './optimizers';

/** The trainable weights of a model as the tf.Variables the gradient tape tracks. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  // LayerVariable.read() is typed as Tensor but returns its backing tf.Variable (tfjs-layers
  // variables.js: `read() { return this.val; }`), which is what variableGrads needs.
  return model.trainableWeights.map((weight) => weight.read() as tf.Variable);
}

/** √Σ‖g‖² over all gradients, as a scalar tensor. */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** Scales all gradients by min(1, maxNorm / globalNorm) (Pascanu et al.); new tensors. */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): tf.Tensor[] {
  return tf.tidy(() => {
    const norm = globalNorm(grads);
    const scale = tf.div(maxNorm, tf.maximum(norm, maxNorm));
    return grads.map((g) => tf.mul(g, scale));
  });
}

/** Every model weight (trainable or not), copied, keyed by position. */
export function readWeights(model: tf.LayersModel): NamedArrays {
  const arrays: NamedArrays = {};
  model.weights.forEach((weight, i) => {
    const value = weight.read();
    const data = value.dataSync();
    arrays[String(i)] = {
      shape: [...value.shape],
      values: data instanceof Int32Array ? Int32Array.from(data) : Float32Array.from(data as Float32Array),
    };
  });
  return arrays;
}

/** Puts weights read by `readWeights` back; `file` names the source in errors. */
export function writeWeights(model: tf.LayersModel, arrays: NamedArrays, file: string): void {
  const weights = model.weights;
  const count = Object.keys(arrays).length;
  if (count !== weights.length) {
    throw new DistilleryError(
      'CHECKPOINT_INVALID',
      `Checkpoint file ${file}: ${count} weights, model has ${weights.length}`,
      {
        file,
        expected: `${weights.length} weights`,
        received: count,
      },
    );
  }
  const checked = weights.map((weight, i) => {
    const array = arrays[String(i)];
    const shape = weight.read().shape;
    if (!array || !tf.util.arraysEqual(array.shape, shape)) {
      throw new DistilleryError(
        'CHECKPOINT_INVALID',
        `Checkpoint file ${file}: weight ${i} (${weight.originalName}) has the wrong shape`,
        {
          file,
          expected: `[${shape.join(', ')}]`,
          received: array ? `[${array.shape.join(', ')}]` : 'nothing',
        },
      );
    }
    return { array, dtype: weight.dtype };
  });
  const tensors = checked.map(({ array, dtype }) => tf.tensor(array.values, array.shape, dtype));
  model.setWeights(tensors);
  tf.dispose(tensors);
}

/** Throws CHECKPOINT_INVALID when a checkpoint's optimiser state does not fit `optimizer` and `trainable`. */
export function checkOptimizerState(
  state: OptimizerState,
  optimizer: Optimizer,
  trainable: tf.Variable[],
  file: string,
): void {
  const fail = (expected: string, received: unknown): never => {
    throw new DistilleryError(
      'CHECKPOINT_INVALID',
      `Checkpoint file ${file}: optimiser state does not fit this run`,
      {
        file,
        expected,
        received,
      },
    );
  };
  if (state.name !== optimizer.name) fail(`state of ${optimizer.name}`, state.name);
  for (const [key, array] of Object.entries(state.slots)) {
    const index = Number(key.slice(key.lastIndexOf('/') + 1));
    const variable = trainable[index];
    if (!variable) fail(`slots for ${trainable.length} variables`, key);
    else if (!tf.util.arraysEqual(variable.shape, array.shape))
      fail(`[${variable.shape.join(', ')}] for ${key}`, array.shape);
  }
}
