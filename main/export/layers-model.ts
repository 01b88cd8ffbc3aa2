/**
 * A TensorFlow.js layers-format model directory (worker/models/model-file.ts) read with plain fs,
 * for exporters that rewrite the graph: the topology as a list of layers with their inbound
 * layers (Sequential and functional models alike), and every weight decoded to float values as
 * tfjs's own loader decodes them (float32, int32, and the manifest's float16 / affine uint8 /
 * uint16 quantization). No tfjs: the main process exports without loading it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistilleryError } from '../base/errors';

const MODEL_JSON = 'model.json';
const MODEL_META = 'distillery.json';

/** One manifest entry as the layers format writes it. */
export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

/** A decoded weight: float values (int32 weights are converted) and how the manifest stored them. */
export interface WeightValue {
  name: string;
  shape: number[];
  values: Float32Array;
  /** The manifest's quantization of this weight, if any. */
  quantization?: WeightEntry['quantization'];
}

/** One layer of the topology, in topological order. */
export interface LayerNode {
  name: string;
  className: string;
  /** The layer's Keras config (snake_case keys, as model.json stores them). */
  config: Record<string, unknown>;
  /** Layers whose outputs this layer takes, in argument order (empty for an InputLayer). */
  inbound: string[];
}

export interface ModelGraphInput {
  /** Name of the InputLayer (for a Sequential model: `input`). */
  name: string;
  /** Shape of one example, without the batch dimension. */
  shape: number[];
}

/** A model as an exporter sees it. */
export interface LayersModelFile {
  dir: string;
  /** `Sequential` or `Model` (functional). */
  modelClass: string;
  layers: LayerNode[];
  inputs: ModelGraphInput[];
  /** Names of the layers whose outputs are the model's outputs. */
  outputs: string[];
  weights: Map<string, WeightValue>;
  /** distillery.json, when the directory has one. */
  meta: Record<string, unknown> | undefined;
  /** diffusion.json, when the directory has one (a diffusion model's schedule and sampler). */
  diffusion: Record<string, unknown> | undefined;
}

/** Name a Sequential model's input gets in exports (tfjs itself calls it `<first layer>_input`). */
export const SEQUENTIAL_INPUT = 'input';

function invalid(file: string, expected: string, received: unknown): DistilleryError {
  return new DistilleryError(
    'MODEL_INVALID',
    `${file}: expected ${expected}, got ${JSON.stringify(received)}`,
    {
      file,
      expected,
      received,
    },
  );
}

async function readJson(file: string, expected: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new DistilleryError('MODEL_INVALID', `Cannot read ${file}: ${(error as Error).message}`, {
      file,
      expected,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new DistilleryError('MODEL_INVALID', `${file} is not valid JSON: ${(error as Error).message}`, {
      file,
      expected,
    });
  }
}

async function readOptionalJson(file: string): Promise<Record<string, unknown> | undefined> {
  const exists = await readFile(file, 'utf8').then(
    (text) => text,
    () => undefined,
  );
  if (exists === undefined) return undefined;
  try {
    return JSON.parse(exists) as Record<string, unknown>;
  } catch (error) {
    throw new DistilleryError('MODEL_INVALID', `${file} is not valid JSON: ${(error as Error).message}`, {
      file,
      expected: 'a JSON object',
    });
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** float16 bits → number (IEEE 754 half precision). */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2 };

/** Decodes the concatenated weight bytes by the manifest, as tfjs-core io.decodeWeights does. */
function decodeWeights(bytes: Buffer, entries: WeightEntry[], file: string): Map<string, WeightValue> {
  const weights = new Map<string, WeightValue>();
  let offset = 0;
  for (const entry of entries) {
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const stored = entry.quantization?.dtype ?? entry.dtype;
    const width = STORED_BYTES[stored];
    if (width === undefined || (entry.dtype !== 'float32' && entry.dtype !== 'int32')) {
      throw invalid(
        file,
        'weights of dtype float32 or int32, stored as float32, int32, uint8, uint16 or float16',
        {
          name: entry.name,
          dtype: entry.dtype,
          stored,
        },
      );
    }
    const length = count * width;
    if (offset + length > bytes.byteLength) {
      throw invalid(file, `at least ${offset + length} bytes of weights`, `${bytes.byteLength} bytes`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, length);
    const values = new Float32Array(count);
    const quantization = entry.quantization;
    if (stored === 'float32') for (let i = 0; i < count; i++) values[i] = view.getFloat32(i * 4, true);
    else if (stored === 'int32') for (let i = 0; i < count; i++) values[i] = view.getInt32(i * 4, true);
    else if (stored === 'float16')
      for (let i = 0; i < count; i++) values[i] = halfToNumber(view.getUint16(i * 2, true));
    else {
      const scale = quantization?.scale;
      const min = quantization?.min;
      if (typeof scale !== 'number' || typeof min !== 'number') {
        throw invalid(file, `a scale and a min for ${stored} weight ${entry.name}`, quantization);
      }
      // Float32(q·scale + min), computed as tfjs's loader does.
      if (stored === 'uint8') for (let i = 0; i < count; i++) values[i] = view.getUint8(i) * scale + min;
      else for (let i = 0; i < count; i++) values[i] = view.getUint16(i * 2, true) * scale + min;
    }
    weights.set(entry.name, {
      name: entry.name,
      shape: entry.shape,
      values,
      ...(quantization ? { quantization } : {}),
    });
    offset += length;
  }
  if (offset !== bytes.byteLength) {
    throw invalid(file, `${offset} bytes of weights`, `${bytes.byteLength} bytes`);
  }
  return weights;
}

/** `[name, nodeIndex, tensorIndex, kwargs]` → the layer name, refusing what a single graph cannot express. */
function inboundName(entry: unknown, layer: string, file: string): string {
  if (!Array.isArray(entry) || typeof entry[0] !== 'string') {
    throw invalid(file, `inbound nodes of layer "${layer}" as [name, node, tensor, kwargs]`, entry);
  }
  if (entry[1] !== 0 || entry[2] !== 0) {
    throw new DistilleryError(
      'EXPORT_UNSUPPORTED',
      `Layer "${layer}" takes output ${String(entry[2])} of call ${String(entry[1])} of "${entry[0]}": shared and multi-output layers are not exportable`,
      { file, layer, expected: 'layers called once, with one output', received: entry },
    );
  }
  return entry[0];
}

function batchShape(config: Record<string, unknown>, layer: string, file: string): number[] {
  const shape = config.batch_input_shape;
  if (
    !Array.isArray(shape) ||
    shape.length < 2 ||
    !shape.slice(1).every((d) => Number.isInteger(d) && (d as number) > 0)
  ) {
    throw invalid(file, `batch_input_shape [null, ...positive sizes] on layer "${layer}"`, shape);
  }
  return shape.slice(1) as number[];
}

function parseTopology(
  topology: unknown,
  file: string,
): Pick<LayersModelFile, 'modelClass' | 'layers' | 'inputs' | 'outputs'> {
  // tfjs writes the topology either bare or inside {model_config: ...} (Keras converter output).
  const root = isRecord(topology) && isRecord(topology.model_config) ? topology.model_config : topology;
  if (!isRecord(root) || typeof root.class_name !== 'string' || !isRecord(root.config)) {
    throw invalid(file, 'modelTopology with class_name and config', topology);
  }
  const rawLayers = root.config.layers;
  if (!Array.isArray(rawLayers) || rawLayers.length === 0) {
    throw invalid(file, 'a non-empty modelTopology.config.layers', rawLayers);
  }
  const entries = rawLayers.map((raw, index) => {
    if (!isRecord(raw) || typeof raw.class_name !== 'string' || !isRecord(raw.config)) {
      throw invalid(file, `layer ${index} with class_name and config`, raw);
    }
    const name = typeof raw.name === 'string' ? raw.name : (raw.config.name as string | undefined);
    if (typeof name !== 'string') throw invalid(file, `a name on layer ${index}`, raw.config.name);
    return { raw, name, className: raw.class_name, config: raw.config };
  });

  if (root.class_name === 'Sequential') {
    const first = entries[0]!;
    const inputShape = batchShape(first.config, first.name, file);
    const body = first.className === 'InputLayer' ? entries.slice(1) : entries;
    const layers: LayerNode[] = [];
    let previous = SEQUENTIAL_INPUT;
    for (const entry of body) {
      layers.push({
        name: entry.name,
        className: entry.className,
        config: entry.config,
        inbound: [previous],
      });
      previous = entry.name;
    }
    return {
      modelClass: 'Sequential',
      layers: [{ name: SEQUENTIAL_INPUT, className: 'InputLayer', config: {}, inbound: [] }, ...layers],
      inputs: [{ name: SEQUENTIAL_INPUT, shape: inputShape }],
      outputs: [previous],
    };
  }

  if (root.class_name !== 'Model' && root.class_name !== 'Functional') {
    throw invalid(file, 'a Sequential or functional (Model) topology', root.class_name);
  }
  const layers: LayerNode[] = entries.map((entry) => {
    const nodes = entry.raw.inbound_nodes;
    if (!Array.isArray(nodes)) throw invalid(file, `inbound_nodes on layer "${entry.name}"`, nodes);
    if (nodes.length > 1) {
      throw new DistilleryError(
        'EXPORT_UNSUPPORTED',
        `Layer "${entry.name}" (${entry.className}) is applied ${nodes.length} times: shared layers are not exportable`,
        {
          file,
          layer: entry.name,
          layerType: entry.className,
          expected: 'each layer called once',
          received: nodes.length,
        },
      );
    }
    const call = nodes[0];
    const inbound = Array.isArray(call) ? call.map((item) => inboundName(item, entry.name, file)) : [];
    return { name: entry.name, className: entry.className, config: entry.config, inbound };
  });
  const modelConfig = root.config;
  const ends = (key: 'input_layers' | 'output_layers'): string[] => {
    const list = modelConfig[key];
    if (!Array.isArray(list) || list.length === 0) throw invalid(file, `a non-empty ${key}`, list);
    return list.map((item) => inboundName(item, key, file));
  };
  const inputNames = ends('input_layers');
  const inputs = inputNames.map((name) => {
    const layer = layers.find((candidate) => candidate.name === name);
    if (!layer || layer.className !== 'InputLayer')
      throw invalid(file, `an InputLayer named "${name}"`, layer?.className);
    return { name, shape: batchShape(layer.config, name, file) };
  });
  return { modelClass: root.class_name, layers, inputs, outputs: ends('output_layers') };
}

/** Reads model.json, its weight files, distillery.json and diffusion.json from `dir`. */
export async function readLayersModel(dir: string): Promise<LayersModelFile> {
  const jsonPath = join(dir, MODEL_JSON);
  const json = await readJson(jsonPath, 'a TensorFlow.js layers-format model.json');
  if (!isRecord(json) || json.modelTopology == null || !Array.isArray(json.weightsManifest)) {
    throw invalid(jsonPath, 'modelTopology and weightsManifest', isRecord(json) ? Object.keys(json) : json);
  }
  const buffers: Buffer[] = [];
  const entries: WeightEntry[] = [];
  for (const group of json.weightsManifest as Array<{ paths?: unknown; weights?: unknown }>) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw invalid(jsonPath, 'weightsManifest groups with paths and weights', group);
    }
    for (const path of group.paths as string[]) {
      const file = join(dir, path);
      try {
        buffers.push(await readFile(file));
      } catch (error) {
        throw new DistilleryError(
          'MODEL_INVALID',
          `Cannot read weights ${file}: ${(error as Error).message}`,
          {
            file,
          },
        );
      }
    }
    entries.push(...(group.weights as WeightEntry[]));
  }
  const weights = decodeWeights(Buffer.concat(buffers), entries, jsonPath);
  return {
    dir,
    ...parseTopology(json.modelTopology, jsonPath),
    weights,
    meta: await readOptionalJson(join(dir, MODEL_META)),
    diffusion: await readOptionalJson(join(dir, 'diffusion.json')),
  };
}
