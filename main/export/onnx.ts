/**
 * The `onnx` exporter: `model.onnx` (opset 13, IR version 7) encoded with protobufjs against
 * ONNX's own onnx.proto, from a layers-format model directory, without tfjs.
 *
 * - Inputs keep TensorFlow.js's layout: a classifier takes `input` [batch, height, width,
 *   channels] (NHWC) float32, exactly what tfjs's `predict` takes (pixels / 255 for the packaged
 *   image datasets), with a symbolic `batch` dimension; the graph transposes to NCHW for Conv and
 *   pooling inside. Functional models (the U-Net) keep their input names. Each output is named
 *   after the layer that produces it (`output` for our classifiers: class probabilities).
 * - Quantized models (the `quantize` node, which writes quantized-weights.json) export in QDQ
 *   form: int8 kernels with one scale per output channel, DequantizeLinear before each Conv /
 *   MatMul; biases and activations stay float32. Without that file the (dequantized) weights are
 *   written as float32.
 * - Metadata: producer `Distillery` and its version; the lineage summary as `doc_string`; class
 *   names, input layout, preprocessing (the same description as the tfjs export's, from
 *   preprocessing.ts), architecture, quantization, the full distillery.json and the `export`
 *   record naming the model (export-record.ts) in `metadata_props` (Netron shows both).
 *
 * A layer ONNX cannot express is refused with EXPORT_UNSUPPORTED naming every such layer.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistilleryError } from '../base/errors';
import { readLayersModel, type LayerNode, type LayersModelFile, type WeightValue } from './layers-model';
import { describeModelMeta } from './lineage-summary';
import { attribute, OnnxGraphBuilder, type GraphValue } from './onnx-graph';
import type { ConvertContext } from './onnx-layer-helpers';
import { LAYER_CONVERTERS, layout } from './onnx-layers';
import { encodeModelProto } from './onnx-proto';
import type { ExportRecord } from './export-record';
import { exportGuard, prepareOutDir } from './out-dir';
import { preprocessingOfModel } from './preprocessing';
import { productVersion } from './producer';
import { readQuantizedWeights, QUANTIZED_WEIGHTS_JSON, type PerChannelWeight } from './quantized-weights';
import type { ExportOptions, ExportResult, Exporter } from './types';

export const ONNX_OPSET = 13;
/** IR version 7 goes with opset 13 (ONNX 1.8); readers from onnx 1.8 on load it. */
export const ONNX_IR_VERSION = 7;
export const ONNX_MODEL_FILE = 'model.onnx';
export const ONNX_PRODUCER = 'Distillery';
/** Input name of a Sequential model. */
export const ONNX_INPUT = 'input';

/** What buildOnnxModel made, besides the bytes. */
export interface OnnxModelSummary {
  inputs: Array<{ name: string; shape: Array<number | null> }>;
  outputs: Array<{ name: string; shape: Array<number | null> }>;
  opTypes: string[];
  /** Whether kernels are int8 with per-channel scales (QDQ). */
  quantized: boolean;
  /** Bits of the quantized kernels' values (stored in int8), when quantized. */
  bits: number | null;
  /** Bytes of float32 and int8 initializers. */
  floatBytes: number;
  int8Bytes: number;
}

/** Layers in an order where every layer comes after the layers it reads. */
function topologicalOrder(model: LayersModelFile): LayerNode[] {
  const byName = new Map(model.layers.map((layer) => [layer.name, layer]));
  const done = new Set<string>();
  const order: LayerNode[] = [];
  const visiting = new Set<string>();
  const visit = (layer: LayerNode): void => {
    if (done.has(layer.name)) return;
    if (visiting.has(layer.name)) {
      throw new DistilleryError('MODEL_INVALID', `Layer "${layer.name}" is part of a cycle`, {
        layer: layer.name,
      });
    }
    visiting.add(layer.name);
    for (const name of layer.inbound) {
      const inbound = byName.get(name);
      if (!inbound) {
        throw new DistilleryError('MODEL_INVALID', `Layer "${layer.name}" reads unknown layer "${name}"`, {
          file: join(model.dir, 'model.json'),
          layer: layer.name,
          received: name,
        });
      }
      visit(inbound);
    }
    visiting.delete(layer.name);
    done.add(layer.name);
    order.push(layer);
  };
  model.layers.forEach(visit);
  return order;
}

/** Refuses the model, naming every layer that cannot be exported and why. */
function checkExportable(model: LayersModelFile): void {
  const problems: Array<{ layer: string; layerType: string; reason: string }> = [];
  for (const layer of model.layers) {
    if (layer.className === 'InputLayer') continue;
    const converter = LAYER_CONVERTERS[layer.className];
    const reason = converter ? converter.check?.(layer.config) : 'no ONNX conversion for this layer type';
    if (reason) problems.push({ layer: layer.name, layerType: layer.className, reason });
  }
  if (problems.length === 0) return;
  const first = problems[0]!;
  throw new DistilleryError(
    'EXPORT_UNSUPPORTED',
    `Not exportable to ONNX: ${problems.map((p) => `layer "${p.layer}" (${p.layerType}): ${p.reason}`).join('; ')}`,
    {
      file: join(model.dir, 'model.json'),
      layer: first.layer,
      layerType: first.layerType,
      expected: `layers of types ${Object.keys(LAYER_CONVERTERS).join(', ')}`,
      received: first.reason,
      layers: problems,
    },
  );
}

/**
 * Refuses per-channel integers that do not describe the model's weights (the model was changed
 * after quantization): each dequantized value must lie within half a per-channel step, plus the
 * manifest's own rounding, of the weight in weights.bin.
 */
function checkQuantizedWeights(model: LayersModelFile, quantized: Map<string, PerChannelWeight>): void {
  const file = join(model.dir, QUANTIZED_WEIGHTS_JSON);
  for (const entry of quantized.values()) {
    const weight: WeightValue | undefined = model.weights.get(entry.name);
    if (!weight || weight.shape.join() !== entry.shape.join()) {
      throw new DistilleryError(
        'MODEL_INVALID',
        `${file}: ${entry.name} [${entry.shape.join(', ')}] is not a weight of the model`,
        {
          file,
          expected: weight ? `[${weight.shape.join(', ')}]` : 'a weight of model.json',
          received: entry.name,
        },
      );
    }
    let largest = 0;
    for (const value of weight.values) largest = Math.max(largest, Math.abs(value));
    const stored = weight.quantization;
    const manifestRounding =
      stored?.dtype === 'float16'
        ? largest * 2 ** -11
        : typeof stored?.scale === 'number'
          ? stored.scale / 2
          : 0;
    let worst = 0;
    let allowedAtWorst = 0;
    for (let i = 0; i < weight.values.length; i++) {
      const scale = entry.scales[i % entry.channels]!;
      const difference = Math.abs(entry.values[i]! * scale - weight.values[i]!);
      const allowed = scale / 2 + manifestRounding + 1e-6 * Math.max(1, largest);
      if (difference - allowed > worst - allowedAtWorst) {
        worst = difference;
        allowedAtWorst = allowed;
      }
    }
    if (worst > allowedAtWorst) {
      throw new DistilleryError(
        'MODEL_INVALID',
        `${file}: the integers of ${entry.name} do not match its weights in the model (off by ${worst.toExponential(3)}, ` +
          `at most ${allowedAtWorst.toExponential(3)} expected); was the model changed after quantization?`,
        { file, weight: entry.name, expected: `≤ ${allowedAtWorst}`, received: worst },
      );
    }
  }
}

/** What a consumer does to raw input: the same description as the tfjs export's (preprocessing.ts). */
function preprocessing(model: LayersModelFile): Record<string, unknown> {
  const meta = model.meta ?? {};
  if (meta.kind === 'diffusion') {
    return {
      image: 'the noisy image x_t, values around [−1, 1], NHWC',
      time: 'sinusoidal embedding of the 0-based timestep (see diffusion)',
      class: 'one-hot class, last slot = no class (classifier-free guidance)',
    };
  }
  return { ...preprocessingOfModel(meta, model.inputs[0]?.shape ?? []) };
}

/** Builds the ONNX bytes of a model read by readLayersModel. */
export function buildOnnxModel(
  model: LayersModelFile,
  options: { quantized?: Map<string, PerChannelWeight>; lineage?: string; record?: ExportRecord } = {},
): { bytes: Uint8Array; summary: OnnxModelSummary } {
  checkExportable(model);
  const quantized = options.quantized;
  if (quantized) checkQuantizedWeights(model, quantized);
  const graph = new OnnxGraphBuilder();
  const order = topologicalOrder(model);
  const outputNames = model.outputs;
  for (const input of model.inputs) graph.reserve(input.name);
  for (const name of outputNames) graph.reserve(name);

  const used = new Set<string>();
  const contextFor = (layer: LayerNode): ConvertContext => ({
    graph,
    layer,
    optionalWeight: (suffix) => model.weights.get(`${layer.name}/${suffix}`),
    weight: (suffix) => {
      const weight = model.weights.get(`${layer.name}/${suffix}`);
      if (!weight) {
        throw new DistilleryError(
          'MODEL_INVALID',
          `Layer "${layer.name}" has no weight "${layer.name}/${suffix}"`,
          {
            file: join(model.dir, 'model.json'),
            layer: layer.name,
            expected: `${layer.name}/${suffix}`,
          },
        );
      }
      return weight;
    },
    quantized: (suffix) => {
      const entry = quantized?.get(`${layer.name}/${suffix}`);
      if (entry) used.add(entry.name);
      return entry;
    },
  });

  const values = new Map<string, GraphValue>();
  const inputs: OnnxModelSummary['inputs'] = [];
  for (const input of model.inputs) {
    const shape = [null, ...input.shape];
    graph.addInput(input.name, shape);
    inputs.push({ name: input.name, shape });
    const layer = order.find((candidate) => candidate.name === input.name)!;
    values.set(
      input.name,
      layout.toChannelsFirst(contextFor(layer), { name: input.name, shape, channelsFirst: false }),
    );
  }
  for (const layer of order) {
    if (layer.className === 'InputLayer') continue;
    const converter = LAYER_CONVERTERS[layer.className]!;
    const inbound = layer.inbound.map((name) => values.get(name)!);
    values.set(layer.name, converter.convert(contextFor(layer), inbound));
  }
  const outputs: OnnxModelSummary['outputs'] = [];
  for (const name of outputNames) {
    const value = values.get(name);
    if (!value) {
      throw new DistilleryError('MODEL_INVALID', `Output layer "${name}" is not in the model`, {
        file: join(model.dir, 'model.json'),
        received: name,
      });
    }
    if (value.channelsFirst) {
      graph.node('Transpose', [value.name], name, [attribute.ints('perm', [0, 2, 3, 1])], { exact: true });
    } else if (value.name !== name) {
      graph.node('Identity', [value.name], name, [], { exact: true });
    }
    graph.addOutput(name, value.shape);
    outputs.push({ name, shape: value.shape });
  }
  if (quantized) {
    const unused = [...quantized.keys()].filter((name) => !used.has(name));
    if (unused.length > 0) {
      throw new DistilleryError(
        'MODEL_INVALID',
        `${join(model.dir, QUANTIZED_WEIGHTS_JSON)}: integers for weights no exported layer reads: ${unused.join(', ')}`,
        { file: join(model.dir, QUANTIZED_WEIGHTS_JSON), received: unused },
      );
    }
  }

  const isQuantized = quantized !== undefined && quantized.size > 0;
  const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);
  const bits = isQuantized ? [...quantized.values()][0]!.bits : null;
  const meta = model.meta;
  const input = preprocessing(model);
  const metadata: Record<string, string> = {
    class_names: JSON.stringify(
      Array.isArray(input.classNames)
        ? input.classNames
        : Array.isArray(meta?.classNames)
          ? meta.classNames
          : [],
    ),
    input_layout:
      'TensorFlow.js layout: images [batch, height, width, channels] (NHWC) float32; transposed to NCHW inside the graph',
    preprocessing: JSON.stringify(input),
    architecture: text(meta?.architecture, model.modelClass),
    architecture_params: JSON.stringify(meta?.architectureParams ?? {}),
    kind: text(meta?.kind, 'classifier'),
    quantization: JSON.stringify(
      isQuantized
        ? {
            weights: 'int8 QDQ (DequantizeLinear), symmetric, zero point 0, one scale per output channel',
            bits,
            storage:
              bits === 8
                ? 'int8'
                : `${String(bits)}-bit values in int8 containers (no 4-bit type before opset 21)`,
            activations: 'float32',
            biases: 'float32',
            runtime_note:
              'weight-only QDQ: in ONNX Runtime set session.disable_quant_qdq=1 to fold DequantizeLinear into float weights once at load; by default it dequantizes on every run',
          }
        : { weights: 'float32', activations: 'float32' },
    ),
  };
  if (meta) metadata.distillery = JSON.stringify(meta);
  if (model.diffusion) metadata.diffusion = JSON.stringify(model.diffusion);
  if (options.record) metadata.export = JSON.stringify(options.record);
  const docString = options.lineage ?? describeModelMeta(meta);
  const version = productVersion();
  const proto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: ONNX_PRODUCER,
    producerVersion: version,
    domain: 'dev.distillery',
    modelVersion: 1,
    docString,
    graph: graph.build(
      text(meta?.architecture, 'model'),
      `${text(meta?.architecture, model.modelClass)} exported by ${ONNX_PRODUCER} ${version}`,
    ),
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  return {
    bytes: encodeModelProto(proto),
    summary: {
      inputs,
      outputs,
      opTypes: graph.opTypes(),
      quantized: isQuantized,
      bits,
      floatBytes: graph.initializerBytes.float,
      int8Bytes: graph.initializerBytes.int8,
    },
  };
}

export const onnxExporter: Exporter = {
  format: 'onnx',
  title: 'ONNX (model.onnx, opset 13; int8 QDQ when quantized)',
  async export(modelDir: string, outDir: string, options: ExportOptions = {}): Promise<ExportResult> {
    const model = await readLayersModel(modelDir);
    const quantized = readQuantizedWeights(modelDir);
    const guard = await exportGuard(modelDir, options);
    const { bytes } = buildOnnxModel(model, {
      ...(quantized ? { quantized } : {}),
      ...(typeof options.lineage === 'string' ? { lineage: options.lineage } : {}),
      record: { format: 'onnx', ...guard.identity },
    });
    await prepareOutDir(outDir, guard);
    const files: string[] = [];
    if (model.diffusion) {
      await writeFile(join(outDir, 'diffusion.json'), JSON.stringify(model.diffusion, null, 2));
      files.push('diffusion.json');
    }
    // Written under a temporary name and renamed: a reader never sees half a model.
    const target = join(outDir, ONNX_MODEL_FILE);
    const temporary = `${target}.${process.pid}.tmp`;
    try {
      await writeFile(temporary, bytes);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw new DistilleryError(
        'EXPORT_TARGET_INVALID',
        `Cannot write ${target}: ${(error as Error).message}`,
        { param: 'outDir', file: target, received: outDir },
        { cause: error },
      );
    }
    files.push(ONNX_MODEL_FILE);
    return { files };
  },
};
