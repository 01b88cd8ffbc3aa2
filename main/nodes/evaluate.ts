import { choice, defineNodeType, integer, port } from './define';
import { SCORED_SPLITS } from './shared-params';

/**
 * Runtimes `evaluate` can score a model in: TensorFlow.js (the worker's backend), ONNX Runtime
 * (CPU, on the model's ONNX export: what deployment gets), or both side by side.
 */
export const EVALUATION_RUNTIMES = ['tfjs', 'onnxruntime', 'both'] as const;
export type EvaluationRuntime = (typeof EVALUATION_RUNTIMES)[number];

/** Accuracy, loss, confusion matrix, size and latency of a classifier. */
export const evaluateNode = defineNodeType({
  type: 'evaluate',
  version: 1,
  title: 'Evaluate',
  category: 'evaluate',
  help:
    'Accuracy, loss and confusion matrix on a split, plus parameter count, non-zero parameters, exported size and latency per sample. ' +
    'With runtime onnxruntime or both, the model is exported to ONNX and scored in ONNX Runtime (CPU) as well: accuracy, latency and size of what deployment gets. ' +
    'Results are attached to the model in the registry.',
  inputs: { model: port('model'), dataset: port('dataset') },
  outputs: {},
  params: {
    split: choice({
      default: 'test',
      choices: SCORED_SPLITS,
      help: 'Which split to score.',
    }),
    batchSize: integer({ default: 256, min: 1, max: 65_536, help: 'Batch size for scoring.' }),
    latencySamples: integer({
      default: 200,
      min: 0,
      max: 100_000,
      help: 'Single-example predictions timed for latency; 0 = skip.',
    }),
    runtime: choice({
      default: 'tfjs',
      choices: EVALUATION_RUNTIMES,
      help: 'tfjs: score in TensorFlow.js; onnxruntime: score the ONNX export in ONNX Runtime (CPU, one thread); both: both, side by side (onnx_* metrics).',
    }),
  },
  metrics: [
    'accuracy',
    'loss',
    'param_count',
    'nonzero_params',
    'size_bytes',
    'sparse_size_bytes',
    'throughput',
    'latency_ms',
    'onnx_accuracy',
    'onnx_loss',
    'onnx_size_bytes',
    'onnx_throughput',
    'onnx_latency_ms',
    'onnx_max_abs_difference',
    'onnx_agreement',
  ],
});
