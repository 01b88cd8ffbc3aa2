import { boolean, choice, defineNodeType, integer, port } from './define';
import { SCORED_SPLITS } from './shared-params';

/** Storage types of quantized weights that the tfjs weights manifest can hold. */
export const QUANTIZATION_DTYPES = ['uint8', 'uint16', 'float16'] as const;
export type QuantizationDtype = (typeof QUANTIZATION_DTYPES)[number];

/**
 * Post-training weight quantization in the TensorFlow.js weights-manifest format (float16, or
 * affine uint16 / uint8 per tensor), loadable by stock `tf.loadLayersModel`.
 */
export const quantizeNode = defineNodeType({
  type: 'quantize',
  version: 1,
  title: 'Quantize',
  category: 'compress',
  help:
    'Stores the weights as float16, or as uint16 / uint8 with one affine scale and minimum per tensor ' +
    '(w ≈ q·scale + min), in the TensorFlow.js weights format so that stock tf.loadLayersModel dequantizes them. ' +
    'The format has one scale per weight tensor, so quantization is per tensor (per-channel is not expressible). ' +
    'Reports the dequantized model’s accuracy against the float model’s, the size before and after, and the largest weight error.',
  inputs: {
    model: port('model', { help: 'A classifier.' }),
    dataset: port('dataset', { help: 'Scores the float and the quantized model on one split.' }),
  },
  outputs: { model: port('model', { help: 'The quantized model.' }) },
  params: {
    dtype: choice({
      default: 'uint8',
      choices: QUANTIZATION_DTYPES,
      help: 'Storage type of the weights: 1 byte (uint8), 2 bytes (uint16, float16) instead of 4.',
    }),
    nudgeZero: boolean({
      default: true,
      help: 'uint8/uint16: widen the range to include 0 and make 0 exactly representable (as the tfjs converter does), so pruned weights stay exactly zero.',
    }),
    split: choice({
      default: 'test',
      choices: SCORED_SPLITS,
      help: 'Split the accuracy is measured on.',
    }),
    batchSize: integer({ default: 256, min: 1, max: 65_536, help: 'Batch size for scoring.' }),
  },
  lineageParams: () => ['dtype'],
});
