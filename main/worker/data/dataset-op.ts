/**
 * What the dataset ops (dataset.mnist, dataset.idx, dataset.csv, dataset.image-folder) share: the
 * dataset is built by a loader, written as a dataset directory (`<taskDir>/dataset`, see
 * dataset-file.ts) and announced as the task's `dataset` artifact; a loader's error about a file is
 * placed at the path param that names it.
 */
import { join, resolve, sep } from 'node:path';
import { DistilleryError } from '../../base/errors';
import type { OpContext, OpSummary } from '../context';
import { writeDataset, type DatasetManifest, type SplitData, type SplitName } from './dataset-file';
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
  try {
    built = build();
  } catch (error) {
    throw placeError(ctx, pathParams, error);
  }
  ctx.throwIfCancelled();

  const { meta } = built;
  const { train, validation, test } = built.splits;
  const splits = validation ? { train, validation, test } : { train, test };
  const counts: Partial<Record<SplitName, number>> = { train: splits.train.count };
  if (validation) counts.validation = validation.count;
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
