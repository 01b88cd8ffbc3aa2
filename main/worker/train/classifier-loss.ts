/**
 * Cross-entropy for classifiers whose last layer outputs probabilities.
 *
 * Our model builders end in `dense(units, activation: 'softmax')` so that an exported model gives
 * probabilities in stock tfjs. Computing −log p_y from those probabilities needs a clip (p ≥ 1e-7),
 * and the clip stops learning exactly where it matters: once a wrong prediction is confident enough
 * that p_y < 1e-7 (a logit gap of only ~16), the gradient is zero. So the loss is computed from the
 * pre-softmax logits instead, with the stable log-sum-exp form (tf.losses.softmaxCrossEntropy, whose
 * gradient softmax(z) − onehot(y) never vanishes). The logits come from the same layers and
 * variables as the model: the sub-model up to the last layer's input, then that Dense layer's
 * kernel and bias applied without the activation. Models for which that is not possible fall back
 * to the clipped probabilities.
 */
import * as tf from '@tensorflow/tfjs';
import type { LossFn } from './loop';

/** Lower clip for probabilities in the fallback path. */
export const PROBABILITY_EPSILON = 1e-7;

export type LogitsSource =
  /** Last layer is Dense with softmax: its linear part is recomputed. */
  | 'dense-softmax'
  /** Last layer is a separate softmax (Softmax or Activation layer): its input is the logits. */
  | 'softmax-layer'
  /** The model already outputs unnormalised scores (linear last layer). */
  | 'linear'
  /** Anything else: log(clip(p, 1e-7, 1)). */
  | 'clipped-probabilities';

export interface ClassifierHead {
  source: LogitsSource;
  /** Logits [batch, classes] for inputs `x` (with dropout etc. active when `training`). */
  logits(x: tf.Tensor, training: boolean): tf.Tensor;
}

function activationOf(layer: tf.layers.Layer): string | undefined {
  const config = layer.getConfig();
  if (layer.getClassName() === 'Softmax') return 'softmax';
  return typeof config.activation === 'string' ? config.activation : undefined;
}

/** A sub-model from the model's inputs to `layer`'s input, or undefined when there is no single one. */
function featuresModel(model: tf.LayersModel, layer: tf.layers.Layer): tf.LayersModel | undefined {
  try {
    const input = layer.input;
    if (Array.isArray(input)) return undefined;
    return tf.model({ inputs: model.inputs, outputs: input });
  } catch {
    // A layer used at several places has no single input; fall back.
    return undefined;
  }
}

export function classifierHead(model: tf.LayersModel): ClassifierHead {
  const last = model.layers[model.layers.length - 1];
  const probabilities: ClassifierHead = {
    source: 'clipped-probabilities',
    logits: (x, training) =>
      tf.tidy(() =>
        tf.log(tf.clipByValue(model.apply(x, { training }) as tf.Tensor, PROBABILITY_EPSILON, 1)),
      ),
  };
  if (!last || model.outputs.length !== 1) return probabilities;
  const activation = activationOf(last);
  if (activation === 'linear') {
    return { source: 'linear', logits: (x, training) => model.apply(x, { training }) as tf.Tensor };
  }
  if (activation !== 'softmax') return probabilities;
  const features = featuresModel(model, last);
  if (!features) return probabilities;
  const className = last.getClassName();
  if (className === 'Softmax' || className === 'Activation') {
    return { source: 'softmax-layer', logits: (x, training) => features.apply(x, { training }) as tf.Tensor };
  }
  const useBias = last.getConfig().useBias !== false;
  const [kernel, bias] = last.weights;
  if (className !== 'Dense' || !kernel || (useBias && !bias) || features.outputs[0]?.shape.length !== 2) {
    return probabilities;
  }
  return {
    source: 'dense-softmax',
    logits: (x, training) =>
      tf.tidy(() => {
        const z = tf.matMul(features.apply(x, { training }) as tf.Tensor, kernel.read());
        return useBias && bias ? tf.add(z, bias.read()) : z;
      }),
  };
}

/**
 * Mean sparse softmax cross-entropy over the batch, from logits (see above); returns the logits as
 * scores so the loop can count correct predictions. `y` holds int32 class indices.
 */
export function sparseCrossEntropyLoss(model: tf.LayersModel): LossFn {
  const head = classifierHead(model);
  return (_model, x, y, training) => {
    const logits = head.logits(x, training);
    const classes = logits.shape[logits.shape.length - 1]!;
    const labels = tf.oneHot(tf.cast(y, 'int32'), classes);
    const loss = tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(labels, logits);
    return { loss, scores: logits };
  };
}
