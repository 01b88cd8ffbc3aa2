/**
 * The dataset ops: each loads data from its source, writes it as a dataset directory
 * (`<taskDir>/dataset`, see data/dataset-file.ts) and announces it as the task's `dataset`
 * artifact. Parameters arrive validated with defaults applied (main/nodes/dataset-*.ts); the
 * helpers below still refuse a wrong type with PARAM_INVALID rather than misbehave.
 */
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { DistilleryError, errors } from '../../base/errors';
import type { Op, OpContext, OpSummary } from '../context';
import { loadCsvDataset, type CsvHeaderMode } from '../data/csv';
import { writeDataset, type DatasetManifest, type SplitData, type SplitName } from '../data/dataset-file';
import { readIdxDataset, type IdxDataset } from '../data/idx';
import { loadImageFolder } from '../data/image-folder';
import { loadMnist, MNIST_CLASS_NAMES } from '../data/mnist';
import { carveValidation, classHistogram, countClasses, shuffledTestSplit, takeFirst } from '../data/splits';

/** The artifact's role and the folder below the task directory that holds the dataset. */
export const DATASET_ROLE = 'dataset';

type DatasetMeta = Omit<DatasetManifest, 'format' | 'splits'>;

interface BuiltDataset {
  meta: DatasetMeta;
  splits: { train: SplitData; validation?: SplitData; test: SplitData };
  /** Extra facts for the artifact's meta (e.g. feature names, standardisation statistics). */
  extra?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Parameters

function stringParam(ctx: OpContext, name: string, fallback = ''): string {
  const value = ctx.params[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') throw errors.paramInvalid(ctx.nodeId, name, 'a string', value);
  return value.trim();
}

function requiredPathParam(ctx: OpContext, name: string): string {
  const value = stringParam(ctx, name);
  if (value === '') throw errors.paramInvalid(ctx.nodeId, name, 'a file or folder path', value);
  return value;
}

function numberParam(ctx: OpContext, name: string, fallback: number, integer = false): number {
  const raw = ctx.params[name];
  if (raw === undefined || raw === null) return fallback;
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw errors.paramInvalid(ctx.nodeId, name, integer ? 'an integer' : 'a number', raw);
  }
  return value;
}

function fractionParam(ctx: OpContext, name: string, fallback: number, max: number): number {
  const value = numberParam(ctx, name, fallback);
  if (value < 0 || value > max) throw errors.paramOutOfRange(ctx.nodeId, name, `between 0 and ${max}`, value);
  return value;
}

function limitParam(ctx: OpContext, name: string): number {
  const value = numberParam(ctx, name, 0, true);
  if (value < 0) throw errors.paramOutOfRange(ctx.nodeId, name, '0 (all) or more', value);
  return value;
}

function booleanParam(ctx: OpContext, name: string, fallback: boolean): boolean {
  const value = ctx.params[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw errors.paramInvalid(ctx.nodeId, name, 'true or false', value);
  return value;
}

function stringListParam(ctx: OpContext, name: string): string[] {
  const value = ctx.params[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    throw errors.paramInvalid(ctx.nodeId, name, 'a list of strings', value);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Running

function yieldToEventLoop(): Promise<void> {
  return new Promise((done) => setImmediate(done));
}

function throwIfCancelled(ctx: OpContext): void {
  if (ctx.signal.aborted) throw errors.cancelled(ctx.taskId);
}

/**
 * Gives an error from a loader its place: the node, and the path parameter whose file or folder
 * it names (the longest matching one, so a file inside a folder parameter maps to that folder).
 */
function placeError(ctx: OpContext, pathParams: Record<string, string>, error: unknown): unknown {
  if (!(error instanceof DistilleryError) || error.code === 'TASK_CANCELLED') return error;
  const details = { ...error.details };
  if (details.param === undefined && typeof details.file === 'string') {
    const file = resolve(details.file);
    let best = '';
    for (const [param, value] of Object.entries(pathParams)) {
      if (value === '') continue;
      const target = resolve(value);
      if ((file === target || file.startsWith(target + sep)) && target.length > best.length) {
        best = target;
        details.param = param;
      }
    }
  }
  if (details.nodeId !== undefined && details.nodeId !== ctx.nodeId) return error;
  details.nodeId = ctx.nodeId;
  const prefix = `Node "${ctx.nodeId}": `;
  const message = error.message.startsWith(prefix) ? error.message : prefix + error.message;
  return new DistilleryError(error.code, message, details, { cause: error });
}

function describeCounts(counts: Partial<Record<SplitName, number>>): string {
  const parts = [`${counts.train ?? 0} train`];
  if (counts.validation !== undefined) parts.push(`${counts.validation} validation`);
  parts.push(`${counts.test ?? 0} test`);
  return parts.join(' / ');
}

/** Loads (via `build`), writes the dataset directory, announces the artifact, summarises. */
async function runDatasetOp(
  ctx: OpContext,
  pathParams: Record<string, string>,
  build: () => BuiltDataset,
): Promise<OpSummary> {
  // Let a cancel that is already queued arrive before the (synchronous) load starts.
  await yieldToEventLoop();
  throwIfCancelled(ctx);
  let built: BuiltDataset;
  try {
    built = build();
  } catch (error) {
    throw placeError(ctx, pathParams, error);
  }
  throwIfCancelled(ctx);

  const { meta, splits } = built;
  const counts: Partial<Record<SplitName, number>> = { train: splits.train.count };
  if (splits.validation) counts.validation = splits.validation.count;
  counts.test = splits.test.count;
  const named: DatasetMeta = { ...meta, name: `${meta.name} (${describeCounts(counts)})` };

  const dir = join(ctx.taskDir, 'dataset');
  writeDataset(dir, named, splits);
  const histogram = classHistogram(splits.train.y, named.numClasses);
  ctx.artifact(DATASET_ROLE, 'dataset', dir, { ...named, counts, ...built.extra });
  ctx.log(`${named.name}: ${named.numClasses} classes, input shape [${named.inputShape.join(', ')}]`);
  ctx.progress(1, 1);
  return { name: named.name, counts, numClasses: named.numClasses, classHistogram: histogram };
}

function idxToSplit(data: IdxDataset): SplitData {
  return { count: data.count, x: data.images, y: Int32Array.from(data.labels) };
}

// ---------------------------------------------------------------------------------------------
// Ops

/** dataset.mnist: the packaged MNIST set; first `trainLimit` / `testLimit` examples, validation off the end. */
export const datasetMnistOp: Op = (ctx) =>
  runDatasetOp(ctx, {}, () => {
    const trainLimit = limitParam(ctx, 'trainLimit');
    const testLimit = limitParam(ctx, 'testLimit');
    const validationSplit = fractionParam(ctx, 'validationSplit', 0, 0.5);
    const { train, validation } = carveValidation(
      takeFirst(idxToSplit(loadMnist('train')), trainLimit),
      validationSplit,
    );
    const test = takeFirst(idxToSplit(loadMnist('test')), testLimit);
    return {
      meta: {
        name: 'MNIST',
        inputShape: [28, 28, 1],
        numClasses: 10,
        classNames: MNIST_CLASS_NAMES,
        image: true,
      },
      splits: validation ? { train, validation, test } : { train, test },
    };
  });

/**
 * dataset.idx: IDX image/label files (gzipped or not). Without test files, a seeded `testSplit`
 * of the training files is the test split; limits then take the first N of each.
 */
export const datasetIdxOp: Op = (ctx) => {
  const paths = {
    trainImages: stringParam(ctx, 'trainImages'),
    trainLabels: stringParam(ctx, 'trainLabels'),
    testImages: stringParam(ctx, 'testImages'),
    testLabels: stringParam(ctx, 'testLabels'),
  };
  return runDatasetOp(ctx, paths, () => {
    requiredPathParam(ctx, 'trainImages');
    requiredPathParam(ctx, 'trainLabels');
    if ((paths.testImages === '') !== (paths.testLabels === '')) {
      const missing = paths.testImages === '' ? 'testImages' : 'testLabels';
      throw errors.paramInvalid(ctx.nodeId, missing, 'set together with the other test file', '');
    }
    const trainLimit = limitParam(ctx, 'trainLimit');
    const testLimit = limitParam(ctx, 'testLimit');
    const validationSplit = fractionParam(ctx, 'validationSplit', 0, 0.5);
    const testSplit = fractionParam(ctx, 'testSplit', 0.2, 0.9);
    const names = stringListParam(ctx, 'classNames');

    const trainData = readIdxDataset(paths.trainImages, paths.trainLabels);
    let pool: { train: SplitData; test: SplitData };
    if (paths.testImages !== '') {
      const testData = readIdxDataset(paths.testImages, paths.testLabels);
      if (testData.rows !== trainData.rows || testData.cols !== trainData.cols) {
        throw errors.datasetInvalid(
          paths.testImages,
          `${trainData.rows}×${trainData.cols} images like ${paths.trainImages}`,
          `${testData.rows}×${testData.cols}`,
        );
      }
      pool = { train: idxToSplit(trainData), test: idxToSplit(testData) };
    } else {
      pool = shuffledTestSplit(idxToSplit(trainData), testSplit, ctx.seed);
    }
    const labelClasses = countClasses(pool.train.y, pool.test.y);
    if (names.length > 0 && names.length < labelClasses) {
      throw errors.paramInvalid(
        ctx.nodeId,
        'classNames',
        `at least ${labelClasses} names (labels go up to ${labelClasses - 1})`,
        names,
      );
    }
    const classNames = names.length > 0 ? names : Array.from({ length: labelClasses }, (_, i) => String(i));
    const { train, validation } = carveValidation(takeFirst(pool.train, trainLimit), validationSplit);
    const test = takeFirst(pool.test, testLimit);
    return {
      meta: {
        name: basename(dirname(resolve(paths.trainImages))) || 'IDX',
        inputShape: [trainData.rows, trainData.cols, 1],
        numClasses: classNames.length,
        classNames,
        image: true,
      },
      splits: validation ? { train, validation, test } : { train, test },
    };
  });
};

const HEADER_MODES: readonly CsvHeaderMode[] = ['auto', 'yes', 'no'];

/** dataset.csv: numeric features and a label column; features standardised with train statistics. */
export const datasetCsvOp: Op = (ctx) => {
  const paths = { path: stringParam(ctx, 'path'), testPath: stringParam(ctx, 'testPath') };
  return runDatasetOp(ctx, paths, () => {
    requiredPathParam(ctx, 'path');
    const header = stringParam(ctx, 'header', 'auto') as CsvHeaderMode;
    if (!HEADER_MODES.includes(header))
      throw errors.paramInvalid(ctx.nodeId, 'header', '"auto", "yes" or "no"', header);
    const data = loadCsvDataset({
      path: paths.path,
      testPath: paths.testPath,
      labelColumn: stringParam(ctx, 'labelColumn'),
      header,
      testSplit: fractionParam(ctx, 'testSplit', 0.2, 0.9),
      validationSplit: fractionParam(ctx, 'validationSplit', 0, 0.5),
      standardize: booleanParam(ctx, 'standardize', true),
      seed: ctx.seed,
    });
    const extra: Record<string, unknown> = { featureNames: data.featureNames };
    if (data.standardization) extra.standardization = data.standardization;
    const file = basename(paths.path).replace(/\.gz$/i, '');
    return {
      meta: {
        name: file.slice(0, file.length - extname(file).length) || file,
        inputShape: [data.featureNames.length],
        numClasses: data.classNames.length,
        classNames: data.classNames,
        image: false,
      },
      splits: data.validation
        ? { train: data.train, validation: data.validation, test: data.test }
        : { train: data.train, test: data.test },
      extra,
    };
  });
};

const PROGRESS_INTERVAL_MS = 100;

/** dataset.image-folder: one sub-folder of PNG/JPEG images per class, resized to width × height. */
export const datasetImageFolderOp: Op = (ctx) => {
  const paths = { path: stringParam(ctx, 'path'), testPath: stringParam(ctx, 'testPath') };
  return runDatasetOp(ctx, paths, () => {
    requiredPathParam(ctx, 'path');
    const width = numberParam(ctx, 'width', 28, true);
    const height = numberParam(ctx, 'height', 28, true);
    for (const [name, value] of [
      ['width', width],
      ['height', height],
    ] as const) {
      if (value < 1) throw errors.paramOutOfRange(ctx.nodeId, name, 'at least 1', value);
    }
    const channels = numberParam(ctx, 'channels', 1, true);
    if (channels !== 1 && channels !== 3)
      throw errors.paramInvalid(ctx.nodeId, 'channels', '1 or 3', ctx.params.channels);
    let reportedAt = 0;
    const data = loadImageFolder({
      path: paths.path,
      testPath: paths.testPath,
      width,
      height,
      channels,
      testSplit: fractionParam(ctx, 'testSplit', 0.2, 0.9),
      validationSplit: fractionParam(ctx, 'validationSplit', 0, 0.5),
      seed: ctx.seed,
      onProgress: (done, total) => {
        const now = Date.now();
        if (done < total && now - reportedAt < PROGRESS_INTERVAL_MS) return;
        reportedAt = now;
        ctx.progress(done, total);
      },
    });
    return {
      meta: {
        name: basename(resolve(paths.path)),
        inputShape: [height, width, channels],
        numClasses: data.classNames.length,
        classNames: data.classNames,
        image: true,
      },
      splits: data.validation
        ? { train: data.train, validation: data.validation, test: data.test }
        : { train: data.train, test: data.test },
    };
  });
};
