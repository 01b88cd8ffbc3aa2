/**
 * IDX files (the MNIST family's format): a big-endian magic `0x0000TTNN` (TT = 0x08 for unsigned
 * bytes, NN = number of dimensions), NN big-endian uint32 dimensions, then the values. Files may be
 * gzipped (detected by the gzip magic, not by the name).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DistilleryError, errors } from '../../base/errors';
import type { SplitData } from './dataset-file';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

const UNSIGNED_BYTE = 0x08;

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count × rows × cols pixels, row-major. */
  data: Uint8Array;
}

/** Images with their labels, checked to have the same count. */
export interface IdxDataset {
  count: number;
  rows: number;
  cols: number;
  images: Uint8Array;
  labels: Uint8Array;
}

function hex(value: number): string {
  return '0x' + value.toString(16).padStart(8, '0');
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Reads a whole file, gunzipping it when it starts with the gzip magic (1f 8b).
 * Missing file → DATASET_NOT_FOUND; unreadable or corrupt gzip → DATASET_INVALID.
 */
export function readMaybeGzipped(path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    if (isNotFound(error)) throw errors.datasetNotFound(path);
    throw new DistilleryError(
      'DATASET_INVALID',
      `${path}: cannot be read (${(error as Error).message})`,
      { file: path, expected: 'a readable file', received: (error as NodeJS.ErrnoException).code },
      { cause: error },
    );
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (error) {
      throw new DistilleryError(
        'DATASET_INVALID',
        `${path}: the gzip data is corrupt or truncated (${(error as Error).message})`,
        { file: path, expected: 'a complete gzip stream', received: (error as Error).message },
        { cause: error },
      );
    }
  }
  return bytes;
}

/** Parses any unsigned-byte IDX file: its dimensions and a view of its values. */
export function readIdx(path: string, expectedMagic?: number): { dims: number[]; data: Uint8Array } {
  const bytes = readMaybeGzipped(path);
  if (bytes.length < 4)
    throw errors.datasetInvalid(path, 'an IDX header of at least 4 bytes', `${bytes.length} bytes`);
  const magic = bytes.readUInt32BE(0);
  const ndim = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== UNSIGNED_BYTE || ndim === 0) {
    throw errors.datasetInvalid(
      path,
      `IDX magic ${expectedMagic === undefined ? '0x000008NN (unsigned bytes)' : hex(expectedMagic)}`,
      hex(magic),
    );
  }
  if (expectedMagic !== undefined && magic !== expectedMagic) {
    throw errors.datasetInvalid(path, `IDX magic ${hex(expectedMagic)}`, hex(magic));
  }
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw errors.datasetInvalid(
      path,
      `an IDX header of ${headerBytes} bytes`,
      `${bytes.length} bytes (truncated)`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(bytes.readUInt32BE(4 + 4 * i));
  const values = dims.reduce((a, b) => a * b, 1);
  const available = bytes.length - headerBytes;
  if (available < values) {
    throw errors.datasetInvalid(
      path,
      `${values} data bytes for dimensions ${dims.join('×')}`,
      `${available} bytes (truncated)`,
    );
  }
  if (available > values) {
    throw errors.datasetInvalid(
      path,
      `${values} data bytes for dimensions ${dims.join('×')}`,
      `${available} bytes (trailing data)`,
    );
  }
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, values) };
}

/** Reads an IDX image file (magic 0x00000803: count × rows × cols unsigned bytes). */
export function readIdxImages(path: string): IdxImages {
  const { dims, data } = readIdx(path, IDX_IMAGES_MAGIC);
  const [count, rows, cols] = dims as [number, number, number];
  return { count, rows, cols, data };
}

/** Reads an IDX label file (magic 0x00000801: count unsigned bytes). */
export function readIdxLabels(path: string): Uint8Array {
  return readIdx(path, IDX_LABELS_MAGIC).data;
}

/** Reads an image file and its label file; refuses a pair whose counts differ. */
export function readIdxDataset(imagesPath: string, labelsPath: string): IdxDataset {
  const images = readIdxImages(imagesPath);
  const labels = readIdxLabels(labelsPath);
  if (labels.length !== images.count) {
    throw new DistilleryError(
      'DATASET_INVALID',
      `${labelsPath}: holds ${labels.length} labels but ${imagesPath} holds ${images.count} images`,
      { file: labelsPath, expected: `${images.count} labels (as many as images)`, received: labels.length },
    );
  }
  return { count: images.count, rows: images.rows, cols: images.cols, images: images.data, labels };
}

/** The images as a split's flat examples and the labels as class indices. */
export function idxToSplit(data: IdxDataset): SplitData {
  return { count: data.count, x: data.images, y: Int32Array.from(data.labels) };
}
