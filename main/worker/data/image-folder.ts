/**
 * Image datasets from a folder with one sub-folder per class (sorted sub-folder names are the
 * class names). PNG and JPEG files are decoded, converted to grey or RGB and resized to a fixed
 * size; other files are skipped.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { DistilleryError, errors } from '../../base/errors';
import type { SplitData } from './dataset-file';
import { decodeImage } from './image-decode';
import { toFormat, type ImageFormat } from './image-resize';
import { formatBytes, formatCount, MAX_CLASSES, MAX_DATA_BYTES, tooLarge } from './limits';
import { carveValidation, deriveSeed, requireSplitsCarve, shuffle, shuffledTestSplit } from './splits';

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

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
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
