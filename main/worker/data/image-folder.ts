/**
 * Image datasets from a folder with one sub-folder per class (sorted sub-folder names are the
 * class names). PNG and JPEG files are decoded, converted to grey or RGB and resized to a fixed
 * size; other files are skipped.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import * as zlib from 'node:zlib';
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { DistilleryError, errors } from '../../base/errors';
import type { SplitData } from './dataset-file';
import { readDataFile } from './idx';
import { formatBytes, formatCount, MAX_CLASSES, MAX_DATA_BYTES, MAX_IMAGE_PIXELS, tooLarge } from './limits';
import { carveValidation, deriveSeed, requireSplitsCarve, shuffle, shuffledTestSplit } from './splits';

export type ImageChannels = 1 | 3;

export interface ImageFormat {
  width: number;
  height: number;
  channels: ImageChannels;
}

export interface ImageFolderOptions extends ImageFormat {
  path: string;
  /** A separate test folder with the same layout; without one, `testSplit` of the images. */
  testPath?: string;
  testSplit?: number;
  validationSplit?: number;
  seed: number;
  /** Called after each decoded image; may throw to stop loading (e.g. on cancel). */
  onProgress?: (done: number, total: number) => void;
}

export interface ImageFolderDataset {
  classNames: string[];
  train: SplitData;
  validation?: SplitData;
  test: SplitData;
}

/** Decoded pixels, always 4 bytes (RGBA) per pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

type ImageType = 'PNG' | 'JPEG';

/** DATASET_INVALID for a file that claims to be a PNG or JPEG but is not a valid one. */
function notValid(path: string, type: ImageType, reason: string, cause?: unknown): DistilleryError {
  return new DistilleryError(
    'DATASET_INVALID',
    `${path}: not a valid ${type} (${reason})`,
    { file: path, expected: `a valid ${type} image`, received: reason },
    cause === undefined ? undefined : { cause },
  );
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let crcTable: Uint32Array | undefined;

/** The CRC-32 that PNG chunks carry (ISO 3309, as in zlib), in JS where Node lacks zlib.crc32 (< 20.15). */
function crc32(bytes: Uint8Array): number {
  // A namespace lookup, not a named import: a missing named export of a built-in fails to link.
  if (typeof zlib.crc32 === 'function') return zlib.crc32(bytes);
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Channels per PNG colour type (grey, RGB, palette, grey + alpha, RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

interface PngHeader {
  width: number;
  height: number;
  interlaced: boolean;
  bitsPerPixel: number;
  /** The IDAT chunks' data, in order. */
  data: Buffer[];
}

/**
 * Walks a PNG's chunks (length, type, data, CRC) up to IEND and returns what the IHDR says, so that
 * truncation and corruption are reported in PNG terms and the size can be checked before decoding.
 */
function pngHeader(path: string, bytes: Buffer): PngHeader {
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw notValid(path, 'PNG', 'the 8-byte PNG signature is damaged');
  }
  let size: PngHeader | undefined;
  for (let offset = 8; ;) {
    if (offset + 8 > bytes.length) {
      throw notValid(path, 'PNG', `truncated: the file ends at byte ${bytes.length} without an IEND chunk`);
    }
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (end > bytes.length) {
      throw notValid(
        path,
        'PNG',
        `truncated: chunk ${JSON.stringify(type)} at byte ${offset} needs ${length + 12} bytes, the file has ${bytes.length - offset} left`,
      );
    }
    if (crc32(bytes.subarray(offset + 4, end - 4)) !== bytes.readUInt32BE(end - 4)) {
      throw notValid(path, 'PNG', `chunk ${JSON.stringify(type)} at byte ${offset} fails its CRC check`);
    }
    if (size === undefined) {
      if (type !== 'IHDR' || length !== 13) {
        throw notValid(path, 'PNG', `the first chunk is ${JSON.stringify(type)}, not a 13-byte IHDR`);
      }
      size = {
        width: bytes.readUInt32BE(offset + 8),
        height: bytes.readUInt32BE(offset + 12),
        bitsPerPixel: bytes[offset + 16]! * (PNG_CHANNELS[bytes[offset + 17]!] ?? 4),
        interlaced: bytes[offset + 20] === 1,
        data: [],
      };
      if (size.width === 0 || size.height === 0) {
        throw notValid(path, 'PNG', `the IHDR gives ${size.width}×${size.height} pixels`);
      }
    }
    if (type === 'IDAT') size.data.push(bytes.subarray(offset + 8, end - 4));
    if (type === 'IEND') return size;
    offset = end;
  }
}

/**
 * pngjs inflates an interlaced image's data without a bound (a non-interlaced one is bounded by
 * its size), so a tiny interlaced PNG could inflate to gigabytes: it is inflated here first, up to
 * twice the non-interlaced size (the seven Adam7 passes hold less than that), and refused beyond.
 */
function checkInterlacedData(path: string, header: PngHeader): void {
  if (!header.interlaced) return;
  const rowBytes = Math.ceil((header.width * header.bitsPerPixel) / 8) + 1;
  const bound = 2 * rowBytes * header.height + 64;
  try {
    zlib.inflateSync(Buffer.concat(header.data), { maxOutputLength: bound });
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
        ? `the interlaced image data inflates to more than the ${bound} bytes a ${header.width}×${header.height} image needs`
        : `the image data does not inflate (${(error as Error).message})`;
    throw notValid(path, 'PNG', reason, error);
  }
}

/** SOFn markers (frame headers, which hold the size), i.e. 0xC0..0xCF but DHT, JPG and DAC. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Walks a JPEG's marker segments up to the frame header and returns its size. */
function jpegSize(path: string, bytes: Buffer): { width: number; height: number } {
  let offset = 2;
  while (offset + 2 <= bytes.length) {
    if (bytes[offset] !== 0xff) {
      throw notValid(
        path,
        'JPEG',
        `expected a marker at byte ${offset}, got 0x${bytes[offset]!.toString(16)}`,
      );
    }
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      offset += 2; // markers without a segment
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) {
      throw notValid(path, 'JPEG', `no frame header (SOF) before byte ${offset}`);
    }
    if (offset + 4 > bytes.length) break;
    const length = bytes.readUInt16BE(offset + 2);
    if (length < 2 || offset + 2 + length > bytes.length) {
      throw notValid(
        path,
        'JPEG',
        `truncated: the segment at byte ${offset} needs ${length + 2} bytes, the file has ${bytes.length - offset} left`,
      );
    }
    if (isStartOfFrame(marker)) {
      if (length < 8)
        throw notValid(path, 'JPEG', `the frame header at byte ${offset} is ${length} bytes long`);
      const height = bytes.readUInt16BE(offset + 5);
      const width = bytes.readUInt16BE(offset + 7);
      if (width === 0 || height === 0) {
        throw notValid(path, 'JPEG', `the frame header gives ${width}×${height} pixels`);
      }
      return { width, height };
    }
    offset += 2 + length;
  }
  throw notValid(
    path,
    'JPEG',
    `truncated: the file ends at byte ${bytes.length} before a frame header (SOF)`,
  );
}

/** Refuses an image whose header claims more than MAX_IMAGE_PIXELS, before anything is decoded. */
function checkImageSize(path: string, type: ImageType, size: { width: number; height: number }): void {
  const pixels = size.width * size.height;
  if (pixels > MAX_IMAGE_PIXELS) {
    throw tooLarge(
      path,
      `the ${type} size ${size.width}×${size.height} (${formatCount(pixels)} pixels)`,
      `${formatCount(MAX_IMAGE_PIXELS)} pixels (4096×4096)`,
      `${size.width}×${size.height}`,
    );
  }
}

/**
 * Decodes a PNG or JPEG file (chosen by its signature, not its name) to RGBA. The header is read
 * first: an image above MAX_IMAGE_PIXELS is refused before its pixels are allocated, and a
 * damaged file is reported as "not a valid PNG/JPEG (reason)" naming the file.
 */
export function decodeImage(path: string): RgbaImage {
  const bytes = readDataFile(path);
  const isPng = bytes.length >= 4 && bytes.readUInt32BE(0) === 0x89504e47;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) {
    throw errors.datasetInvalid(path, 'a PNG or JPEG image', 'an unknown file signature');
  }
  const type: ImageType = isPng ? 'PNG' : 'JPEG';
  const png = isPng ? pngHeader(path, bytes) : undefined;
  const size = png ?? jpegSize(path, bytes);
  checkImageSize(path, type, size);
  if (png) checkInterlacedData(path, png);
  let image: RgbaImage;
  try {
    if (isPng) {
      const png = PNG.sync.read(bytes);
      image = { width: png.width, height: png.height, data: png.data };
    } else {
      const jpeg = decodeJpeg(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      });
      image = { width: jpeg.width, height: jpeg.height, data: jpeg.data };
    }
  } catch (error) {
    throw notValid(path, type, error instanceof Error ? error.message : String(error), error);
  }
  if (
    image.width !== size.width ||
    image.height !== size.height ||
    image.data.length < size.width * size.height * 4
  ) {
    throw notValid(
      path,
      type,
      `decoded ${image.width}×${image.height} pixels, the header says ${size.width}×${size.height}`,
    );
  }
  return image;
}

/** One weight table per output coordinate along one axis: `taps[start[i] .. start[i+1])`. */
interface AxisTaps {
  start: Int32Array;
  index: Int32Array;
  weight: Float32Array;
}

/**
 * Resampling weights from `src` to `dst` samples: area averaging when shrinking (each output
 * sample is the mean of the input it covers, so detail is not aliased away), bilinear with
 * pixel-centre alignment when enlarging or keeping the size.
 */
function axisTaps(src: number, dst: number): AxisTaps {
  const scale = src / dst;
  const start = new Int32Array(dst + 1);
  const index: number[] = [];
  const weight: number[] = [];
  for (let i = 0; i < dst; i++) {
    start[i] = index.length;
    if (scale > 1) {
      const lo = i * scale;
      const hi = Math.min(src, (i + 1) * scale);
      for (let j = Math.floor(lo); j < Math.ceil(hi); j++) {
        const w = Math.min(hi, j + 1) - Math.max(lo, j);
        if (w > 1e-9) {
          index.push(j);
          weight.push(w / scale);
        }
      }
    } else {
      const x = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), src - 1);
      const x0 = Math.floor(x);
      const f = x - x0;
      index.push(x0);
      weight.push(1 - f);
      if (f > 0) {
        index.push(Math.min(x0 + 1, src - 1));
        weight.push(f);
      }
    }
  }
  start[dst] = index.length;
  return { start, index: Int32Array.from(index), weight: Float32Array.from(weight) };
}

/**
 * Converts RGBA pixels to grey (luma 0.299 R + 0.587 G + 0.114 B) or RGB, ignoring alpha, and
 * resizes them to `width × height`. Returns uint8 values in HWC order.
 */
export function toFormat(image: RgbaImage, format: ImageFormat): Uint8Array {
  const { width: sw, height: sh } = image;
  const { width: dw, height: dh, channels: c } = format;
  const source = new Float32Array(sw * sh * c);
  for (let p = 0; p < sw * sh; p++) {
    const r = image.data[p * 4]!;
    const g = image.data[p * 4 + 1]!;
    const b = image.data[p * 4 + 2]!;
    if (c === 1) {
      source[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    } else {
      source[p * 3] = r;
      source[p * 3 + 1] = g;
      source[p * 3 + 2] = b;
    }
  }
  // Separable resampling: rows first (sh × dw), then columns (dh × dw).
  const across = axisTaps(sw, dw);
  const rows = new Float32Array(sh * dw * c);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < dw; x++) {
      for (let t = across.start[x]!; t < across.start[x + 1]!; t++) {
        const from = (y * sw + across.index[t]!) * c;
        const w = across.weight[t]!;
        const to = (y * dw + x) * c;
        for (let k = 0; k < c; k++) rows[to + k]! += w * source[from + k]!;
      }
    }
  }
  const down = axisTaps(sh, dh);
  const out = new Uint8Array(dh * dw * c);
  const line = dw * c;
  for (let y = 0; y < dh; y++) {
    for (let v = 0; v < line; v++) {
      let sum = 0;
      for (let t = down.start[y]!; t < down.start[y + 1]!; t++)
        sum += down.weight[t]! * rows[down.index[t]! * line + v]!;
      out[y * line + v] = Math.min(255, Math.max(0, Math.round(sum)));
    }
  }
  return out;
}

function listFolder(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    throw new DistilleryError(
      'DATASET_INVALID',
      `${dir}: cannot be read (${(error as Error).message})`,
      { file: dir, expected: 'a readable folder', received: (error as NodeJS.ErrnoException).code },
      { cause: error },
    );
  }
}

/** Refuses a dataset folder that is missing or is a file. */
function requireFolder(dir: string): void {
  let stats;
  try {
    stats = statSync(dir);
  } catch {
    throw errors.datasetNotFound(dir);
  }
  if (!stats.isDirectory()) {
    throw new DistilleryError(
      'DATASET_INVALID',
      `${dir}: is a file, not a folder; expected a folder with one sub-folder of images per class`,
      { file: dir, expected: 'a folder with one sub-folder per class', received: 'a file' },
    );
  }
}

/** Class sub-folders (sorted) and the image files in each (sorted); refuses empty classes. */
export function listImageFolder(dir: string): { classNames: string[]; files: string[][] } {
  requireFolder(dir);
  const classNames = listFolder(dir)
    .filter((name) => !name.startsWith('.') && isDirectory(join(dir, name)))
    .sort();
  if (classNames.length === 0) {
    throw errors.datasetInvalid(dir, 'one sub-folder per class', 'no sub-folders');
  }
  if (classNames.length > MAX_CLASSES) {
    throw tooLarge(
      dir,
      'the number of class folders',
      `${formatCount(MAX_CLASSES)} classes`,
      `${classNames.length} folders`,
    );
  }
  const files = classNames.map((name) => {
    const classDir = join(dir, name);
    const images = listFolder(classDir)
      .filter((file) => !file.startsWith('.') && IMAGE_EXTENSIONS.has(extname(file).toLowerCase()))
      .sort()
      .map((file) => join(classDir, file))
      .filter((file) => !isDirectory(file));
    if (images.length === 0) {
      throw errors.datasetInvalid(
        classDir,
        'at least one .png, .jpg or .jpeg image in the class folder',
        'none',
      );
    }
    return images;
  });
  return { classNames, files };
}

/** Refuses, before any image is decoded, a split whose resized images would not fit MAX_DATA_BYTES. */
function checkSplitBytes(dir: string, count: number, format: ImageFormat): void {
  const bytes = count * format.width * format.height * format.channels;
  if (bytes > MAX_DATA_BYTES) {
    throw tooLarge(
      dir,
      `${count} images of ${format.width}×${format.height}×${format.channels} (${formatBytes(bytes)})`,
      formatBytes(MAX_DATA_BYTES),
      `${bytes} bytes`,
    );
  }
}

function loadImages(
  files: Array<{ path: string; label: number }>,
  format: ImageFormat,
  progress: () => void,
): SplitData {
  const size = format.width * format.height * format.channels;
  const x = new Uint8Array(files.length * size);
  const y = new Int32Array(files.length);
  files.forEach((file, i) => {
    x.set(toFormat(decodeImage(file.path), format), i * size);
    y[i] = file.label;
    progress();
  });
  return { count: files.length, x, y };
}

/**
 * Loads an image-folder dataset. Images are put in a seeded random order (the folder order is
 * sorted by class, and the validation split is carved off the end of train); without a test
 * folder the last `testSplit` of that order is the test split. A test folder may hold a subset
 * of the classes but no class the training folder lacks.
 */
export function loadImageFolder(options: ImageFolderOptions): ImageFolderDataset {
  const format: ImageFormat = { width: options.width, height: options.height, channels: options.channels };
  const train = listImageFolder(options.path);
  const trainFiles = train.files.flatMap((paths, label) => paths.map((path) => ({ path, label })));
  let testFiles: Array<{ path: string; label: number }> | undefined;
  if (options.testPath) {
    const test = listImageFolder(options.testPath);
    testFiles = test.files.flatMap((paths, i) => {
      const name = test.classNames[i]!;
      const label = train.classNames.indexOf(name);
      if (label < 0) {
        throw errors.datasetInvalid(
          join(options.testPath!, name),
          `a class folder that also exists in ${options.path} (${train.classNames.join(', ')})`,
          name,
        );
      }
      return paths.map((path) => ({ path, label }));
    });
  }
  requireSplitsCarve({ file: options.path, noun: 'image' }, trainFiles.length, {
    testSplit: testFiles ? undefined : (options.testSplit ?? 0.2),
    validationSplit: options.validationSplit ?? 0,
  });
  checkSplitBytes(options.path, trainFiles.length, format);
  if (testFiles) checkSplitBytes(options.testPath!, testFiles.length, format);
  const total = trainFiles.length + (testFiles?.length ?? 0);
  let done = 0;
  const progress = (): void => {
    done += 1;
    options.onProgress?.(done, total);
  };

  const all = loadImages(trainFiles, format, progress);
  let trainSplit: SplitData;
  let test: SplitData;
  if (testFiles) {
    trainSplit = shuffle(all, deriveSeed(options.seed, 'train-order'));
    test = loadImages(testFiles, format, progress);
  } else {
    ({ train: trainSplit, test } = shuffledTestSplit(all, options.testSplit ?? 0.2, options.seed));
  }
  const carved = carveValidation(trainSplit, options.validationSplit ?? 0);
  const result: ImageFolderDataset = { classNames: train.classNames, train: carved.train, test };
  if (carved.validation) result.validation = carved.validation;
  return result;
}
