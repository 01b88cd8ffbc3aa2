/**
 * The `tfjs` exporter: the TensorFlow.js layers format as the official converters write it —
 * `model.json` (topology + one weights group) and `group1-shard{i}of{n}.bin` files of at most
 * `shardSizeBytes` each — loadable with a stock `tf.loadLayersModel(url)`. `distillery.json` holds
 * the model's meta (architecture, class names), the input `preprocessing` a consumer must apply
 * (preprocessing.ts) and the `export` record naming the model (export-record.ts), so the export can
 * be re-imported with its labels and is never replaced by another model's unasked; a diffusion
 * model's `diffusion.json` (noise schedule, input encodings, sampler defaults) is copied too, so a
 * third party can sample it.
 */
import { copyFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistilleryError } from '../base/errors';
import type { ExportRecord } from './export-record';
import { exportGuard, prepareOutDir } from './out-dir';
import { preprocessingOfModel } from './preprocessing';
import { producerName } from './producer';
import type { ExportOptions, ExportResult, Exporter } from './types';

/** Same default as the tfjs converters. */
export const DEFAULT_SHARD_SIZE_BYTES = 4 * 1024 * 1024;
/** Smaller shards only multiply files and requests. */
export const MIN_SHARD_SIZE_BYTES = 1024;

const MODEL_JSON = 'model.json';
const MODEL_META = 'distillery.json';
/** Files copied beside model.json when the model has them: a diffusion model's schedule and sampler. */
const SIDECAR_FILES = ['diffusion.json'];
const SHARD_PATTERN = /^group1-shard\d+of\d+\.bin$/;

/** The parts of a layers-format model.json this exporter reads and writes. */
interface LayersModelJson {
  modelTopology: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: Array<{ paths: string[]; weights: WeightSpec[] }>;
  trainingConfig?: unknown;
  userDefinedMetadata?: unknown;
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}

const BYTES_PER_DTYPE: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

function modelInvalid(file: string, expected: string, received: unknown): DistilleryError {
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

/** Bytes the specs describe, or undefined when a dtype has no fixed size (strings). */
function expectedWeightBytes(specs: WeightSpec[]): number | undefined {
  let total = 0;
  for (const spec of specs) {
    const size = BYTES_PER_DTYPE[spec.quantization?.dtype ?? spec.dtype];
    if (size === undefined) return undefined;
    total += spec.shape.reduce((a, b) => a * b, 1) * size;
  }
  return total;
}

async function readModelDirectory(modelDir: string): Promise<{ json: LayersModelJson; weights: Buffer }> {
  const jsonPath = join(modelDir, MODEL_JSON);
  let json: LayersModelJson;
  try {
    json = JSON.parse(await readFile(jsonPath, 'utf8')) as LayersModelJson;
  } catch (error) {
    throw new DistilleryError('MODEL_INVALID', `Cannot read ${jsonPath}: ${(error as Error).message}`, {
      file: jsonPath,
      expected: 'a TensorFlow.js layers-format model.json',
    });
  }
  if (json.modelTopology == null || !Array.isArray(json.weightsManifest)) {
    throw modelInvalid(jsonPath, 'modelTopology and weightsManifest', Object.keys(json));
  }
  const buffers: Buffer[] = [];
  const specs: WeightSpec[] = [];
  for (const group of json.weightsManifest) {
    for (const path of group.paths) {
      const file = join(modelDir, path);
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
    specs.push(...group.weights);
  }
  const weights = Buffer.concat(buffers);
  const expected = expectedWeightBytes(specs);
  if (expected !== undefined && expected !== weights.byteLength) {
    throw modelInvalid(modelDir, `${expected} bytes of weights`, `${weights.byteLength} bytes`);
  }
  return { json: { ...json, weightsManifest: [{ paths: [], weights: specs }] }, weights };
}

/** The model's distillery.json, when it has one. */
async function readModelMeta(modelDir: string): Promise<Record<string, unknown> | undefined> {
  const path = join(modelDir, MODEL_META);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const meta: unknown = JSON.parse(text);
    if (typeof meta === 'object' && meta !== null && !Array.isArray(meta))
      return meta as Record<string, unknown>;
  } catch {
    // Reported below with the file's name.
  }
  throw new DistilleryError('MODEL_INVALID', `${path}: expected a JSON object (the model's meta)`, {
    file: path,
    expected: 'a JSON object',
  });
}

function shardSize(options: ExportOptions): number {
  const value = options.shardSizeBytes ?? DEFAULT_SHARD_SIZE_BYTES;
  if (!Number.isInteger(value) || value < MIN_SHARD_SIZE_BYTES) {
    throw new DistilleryError(
      'PARAM_OUT_OF_RANGE',
      `shardSizeBytes must be an integer ≥ ${MIN_SHARD_SIZE_BYTES}, got ${JSON.stringify(value)}`,
      { param: 'shardSizeBytes', expected: `an integer ≥ ${MIN_SHARD_SIZE_BYTES}`, received: value },
    );
  }
  return value;
}

export const tfjsLayersExporter: Exporter = {
  format: 'tfjs',
  title: 'TensorFlow.js layers model',
  async export(modelDir: string, outDir: string, options: ExportOptions = {}): Promise<ExportResult> {
    const maxShard = shardSize(options);
    const { json, weights } = await readModelDirectory(modelDir);
    const guard = await exportGuard(modelDir, options);
    const meta = await readModelMeta(modelDir);
    await prepareOutDir(outDir, guard);

    const count = Math.ceil(weights.byteLength / maxShard);
    const shards: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `group1-shard${i + 1}of${count}.bin`;
      await writeFile(
        join(outDir, name),
        weights.subarray(i * maxShard, Math.min((i + 1) * maxShard, weights.byteLength)),
      );
      shards.push(name);
    }
    // Shards of an earlier export with another count would otherwise linger beside the new ones.
    for (const entry of await readdir(outDir)) {
      if (SHARD_PATTERN.test(entry) && !shards.includes(entry))
        await rm(join(outDir, entry), { force: true });
    }

    const producer = producerName();
    const out: LayersModelJson = {
      modelTopology: json.modelTopology,
      format: json.format ?? 'layers-model',
      generatedBy: producer,
      convertedBy: producer,
      weightsManifest: [{ paths: shards, weights: json.weightsManifest[0]?.weights ?? [] }],
    };
    if (json.trainingConfig !== undefined) out.trainingConfig = json.trainingConfig;
    if (json.userDefinedMetadata !== undefined) out.userDefinedMetadata = json.userDefinedMetadata;

    const files = [...shards];
    const record: ExportRecord = { format: 'tfjs', ...guard.identity };
    const outMeta: Record<string, unknown> = { ...(meta ?? {}) };
    if (meta && meta.kind !== 'diffusion') outMeta.preprocessing = preprocessingOfModel(meta);
    outMeta.export = record;
    await writeFile(join(outDir, MODEL_META), JSON.stringify(outMeta, null, 2));
    files.push(MODEL_META);
    for (const name of SIDECAR_FILES) {
      const sidecar = join(modelDir, name);
      const exists = await stat(sidecar).then(
        (entry) => entry.isFile(),
        () => false,
      );
      if (exists) {
        await copyFile(sidecar, join(outDir, name));
        files.push(name);
      }
    }
    // model.json last: a reader never finds one that points at shards not yet written.
    await writeFile(join(outDir, MODEL_JSON), JSON.stringify(out));
    files.push(MODEL_JSON);
    return { files };
  },
};
