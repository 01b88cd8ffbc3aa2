/**
 * Image datasets from a folder with one sub-folder per class (sorted sub-folder names are the
 * class names). PNG and JPEG files are decoded, converted to grey or RGB and resized to a fixed
 * size; other files are skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { DistilleryError, errors } from '../../base/errors';
import type { SplitData } from './dataset-file';
import { carveValidation, deriveSeed, shuffle, shuffledTestSplit } from './splits';

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

/** Decodes a PNG or JPEG file (chosen by its signature, not its name) to RGBA. */
export function decodeImage(path: string): RgbaImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw errors.datasetNotFound(path);
  }
  const isPng = bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  try {
    if (isPng) {
      const png = PNG.sync.read(bytes);
      return { width: png.width, height: png.height, data: png.data };
    }
    if (isJpeg) {
      const image = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: true });
      return { width: image.width, height: image.height, data: image.data };
    }
  } catch (error) {
    throw new DistilleryError(
      'DATASET_INVALID',
      `${path}: cannot be decoded as ${isPng ? 'PNG' : 'JPEG'} (${(error as Error).message})`,
      { file: path, expected: `a valid ${isPng ? 'PNG' : 'JPEG'} image`, received: (error as Error).message },
      { cause: error },
    );
  }
  throw errors.datasetInvalid(path, 'a PNG or JPEG image', 'an unknown file signature');
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

/** Class sub-folders (sorted) and the image files in each (sorted); refuses empty classes. */
export function listImageFolder(dir: string): { classNames: string[]; files: string[][] } {
  if (!isDirectory(dir)) throw errors.datasetNotFound(dir);
  const classNames = readdirSync(dir)
    .filter((name) => !name.startsWith('.') && isDirectory(join(dir, name)))
    .sort();
  if (classNames.length === 0) {
    throw errors.datasetInvalid(dir, 'one sub-folder per class', 'no sub-folders');
  }
  const files = classNames.map((name) => {
    const classDir = join(dir, name);
    const images = readdirSync(classDir)
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
