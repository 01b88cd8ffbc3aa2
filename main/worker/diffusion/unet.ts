/**
 * A small class-conditional U-Net (Ronneberger et al.; the DDPM variant of Ho et al.) built from
 * stock tfjs layers only, so any third party loads it with a plain `tf.loadLayersModel`.
 *
 * Inputs (in this order):
 * - `image` [s, s, c]: the noisy image x_t, values around [−1, 1];
 * - `time` [timeEmbedDim]: the sinusoidal embedding of the 0-based timestep t, computed outside
 *   the model by `timeEmbedding` (the formula is written into `diffusion.json` on export);
 * - `class` [numClasses + 1]: the one-hot class, the last slot being the null class (no
 *   condition), which classifier-free guidance needs. An unconditional model has numClasses = 0
 *   and always receives [1].
 * Output: ε̂, the predicted noise [s, s, c].
 *
 * Structure: time and class go through a two-layer MLP (`cond_1`, `cond_2`); every residual block
 * scales its feature map by one per-channel projection of that vector and adds another (FiLM),
 * broadcast over the map with stock layers (Dense → Reshape [1, 1, C] → UpSampling2D to the map's
 * size → Multiply / Add). Encoder levels hold
 * `blocksPerLevel` residual blocks (conv 3×3 → + condition → conv 3×3, plus a 1×1 skip when the
 * width changes) and a stride-2 convolution down; the decoder mirrors it with nearest 2× upsampling
 * + conv, concatenating the encoder's output of the same level (the skip connections). The output
 * convolution starts at zero, so an untrained model predicts ε̂ = 0 (loss 1).
 */
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import type { ParamsOf } from '../../nodes/define';
import type { Activation } from '../../nodes/model-mlp';
import type { modelUnetNode } from '../../nodes/model-unet';
import { seedSequence } from '../models/mlp';

/**
 * A `model.unet` node's params. `imageSize` 0 means the dataset's height; `conditioning` is how
 * the time/class condition enters each residual block: `scale-shift` multiplies the feature map by
 * one per-channel vector and adds another (FiLM; the "scale-shift norm" of Nichol & Dhariwal),
 * `shift` only adds one (DDPM's original).
 */
export type UnetParams = ParamsOf<typeof modelUnetNode>;

export interface UnetOptions extends UnetParams {
  /** Image channels (1 for grey). */
  channels: number;
  /** Classes the model is conditioned on (0 for an unconditional model). */
  numClasses: number;
  seed: number;
}

/** Input names, in the order `model.apply` takes them. */
export const UNET_INPUTS = ['image', 'time', 'class'] as const;
/** Period bound of the sinusoidal embedding (Vaswani et al.; DDPM uses the same). */
export const TIME_EMBEDDING_MAX_PERIOD = 10_000;

/** Refuses image sizes that the levels cannot halve evenly. */
export function checkUnetShape(imageSize: number, widths: number[]): void {
  const factor = 2 ** (widths.length - 1);
  if (imageSize < factor || imageSize % factor !== 0) {
    const expected = `a multiple of ${factor} for ${widths.length} levels (each level halves the image)`;
    throw new DistilleryError('INCOMPATIBLE_INPUTS', `imageSize must be ${expected}, got ${imageSize}`, {
      param: 'imageSize',
      expected,
      received: imageSize,
    });
  }
}

/** Builds the U-Net. Same options and seed → identical initial weights on every backend. */
export function buildUnet(options: UnetOptions): tf.LayersModel {
  const { imageSize: size, channels, widths, blocksPerLevel, timeEmbedDim, activation } = options;
  checkUnetShape(size, widths);
  const nextSeed = seedSequence(options.seed);
  const kernel = (): ReturnType<typeof tf.initializers.glorotUniform> =>
    tf.initializers.glorotUniform({ seed: nextSeed() });
  const apply = (layer: tf.layers.Layer, input: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor =>
    layer.apply(input) as tf.SymbolicTensor;
  const conv = (
    name: string,
    filters: number,
    x: tf.SymbolicTensor,
    extra: { kernelSize?: number; strides?: number; activation?: Activation; zero?: boolean } = {},
  ): tf.SymbolicTensor =>
    apply(
      tf.layers.conv2d({
        name,
        filters,
        kernelSize: extra.kernelSize ?? 3,
        strides: extra.strides ?? 1,
        padding: 'same',
        ...(extra.activation ? { activation: extra.activation } : {}),
        kernelInitializer: extra.zero ? 'zeros' : kernel(),
        biasInitializer: 'zeros',
      }),
      x,
    );

  const image = tf.input({ shape: [size, size, channels], name: 'image' });
  const time = tf.input({ shape: [timeEmbedDim], name: 'time' });
  const label = tf.input({ shape: [options.numClasses + 1], name: 'class' });
  const condWidth = 2 * timeEmbedDim;
  let cond = apply(tf.layers.concatenate({ name: 'cond_concat' }), [time, label]);
  cond = apply(
    tf.layers.dense({ name: 'cond_1', units: condWidth, activation, kernelInitializer: kernel() }),
    cond,
  );
  cond = apply(
    tf.layers.dense({ name: 'cond_2', units: condWidth, activation, kernelInitializer: kernel() }),
    cond,
  );

  /** A per-channel vector computed from the condition, broadcast over a side × side map. */
  const conditionMap = (
    name: string,
    width: number,
    side: number,
    bias: 'zeros' | 'ones',
  ): tf.SymbolicTensor => {
    let e = apply(
      tf.layers.dense({ name, units: width, kernelInitializer: kernel(), biasInitializer: bias }),
      cond,
    );
    e = apply(tf.layers.reshape({ name: `${name}_reshape`, targetShape: [1, 1, width] }), e);
    if (side > 1) e = apply(tf.layers.upSampling2d({ name: `${name}_broadcast`, size: [side, side] }), e);
    return e;
  };
  const block = (name: string, x: tf.SymbolicTensor, width: number, side: number): tf.SymbolicTensor => {
    let h = conv(`${name}_conv1`, width, x, { activation });
    if (options.conditioning === 'scale-shift') {
      const scale = conditionMap(`${name}_scale`, width, side, 'ones');
      h = apply(tf.layers.multiply({ name: `${name}_scale_mul` }), [h, scale]);
    }
    const shift = conditionMap(`${name}_cond`, width, side, 'zeros');
    h = apply(tf.layers.add({ name: `${name}_cond_add` }), [h, shift]);
    h = conv(`${name}_conv2`, width, h, { activation });
    const skip = x.shape[3] === width ? x : conv(`${name}_skip`, width, x, { kernelSize: 1 });
    return apply(tf.layers.add({ name: `${name}_out` }), [h, skip]);
  };

  let x = conv('stem', widths[0]!, image);
  let side = size;
  const skips: tf.SymbolicTensor[] = [];
  widths.forEach((width, level) => {
    for (let b = 0; b < blocksPerLevel; b++) x = block(`down${level + 1}_block${b + 1}`, x, width, side);
    skips.push(x);
    if (level < widths.length - 1) {
      x = conv(`down${level + 1}_downsample`, width, x, { strides: 2 });
      side /= 2;
    }
  });
  x = block('mid_block', x, widths.at(-1)!, side);
  for (let level = widths.length - 1; level >= 0; level--) {
    const width = widths[level]!;
    if (level < widths.length - 1) {
      x = apply(tf.layers.upSampling2d({ name: `up${level + 1}_upsample`, size: [2, 2] }), x);
      side *= 2;
      x = conv(`up${level + 1}_upconv`, width, x);
    }
    x = apply(tf.layers.concatenate({ name: `up${level + 1}_concat` }), [x, skips[level]!]);
    for (let b = 0; b < blocksPerLevel; b++) x = block(`up${level + 1}_block${b + 1}`, x, width, side);
  }
  const out = conv('out', channels, x, { zero: true });
  return tf.model({ name: 'unet', inputs: [image, time, label], outputs: out });
}

/**
 * Sinusoidal embedding of 0-based timesteps, [n, dim] row-major: for i < dim/2,
 * emb[i] = sin(t·ω_i), emb[dim/2 + i] = cos(t·ω_i), ω_i = 10000^(−i/(dim/2)).
 */
export function timeEmbedding(t: ArrayLike<number>, dim: number): Float32Array {
  const half = dim / 2;
  const out = new Float32Array(t.length * dim);
  for (let n = 0; n < t.length; n++) {
    for (let i = 0; i < half; i++) {
      const angle = t[n]! * Math.exp((-Math.log(TIME_EMBEDDING_MAX_PERIOD) * i) / half);
      out[n * dim + i] = Math.sin(angle);
      out[n * dim + half + i] = Math.cos(angle);
    }
  }
  return out;
}

/**
 * One-hot class rows [n, numClasses + 1]; a label outside [0, numClasses) (conventionally −1)
 * selects the null slot, as does every label of an unconditional model.
 */
export function classOneHot(labels: ArrayLike<number>, numClasses: number): Float32Array {
  const width = numClasses + 1;
  const out = new Float32Array(labels.length * width);
  for (let n = 0; n < labels.length; n++) {
    const label = labels[n]!;
    const slot = Number.isInteger(label) && label >= 0 && label < numClasses ? label : numClasses;
    out[n * width + slot] = 1;
  }
  return out;
}

/** What sampling and training need to know about a U-Net besides its weights. */
export interface UnetSpec {
  imageSize: number;
  channels: number;
  numClasses: number;
  timeEmbedDim: number;
}

/** The spec of a built (or loaded) U-Net, read from its input shapes. */
export function unetSpecOf(model: tf.LayersModel): UnetSpec {
  const [image, time, label] = model.inputs;
  const imageShape = image?.shape;
  const timeShape = time?.shape;
  const classShape = label?.shape;
  if (model.inputs.length !== 3 || !imageShape || !timeShape || !classShape || imageShape.length !== 4) {
    throw new DistilleryError(
      'MODEL_INVALID',
      'Not a Distillery U-Net: expected inputs image [s, s, c], time [d], class [k + 1]',
      {
        expected: UNET_INPUTS.join(', '),
        received: model.inputs.map((input) => input.shape),
      },
    );
  }
  return {
    imageSize: imageShape[1] as number,
    channels: imageShape[3] as number,
    timeEmbedDim: timeShape[1] as number,
    numClasses: (classShape[1] as number) - 1,
  };
}

/**
 * ε̂ for a batch: `t` is one timestep for the whole batch or one per example, `labels` one class per
 * example (−1 = null class). Call inside tf.tidy; usable inside gradient tapes.
 */
export function predictNoise(
  model: tf.LayersModel,
  spec: UnetSpec,
  x: tf.Tensor4D,
  t: number | ArrayLike<number>,
  labels: ArrayLike<number>,
): tf.Tensor4D {
  const n = x.shape[0];
  const steps = typeof t === 'number' ? new Array<number>(n).fill(t) : t;
  const time = tf.tensor2d(timeEmbedding(steps, spec.timeEmbedDim), [n, spec.timeEmbedDim]);
  const label = tf.tensor2d(classOneHot(labels, spec.numClasses), [n, spec.numClasses + 1]);
  // Not disposed here: a gradient tape may still need them. Call inside tf.tidy.
  return model.apply([x, time, label], { training: true }) as tf.Tensor4D;
}
