/**
 * Fake quantization for quantization-aware training (Jacob et al. 2018; Krishnamoorthi 2018): the
 * forward pass uses w' = dequantize(quantize(w)) (per-channel.ts, same float32 arithmetic and
 * half-to-even rounding), the backward pass the straight-through estimator: ∂w'/∂w = 1 where
 * round(w / scale) lies inside the clipping range [−L, L], 0 outside. The scale is recomputed
 * from the weights at every step and treated as a constant (no gradient), so the model trains
 * float "shadow" weights that the integers are taken from at the end.
 *
 * `FakeQuantizedKernels` plugs this into the shared training loop without forking it: it wraps
 * the op's loss function, and only while that wrapped loss runs does each kernel's
 * `LayerVariable.read()` return the fake-quantized tensor instead of the variable. Everything else
 * that reads weights — the loop's trainable-variable list, checkpoints, `model.save` — sees the
 * float variables, so checkpoints and resume stay exact.
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import { Disposable, toDisposable } from '../../base/lifecycle';
import { symmetricLimit, type PerChannelWeight } from '../../export/quantized-weights';
import type { LossFn } from '../train/loop';
import { channelCount, dequantizePerChannel, PER_CHANNEL_KERNELS, quantizePerChannel } from './per-channel';

/**
 * clamp(round(x / scale), −L, L) · scale, with the straight-through gradient (zero where the
 * rounded value falls outside [−L, L]) for x and none for the scale. `scale` broadcasts against x.
 */
export function fakeQuantize(x: tf.Tensor, scale: tf.Tensor, bits: number): tf.Tensor {
  const limit = symmetricLimit(bits);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, step, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const rounded = tf.round(tf.div(input, step));
    save([rounded, step]);
    return {
      value: tf.mul(tf.clipByValue(rounded, -limit, limit), step),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [kept, scales] = saved as [tf.Tensor, tf.Tensor];
        const inside = tf.logicalAnd(tf.greaterEqual(kept, -limit), tf.lessEqual(kept, limit));
        return [tf.mul(dy, tf.cast(inside, 'float32')), tf.zerosLike(scales)];
      },
    };
  });
  return op(x, scale);
}

/** The per-channel scales of a kernel viewed as [−1, channels]: max |w| / L, 1 for a zero channel. */
export function perChannelScaleTensor(x: tf.Tensor2D, bits: number): tf.Tensor1D {
  return tf.tidy(() => {
    const largest = tf.max(tf.abs(x), 0);
    return tf.where(
      tf.greater(largest, 0),
      tf.div(largest, symmetricLimit(bits)),
      tf.onesLike(largest),
    ) as tf.Tensor1D;
  });
}

/**
 * Per-channel fake quantization of a kernel whose last `channelAxes` axes are its output channels.
 * The scales are computed inside the custom gradient, so the tape never sees (and never tries to
 * differentiate) the max / where that compute them.
 */
export function fakeQuantizePerChannel(x: tf.Tensor, channelAxes: number, bits: number): tf.Tensor {
  const limit = symmetricLimit(bits);
  const channels = channelCount(x.shape, channelAxes);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const flat = tf.reshape<tf.Rank.R2>(input, [-1, channels]);
    const scale = perChannelScaleTensor(flat, bits);
    const rounded = tf.round(tf.div(flat, scale));
    save([rounded]);
    return {
      value: tf.reshape(tf.mul(tf.clipByValue(rounded, -limit, limit), scale), input.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const kept = saved[0]!;
        const inside = tf.logicalAnd(tf.greaterEqual(kept, -limit), tf.lessEqual(kept, limit));
        return tf.mul(dy, tf.reshape(tf.cast(inside, 'float32'), dy.shape));
      },
    };
  });
  return op(x);
}

/** A kernel of the model that is fake-quantized: its layer variable and how its channels lie. */
interface Kernel {
  /** The manifest name, e.g. `conv_1/kernel`. */
  name: string;
  variable: tf.LayerVariable;
  channelAxes: number;
}

/** Kernels of the model's Dense and convolution layers (PER_CHANNEL_KERNELS), in layer order. */
export function perChannelKernels(model: tf.LayersModel): Kernel[] {
  const kernels: Kernel[] = [];
  for (const layer of model.layers) {
    for (const { suffix, channelAxes } of PER_CHANNEL_KERNELS[layer.getClassName()] ?? []) {
      const variable = layer.weights.find((weight) => weight.originalName === `${layer.name}/${suffix}`);
      if (variable) kernels.push({ name: variable.originalName, variable, channelAxes });
    }
  }
  return kernels;
}

/**
 * Fake-quantizes a model's kernels inside a wrapped loss function; see the file comment. Dispose
 * it to give the variables their own read() back.
 */
export class FakeQuantizedKernels extends Disposable {
  private active = false;
  private readonly kernels: Kernel[];

  constructor(
    model: tf.LayersModel,
    readonly bits: number,
  ) {
    super();
    this.kernels = perChannelKernels(model);
    if (this.kernels.length === 0) {
      throw new DistilleryError('MODEL_INVALID', 'The model has no Dense or convolution kernel to quantize', {
        expected: `a layer of type ${Object.keys(PER_CHANNEL_KERNELS).join(', ')}`,
        received: model.layers.map((layer) => layer.getClassName()),
      });
    }
    for (const kernel of this.kernels) {
      const variable = kernel.variable;
      const read = variable.read.bind(variable);
      // tfjs layers read their kernels through LayerVariable.read() in call(); an own property
      // shadows the prototype's method for this one variable until it is deleted again.
      variable.read = (): tf.Tensor =>
        this.active ? fakeQuantizePerChannel(read(), kernel.channelAxes, this.bits) : read();
      this._register(toDisposable(() => delete (variable as { read?: unknown }).read));
    }
  }

  /** Names of the kernels that are fake-quantized. */
  get names(): string[] {
    return this.kernels.map((kernel) => kernel.name);
  }

  /** `loss` with every kernel fake-quantized in its forward pass (training and validation alike). */
  wrapLoss(loss: LossFn): LossFn {
    return (model, x, y, training) => {
      this.active = true;
      try {
        return loss(model, x, y, training);
      } finally {
        this.active = false;
      }
    };
  }

  /** The integers and scales of every kernel from the current float weights. */
  quantizedKernels(): PerChannelWeight[] {
    return this.kernels.map((kernel) => quantizeKernel(kernel, this.bits));
  }
}

function quantizeKernel(kernel: Kernel, bits: number): PerChannelWeight {
  const value = kernel.variable.read();
  return quantizePerChannel(
    kernel.name,
    value.dataSync() as Float32Array,
    [...value.shape],
    kernel.channelAxes,
    bits,
  );
}

/** Per-channel integers of every kernel of a model (post-training, from its current weights). */
export function quantizeKernels(model: tf.LayersModel, bits: number): PerChannelWeight[] {
  return perChannelKernels(model).map((kernel) => quantizeKernel(kernel, bits));
}

/**
 * Replaces each kernel of the model by its dequantized integers q · scale (what ONNX's
 * DequantizeLinear computes), so that a tfjs copy of the model carries the same weights.
 */
export function writeDequantizedKernels(model: tf.LayersModel, kernels: PerChannelWeight[]): void {
  const byName = new Map(perChannelKernels(model).map((kernel) => [kernel.name, kernel]));
  for (const weight of kernels) {
    const kernel = byName.get(weight.name);
    if (!kernel) {
      throw new DistilleryError('MODEL_INVALID', `The model has no kernel ${weight.name}`, {
        expected: [...byName.keys()].join(', '),
        received: weight.name,
      });
    }
    const value = tf.tensor(dequantizePerChannel(weight), weight.shape, 'float32');
    kernel.variable.write(value);
    value.dispose();
  }
}
