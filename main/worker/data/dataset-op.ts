/**
 * What the dataset ops (dataset.mnist, dataset.idx, dataset.csv, dataset.image-folder) share: the
 * dataset is built by a loader, checked (examples, classes and labels that every downstream node
 * needs), written as a dataset directory (`<taskDir>/dataset`, see dataset-file.ts) and announced as
 * the task's `dataset` artifact; a loader's error about a file is placed at the path param that
 * names it. Unusual but legitimate data (a class without training examples, an empty test split, a
 * single image class) is written with a warning in the task log.
 */
import { join, resolve, sep } from 'node:path';
import { DistilleryError } from '../../base/errors';
import type { OpContext, OpSummary } from '../context';
import {
  exampleSize,
  writeDataset,
  type DatasetManifest,
  type SplitData,
  type SplitName,
} from './dataset-file';
import { classHistogram } from './splits';

/** The artifact's role and the folder below the task directory that holds the dataset. */
export const DATASET_ROLE = 'dataset';

type DatasetMeta = Omit<DatasetManifest, 'format' | 'splits'>;

/** What a loader gives a dataset op. */
export interface BuiltDataset {
  meta: DatasetMeta;
  /** A loader's validation split may be undefined (none asked for); it is then not written. */
  splits: { train: SplitData; validation?: SplitData | undefined; test: SplitData };
  /** Extra facts for the artifact's meta (e.g. feature names, standardisation statistics). */
  extra?: Record<string, unknown>;
  /** The loader's facts about legitimate but unusual data, logged as warnings. */
  warnings?: string[];
}

/** How many class names a warning lists before "and N more". */
const LISTED_CLASSES = 10;

function listClasses(classNames: string[], classes: number[]): string {
  const named = classes.slice(0, LISTED_CLASSES).map((c) => JSON.stringify(classNames[c] ?? String(c)));
  const more = classes.length - named.length;
  return named.join(', ') + (more > 0 ? ` and ${more} more` : '');
}

function invalidDataset(
  file: string | undefined,
  message: string,
  expected: string,
  received: unknown,
): DistilleryError {
  return new DistilleryError('DATASET_INVALID', file ? `${file}: ${message}` : message, {
    ...(file ? { file } : {}),
    expected,
    received,
  });
}

/**
 * Refuses what no downstream node can use, naming the data: examples without values, an empty
 * training split, no class, a single class of a table (tables feed only classifiers), labels
 * outside 0..numClasses-1. Returns the warnings for what is legitimate but unusual.
 */
function checkBuilt(built: BuiltDataset, file: string | undefined): string[] {
  const { meta, splits } = built;
  const warnings = [...(built.warnings ?? [])];
  if (exampleSize(meta) === 0) {
    throw invalidDataset(
      file,
      `the examples have no values (shape [${meta.inputShape.join(', ')}])`,
      'examples of at least one value',
      meta.inputShape,
    );
  }
  if (splits.train.count === 0) {
    throw invalidDataset(file, 'the training split holds no examples', 'at least one training example', 0);
  }
  if (meta.numClasses === 0 || meta.classNames.length !== meta.numClasses) {
    throw invalidDataset(
      file,
      `expected ${meta.numClasses} class names, got ${meta.classNames.length}`,
      'at least one class, each with a name',
      meta.classNames.length,
    );
  }
  for (const [name, split] of Object.entries(splits) as Array<[SplitName, SplitData | undefined]>) {
    if (!split) continue;
    const bad = split.y.findIndex((label) => label < 0 || label >= meta.numClasses);
    if (bad >= 0) {
      throw invalidDataset(
        file,
        `${name} example ${bad} has label ${split.y[bad]}, outside the ${meta.numClasses} classes`,
        `labels 0..${meta.numClasses - 1}`,
        split.y[bad],
      );
    }
  }
  if (meta.numClasses === 1) {
    if (!meta.image) {
      throw invalidDataset(
        file,
        `every example has the class ${JSON.stringify(meta.classNames[0])}; a classifier needs at least 2 classes`,
        'at least 2 classes',
        '1 class',
      );
    }
    warnings.push(
      `only one class (${JSON.stringify(meta.classNames[0])}): fine for diffusion, but classifier models need at least 2 classes`,
    );
  }
  const histogram = classHistogram(splits.train.y, meta.numClasses);
  const absent = histogram.flatMap((count, c) => (count === 0 ? [c] : []));
  if (absent.length > 0 && meta.numClasses > 1) {
    warnings.push(
      `${absent.length === 1 ? 'class' : 'classes'} ${listClasses(meta.classNames, absent)} ` +
        `${absent.length === 1 ? 'has' : 'have'} no training example; a classifier cannot learn ${absent.length === 1 ? 'it' : 'them'}`,
    );
  }
  if (splits.test.count === 0) {
    warnings.push(
      'the test split is empty (testSplit 0 and no test file), so the dataset has none: evaluate the "validation" split or set testSplit',
    );
  }
  return warnings;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((done) => setImmediate(done));
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
export async function runDatasetOp(
  ctx: OpContext,
  pathParams: Record<string, string>,
  build: () => BuiltDataset,
): Promise<OpSummary> {
  // Let a cancel that is already queued arrive before the (synchronous) load starts.
  await yieldToEventLoop();
  ctx.throwIfCancelled();
  let built: BuiltDataset;
  let warnings: string[];
  try {
    built = build();
    warnings = checkBuilt(
      built,
      Object.values(pathParams).find((path) => path !== ''),
    );
  } catch (error) {
    throw placeError(ctx, pathParams, error);
  }
  ctx.throwIfCancelled();

  const { meta } = built;
  const { train, validation, test } = built.splits;
  // An empty split is left out, so that a node reading it says the dataset has no such split.
  const splits: Partial<Record<SplitName, SplitData>> = { train };
  if (validation) splits.validation = validation;
  if (test.count > 0) splits.test = test;
  const counts: Partial<Record<SplitName, number>> = { train: train.count };
  if (validation) counts.validation = validation.count;
  counts.test = test.count;
  const named: DatasetMeta = { ...meta, name: `${meta.name} (${describeCounts(counts)})` };
  for (const warning of warnings) ctx.log(`${named.name}: ${warning}`, 'warn');

  const dir = join(ctx.taskDir, 'dataset');
  writeDataset(dir, named, splits);
  const histogram = classHistogram(train.y, named.numClasses);
  ctx.artifact(DATASET_ROLE, 'dataset', dir, { ...named, counts, ...built.extra });
  ctx.log(`${named.name}: ${named.numClasses} classes, input shape [${named.inputShape.join(', ')}]`);
  ctx.progress(1, 1);
  return { name: named.name, counts, numClasses: named.numClasses, classHistogram: histogram };
}
