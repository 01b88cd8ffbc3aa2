/**
 * The on-disk form in which a dataset task hands data to downstream tasks: a directory holding
 * `dataset.json` and one binary file per split and field. Images are kept as uint8 (scaled by
 * 1/255 when loaded); tabular features as float32 (already standardised by the loader).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DistilleryError, errors } from '../../base/errors';

export const DATASET_MANIFEST = 'dataset.json';

export type SplitName = 'train' | 'validation' | 'test';

export interface SplitManifest {
  count: number;
  /** File holding count × prod(inputShape) values. */
  x: string;
  xDtype: 'uint8' | 'float32';
  /** File holding count int32 labels. */
  y: string;
}

export interface DatasetManifest {
  format: 1;
  /** Short description, e.g. "MNIST (2000 train / 1000 test)". */
  name: string;
  /** Shape of one example: [h, w, c] for images, [features] for tables. */
  inputShape: number[];
  numClasses: number;
  classNames: string[];
  /** Whether examples are images (then models may be convolutional). */
  image: boolean;
  splits: Partial<Record<SplitName, SplitManifest>>;
}

/** One split in memory. `x` holds count × exampleSize values in row-major order. */
export interface SplitData {
  count: number;
  x: Uint8Array | Float32Array;
  y: Int32Array;
}

export interface Dataset {
  manifest: DatasetManifest;
  splits: Partial<Record<SplitName, SplitData>>;
}

export function exampleSize(manifest: Pick<DatasetManifest, 'inputShape'>): number {
  return manifest.inputShape.reduce((a, b) => a * b, 1);
}

/** Writes a dataset directory; returns the manifest written. */
export function writeDataset(
  dir: string,
  meta: Omit<DatasetManifest, 'format' | 'splits'>,
  splits: Partial<Record<SplitName, SplitData>>,
): DatasetManifest {
  mkdirSync(dir, { recursive: true });
  const manifest: DatasetManifest = { format: 1, ...meta, splits: {} };
  const size = exampleSize(meta);
  for (const [name, split] of Object.entries(splits) as Array<[SplitName, SplitData]>) {
    if (split.x.length !== split.count * size || split.y.length !== split.count) {
      throw new DistilleryError('DATASET_INVALID', `Split "${name}" has inconsistent sizes`, {
        expected: `${split.count} × ${size} values and ${split.count} labels`,
        received: `${split.x.length} values and ${split.y.length} labels`,
      });
    }
    const xFile = `${name}-x.bin`;
    const yFile = `${name}-y.bin`;
    writeFileSync(join(dir, xFile), Buffer.from(split.x.buffer, split.x.byteOffset, split.x.byteLength));
    writeFileSync(join(dir, yFile), Buffer.from(split.y.buffer, split.y.byteOffset, split.y.byteLength));
    manifest.splits[name] = {
      count: split.count,
      x: xFile,
      xDtype: split.x instanceof Uint8Array ? 'uint8' : 'float32',
      y: yFile,
    };
  }
  writeFileSync(join(dir, DATASET_MANIFEST), JSON.stringify(manifest, null, 2));
  return manifest;
}

function readTyped<T extends Uint8Array | Float32Array | Int32Array>(
  path: string,
  ctor: { new (buffer: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number },
  expectedLength: number,
): T {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw errors.datasetNotFound(path);
  }
  if (bytes.byteLength !== expectedLength * ctor.BYTES_PER_ELEMENT) {
    throw errors.datasetInvalid(path, `${expectedLength * ctor.BYTES_PER_ELEMENT} bytes`, bytes.byteLength);
  }
  // Copy into a fresh, aligned buffer: Buffer pools may hand out unaligned offsets.
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return new ctor(copy, 0, expectedLength);
}

export function readDatasetManifest(dir: string): DatasetManifest {
  const path = join(dir, DATASET_MANIFEST);
  let manifest: DatasetManifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as DatasetManifest;
  } catch {
    throw errors.datasetNotFound(path);
  }
  if (manifest.format !== 1) throw errors.datasetInvalid(path, 'format 1', manifest.format);
  return manifest;
}

/** Loads the manifest and the requested splits (all present ones by default). */
export function readDataset(dir: string, only?: SplitName[]): Dataset {
  const manifest = readDatasetManifest(dir);
  const size = exampleSize(manifest);
  const splits: Partial<Record<SplitName, SplitData>> = {};
  for (const [name, split] of Object.entries(manifest.splits) as Array<[SplitName, SplitManifest]>) {
    if (only && !only.includes(name)) continue;
    const x =
      split.xDtype === 'uint8'
        ? readTyped(join(dir, split.x), Uint8Array, split.count * size)
        : readTyped(join(dir, split.x), Float32Array, split.count * size);
    const y = readTyped(join(dir, split.y), Int32Array, split.count);
    splits[name] = { count: split.count, x, y };
  }
  return { manifest, splits };
}

/** Example values as float32 in [0, 1] for images (uint8 / 255) or as stored for tables. */
export function toFloat(x: Uint8Array | Float32Array): Float32Array {
  if (x instanceof Float32Array) return x;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! / 255;
  return out;
}
