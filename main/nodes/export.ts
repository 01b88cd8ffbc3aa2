import { choice, defineNodeType, integer, port, string } from './define';

/** Formats the exporters write (main/export registers one exporter for each). */
export const EXPORT_FORMATS = ['tfjs', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Writes a model to a folder in a deployable format. */
export const exportNode = defineNodeType({
  type: 'export',
  version: 1,
  title: 'Export',
  category: 'export',
  help:
    'Writes the model as a TensorFlow.js layers model (model.json + weight shards) that stock tf.loadLayersModel loads, ' +
    'or as ONNX (model.onnx, opset 13, NHWC float32 input like tfjs; a quantized model exports as int8 QDQ with per-channel weight scales).',
  inputs: { model: port('model') },
  outputs: {},
  params: {
    format: choice({
      default: 'tfjs',
      choices: EXPORT_FORMATS,
      help: 'tfjs: TensorFlow.js layers model; onnx: model.onnx for ONNX Runtime and other ONNX readers.',
    }),
    outDir: string({ required: true, help: 'Folder to write; created when missing.' }),
    shardSizeBytes: integer({
      default: 4_194_304,
      min: 1024,
      max: 1_073_741_824,
      help: 'tfjs: largest weight shard, in bytes.',
    }),
  },
});
