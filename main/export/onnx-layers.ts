/**
 * One converter per TensorFlow.js layer type, from the layer's Keras config and weights to ONNX
 * nodes (opset 13). Layout: tfjs is channels-last; ONNX's Conv, pooling, Resize and Pad work on
 * NCHW. Every rank-4 value is therefore held NCHW inside the graph: a graph input is transposed
 * once on entry, a rank-4 output once on exit, and layers that read the channels-last order
 * (Flatten, Dense and Reshape on a feature map) transpose back first, so that flattening orders
 * values exactly as tfjs does. ONNX Runtime's optimiser cancels the adjacent transposes.
 *
 * Weights with per-channel integers (quantized-weights.ts) become an int8 initializer and a
 * DequantizeLinear with one scale per output channel (`axis`): QDQ form.
 */
import { activationLayer, eluLayer, leakyRelu, reluLayer, softmaxLayer } from './onnx-activations';
import {
  batchNormalization,
  conv2d,
  dense,
  depthwiseConv2d,
  globalPooling,
  pooling,
  separableConv2d,
} from './onnx-conv-layers';
import { single, toChannelsFirst, toChannelsLast, type LayerConverter } from './onnx-layer-helpers';
import { concatenate, flatten, merge, reshape, upSampling2d, zeroPadding2d } from './onnx-shape-layers';

const identity: LayerConverter = { convert: (ctx, inputs) => single(ctx, inputs) };

/** Layer class names → their converters. Layers that only act in training export as identities. */
export const LAYER_CONVERTERS: Record<string, LayerConverter> = {
  Dense: dense,
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  MaxPooling2D: pooling('MaxPool'),
  AveragePooling2D: pooling('AveragePool'),
  GlobalAveragePooling2D: globalPooling('ReduceMean'),
  GlobalMaxPooling2D: globalPooling('ReduceMax'),
  Flatten: flatten,
  Reshape: reshape,
  Concatenate: concatenate,
  Add: merge('Add'),
  Multiply: merge('Multiply'),
  Average: merge('Average'),
  Maximum: merge('Maximum'),
  Minimum: merge('Minimum'),
  UpSampling2D: upSampling2d,
  ZeroPadding2D: zeroPadding2d,
  BatchNormalization: batchNormalization,
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyRelu,
  ELU: eluLayer,
  Softmax: softmaxLayer,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
};

/** Graph-level conversions the exporter applies at the inputs and outputs. */
export const layout = { toChannelsFirst, toChannelsLast };
