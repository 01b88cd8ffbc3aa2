/**
 * IDX files (the MNIST family's format): a big-endian magic `0x0000TTNN` (TT = 0x08 for unsigned
 * bytes, NN = number of dimensions), NN big-endian uint32 dimensions, then the values. Files may be
 * gzipped (detected by the gzip magic, not by the name).
 */
import { readFileSync, statSync } from 'node:fs';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { DistilleryError, errors } from '../../base/errors';
import type { SplitData } from './dataset-file';
import { formatBytes, MAX_DATA_BYTES, MAX_IMAGE_PIXELS, formatCount, tooLarge } from './limits';

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

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function unreadable(path: string, error: unknown): DistilleryError {
  return new DistilleryError(
    'DATASET_INVALID',
    `${path}: cannot be read (${(error as Error).message})`,
    { file: path, expected: 'a readable file', received: (error as NodeJS.ErrnoException).code },
    { cause: error },
  );
}

function corruptGzip(path: string, error: unknown): DistilleryError {
  return new DistilleryError(
    'DATASET_INVALID',
    `${path}: the gzip data is corrupt or truncated (${(error as Error).message})`,
    { file: path, expected: 'a complete gzip stream', received: (error as Error).message },
    { cause: error },
  );
}

function isBufferTooLarge(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ERR_BUFFER_TOO_LARGE';
}

/**
 * The raw bytes of a regular file at most `maxBytes` long. Missing → DATASET_NOT_FOUND; a folder,
 * a device or pipe, an unreadable file or one above the limit → DATASET_INVALID (the size is
 * checked before reading).
 */
export function readDataFile(path: string, maxBytes = MAX_DATA_BYTES): Buffer {
  let size: number;
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) {
      throw new DistilleryError('DATASET_INVALID', `${path}: is a folder, not a file`, {
        file: path,
        expected: 'a file',
        received: 'a folder',
      });
    }
    // A device or pipe (a link to /dev/zero, a FIFO) has no size to check and may never end.
    if (!stats.isFile()) {
      throw new DistilleryError('DATASET_INVALID', `${path}: is not a regular file`, {
        file: path,
        expected: 'a regular file',
        received: 'a device, pipe or socket',
      });
    }
    size = stats.size;
  } catch (error) {
    if (error instanceof DistilleryError) throw error;
    if (isNotFound(error)) throw errors.datasetNotFound(path);
    throw unreadable(path, error);
  }
  if (size > maxBytes) throw tooLarge(path, 'the file size', formatBytes(maxBytes), `${size} bytes`);
  try {
    return readFileSync(path);
  } catch (error) {
    if (isNotFound(error)) throw errors.datasetNotFound(path);
    throw unreadable(path, error);
  }
}

/**
 * Reads a whole file, gunzipping it when it starts with the gzip magic (1f 8b). The file and its
 * unzipped data may each be at most `maxBytes` long; gunzipping stops at the limit, so a gzip
 * bomb costs no more than that. Missing file → DATASET_NOT_FOUND; unreadable, too large or
 * corrupt gzip → DATASET_INVALID.
 */
export function readMaybeGzipped(path: string, maxBytes = MAX_DATA_BYTES): Buffer {
  const bytes = readDataFile(path, maxBytes);
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (error) {
    if (isBufferTooLarge(error)) {
      throw tooLarge(path, 'the unzipped data', formatBytes(maxBytes), `more than ${maxBytes} bytes`);
    }
    throw corruptGzip(path, error);
  }
}

/**
 * The first bytes of a gzip stream's data, at least `wanted` of them when the data is that long.
 * Only a prefix of the compressed bytes is inflated (deflate expands at most about 1000-fold), so
 * a header can be checked before the whole file is unzipped.
 */
function gunzipHead(path: string, bytes: Buffer, wanted: number): Buffer {
  for (let prefix = 64; ; prefix *= 4) {
    let head: Buffer;
    try {
      head = gunzipSync(bytes.subarray(0, prefix), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (error) {
      throw corruptGzip(path, error);
    }
    if (head.length >= wanted || prefix >= bytes.length) return head;
  }
}

/** The largest IDX header: magic and 255 dimensions. */
const MAX_IDX_HEADER_BYTES = 4 + 4 * 255;

/**
 * Parses any unsigned-byte IDX file: its dimensions and a view of its values. The header is read
 * first, and dimensions that claim more than the file holds, or more than MAX_DATA_BYTES, are
 * refused before the data is unzipped.
 */
export function readIdx(path: string, expectedMagic?: number): { dims: number[]; data: Uint8Array } {
  const raw = readDataFile(path);
  const gzipped = isGzip(raw);
  const head = gzipped ? gunzipHead(path, raw, MAX_IDX_HEADER_BYTES) : raw;
  if (head.length < 4)
    throw errors.datasetInvalid(path, 'an IDX header of at least 4 bytes', `${head.length} bytes`);
  const magic = head.readUInt32BE(0);
  const ndim = head[3]!;
  if (head[0] !== 0 || head[1] !== 0 || head[2] !== UNSIGNED_BYTE || ndim === 0) {
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
  if (head.length < headerBytes) {
    throw errors.datasetInvalid(
      path,
      `an IDX header of ${headerBytes} bytes`,
      `${head.length} bytes (truncated)`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(head.readUInt32BE(4 + 4 * i));
  const shape = dims.join('×');
  // Exact while it stays below the limit; once above it, its precision no longer matters.
  const values = dims.reduce((a, b) => a * b, 1);
  if (values > MAX_DATA_BYTES) {
    throw tooLarge(path, `the header's dimensions ${shape}`, formatBytes(MAX_DATA_BYTES), `${values} bytes`);
  }
  let bytes = raw;
  if (gzipped) {
    try {
      // One byte more than the header promises tells trailing data from an exact fit.
      bytes = gunzipSync(raw, { maxOutputLength: headerBytes + values + 1 });
    } catch (error) {
      if (isBufferTooLarge(error)) {
        throw errors.datasetInvalid(
          path,
          `${values} data bytes for dimensions ${shape}`,
          `more than ${values} bytes (trailing data)`,
        );
      }
      throw corruptGzip(path, error);
    }
  }
  const available = bytes.length - headerBytes;
  if (available < values) {
    throw errors.datasetInvalid(
      path,
      `${values} data bytes for dimensions ${shape}`,
      `${available} bytes (truncated)`,
    );
  }
  if (available > values) {
    throw errors.datasetInvalid(
      path,
      `${values} data bytes for dimensions ${shape}`,
      `${available} bytes (trailing data)`,
    );
  }
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, values) };
}

/** Reads an IDX image file (magic 0x00000803: count × rows × cols unsigned bytes). */
export function readIdxImages(path: string): IdxImages {
  const { dims, data } = readIdx(path, IDX_IMAGES_MAGIC);
  const [count, rows, cols] = dims as [number, number, number];
  if (rows === 0 || cols === 0) {
    throw errors.datasetInvalid(path, 'images of at least 1×1 pixels', `${rows}×${cols}`);
  }
  if (rows * cols > MAX_IMAGE_PIXELS) {
    throw tooLarge(
      path,
      `an image of ${rows}×${cols} pixels`,
      `${formatCount(MAX_IMAGE_PIXELS)} pixels per image`,
      `${rows * cols} pixels`,
    );
  }
  if (count === 0) throw errors.datasetInvalid(path, 'at least one image', '0 images');
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
