import { boolean, choice, defineNodeType, integer, port, string } from './define';

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
  // outDir lies outside the run folder: a reused export is checked against the files it wrote there.
  effects: { external: ['outDir'] },
  params: {
    format: choice({
      default: 'tfjs',
      choices: EXPORT_FORMATS,
      help: 'tfjs: TensorFlow.js layers model; onnx: model.onnx for ONNX Runtime and other ONNX readers.',
    }),
    outDir: string({
      required: true,
      help:
        'Folder to write, created when missing: an absolute path, or a path relative to the data directory’s exports folder ' +
        '("mnist-mlp" is <data dir>/exports/mnist-mlp). A folder that holds anything but an earlier export of this same model is refused unless overwrite is on.',
    }),
    overwrite: boolean({
      default: false,
      help: 'Replace what outDir holds even when it is another model’s export or other files (otherwise such a folder is refused).',
    }),
    shardSizeBytes: integer({
      default: 4_194_304,
      min: 1024,
      max: 1_073_741_824,
      help: 'tfjs: largest weight shard, in bytes.',
      visibleWhen: { format: ['tfjs'] },
    }),
  },
});
