import {
  applyWhen,
  boolean,
  choice,
  defineNodeType,
  integer,
  number,
  port,
  type ParamProblem,
} from './define';
import { checkOptimizerParams, optimizerParams, SCORED_SPLITS } from './shared-params';

/** Storage types of quantized weights that the tfjs weights manifest can hold. */
export const QUANTIZATION_DTYPES = ['uint8', 'uint16', 'float16'] as const;
export type QuantizationDtype = (typeof QUANTIZATION_DTYPES)[number];

/** Post-training quantization of the trained weights, or quantization-aware fine-tuning first. */
export const QUANTIZATION_MODES = ['post-training', 'qat'] as const;
export type QuantizationMode = (typeof QUANTIZATION_MODES)[number];

/** Bit widths of the integer weights. */
export const QUANTIZATION_BITS = [8, 4] as const;

/** The shared optimiser group without its batchSize: quantize's own batchSize sizes scoring batches. */
function withoutBatchSize<T extends { batchSize: unknown }>(params: T): Omit<T, 'batchSize'> {
  const copy: Partial<T> = { ...params };
  delete copy.batchSize;
  return copy as Omit<T, 'batchSize'>;
}
const fineTuneParams = withoutBatchSize(optimizerParams);

/**
 * Weight quantization, post-training or quantization-aware. Writes the TensorFlow.js weights-manifest
 * format (float16, or affine uint16 / uint8 per tensor), loadable by stock `tf.loadLayersModel`, and
 * per-channel integers beside it that the ONNX export writes as int8 QDQ.
 */
export const quantizeNode = defineNodeType({
  type: 'quantize',
  version: 1,
  title: 'Quantize',
  category: 'compress',
  help:
    'Stores the weights as float16, or as uint16 / uint8 with one affine scale and minimum per tensor ' +
    '(w ≈ q·scale + min), in the TensorFlow.js weights format so that stock tf.loadLayersModel dequantizes them ' +
    '(the tfjs format has one scale per weight tensor, so the tfjs model is quantized per tensor). ' +
    'With uint8, the kernels are also stored as symmetric integers with one scale per output channel ' +
    '(8 or 4 bits, 4-bit values in int8 containers), which the ONNX export writes as int8 QuantizeLinear/DequantizeLinear. ' +
    'mode qat first fine-tunes with fake-quantized kernels (straight-through gradients) so the model learns to live with the rounding. ' +
    'Reports the quantized model’s accuracy against the float model’s, the size before and after, and the largest weight error.',
  inputs: {
    model: port('model', { help: 'A classifier.' }),
    dataset: port('dataset', {
      help: 'Scores the float and the quantized model on one split; qat fine-tunes on its train split.',
    }),
  },
  outputs: { model: port('model', { help: 'The quantized model.' }) },
  params: {
    mode: choice({
      default: 'post-training',
      choices: QUANTIZATION_MODES,
      help: 'post-training: quantize the weights as they are; qat: fine-tune with fake quantization of the kernels for `epochs`, then quantize.',
    }),
    bits: integer({
      default: 8,
      min: 4,
      max: 8,
      help: 'Bits of the integer kernels: 8 or 4. 4 bits need dtype uint8: the tfjs manifest and ONNX (before opset 21) have no 4-bit type, so the values are stored one per byte.',
      visibleWhen: { dtype: ['uint8'] },
    }),
    dtype: choice({
      default: 'uint8',
      choices: QUANTIZATION_DTYPES,
      help: 'Storage type of the tfjs weights: 1 byte (uint8), 2 bytes (uint16, float16) instead of 4. Only uint8 also writes the per-channel integers for ONNX.',
    }),
    nudgeZero: boolean({
      default: true,
      help: 'uint8/uint16: widen the range to include 0 and make 0 exactly representable (as the tfjs converter does), so pruned weights stay exactly zero.',
      visibleWhen: { dtype: ['uint8', 'uint16'] },
    }),
    split: choice({
      default: 'test',
      choices: SCORED_SPLITS,
      help: 'Split the accuracy is measured on.',
    }),
    batchSize: integer({ default: 256, min: 1, max: 65_536, help: 'Batch size for scoring.' }),
    // The fine-tuning params apply to quantization-aware training only.
    ...applyWhen({ mode: ['qat'] }, fineTuneParams),
    epochs: integer({
      default: 1,
      min: 1,
      max: 10_000,
      help: 'qat: fine-tuning passes over the training set with fake-quantized kernels.',
      visibleWhen: { mode: ['qat'] },
    }),
    learningRate: number({
      default: 0.0001,
      min: 0,
      max: 10,
      help: 'qat: peak learning rate η₀ of the fine-tuning (small: the model is already trained).',
      visibleWhen: { mode: ['qat'] },
    }),
    fineTuneBatchSize: integer({
      default: 64,
      min: 1,
      max: 65_536,
      help: 'qat: examples per fine-tuning step.',
      visibleWhen: { mode: ['qat'] },
    }),
  },
  check(params) {
    const issues: ParamProblem[] = [];
    if (!(QUANTIZATION_BITS as readonly number[]).includes(params.bits)) {
      issues.push({
        param: 'bits',
        expected: QUANTIZATION_BITS.join(' or '),
        received: params.bits,
        message: `bits must be ${QUANTIZATION_BITS.join(' or ')}, got ${params.bits}`,
      });
    }
    if (params.dtype !== 'uint8' && (params.bits !== 8 || params.mode === 'qat')) {
      const why = params.mode === 'qat' ? 'mode qat' : `bits ${params.bits}`;
      issues.push({
        param: 'dtype',
        expected: `uint8 with ${why}`,
        received: params.dtype,
        message: `${why} needs dtype uint8 (integer weights), got ${params.dtype}`,
      });
    }
    return [...issues, ...checkOptimizerParams(params)];
  },
  lineageParams: (params) => [
    'mode',
    'bits',
    'dtype',
    ...(params.mode === 'qat' ? ['epochs', 'learningRate'] : []),
  ],
  metrics: [
    'accuracy',
    'accuracy_float',
    'accuracy_delta',
    'size_bytes',
    'size_bytes_float',
    'compression_ratio',
    'max_weight_error',
    'mean_abs_weight_error',
    'kernel_max_error',
    'loss',
    'epoch_loss',
  ],
});
