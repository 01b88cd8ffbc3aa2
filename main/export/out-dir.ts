/**
 * The output directory every exporter writes into, and the rule that keeps an export from silently
 * replacing another model: a folder that is missing or empty is used; a folder that holds
 * anything else is used only when every export in it is of this same model (same registry
 * version id, or same content hash: export-record.ts) or when the caller forces it. Otherwise
 * EXPORT_TARGET_INVALID names the folder and what it holds, before a single file is written.
 */
import { mkdir, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { DistilleryError } from '../base/errors';
import {
  describeIdentity,
  identityOf,
  readFolderContents,
  sameModel,
  type FolderContents,
  type ModelIdentity,
} from './export-record';
import { DEFAULT_FORCE_HINT, type ExportOptions } from './types';

/** Where relative export folders of a data directory live: `<data dir>/exports/`. */
export const EXPORTS_FOLDER = 'exports';

/** What an exporter asks of the folder before writing into it. */
export interface OutDirGuard {
  /** The model about to be written. */
  identity: ModelIdentity;
  /** Replace whatever the folder holds. */
  force: boolean;
  /** How the user of this entry point forces it, for the refusal's message ("--force"). */
  forceHint: string;
}

/** The guard an exporter of `modelDir` applies, from its options. */
export async function exportGuard(modelDir: string, options: ExportOptions): Promise<OutDirGuard> {
  return {
    identity: await identityOf(modelDir, { versionId: options.versionId, label: options.modelLabel }),
    force: options.force === true,
    forceHint: options.forceHint ?? DEFAULT_FORCE_HINT,
  };
}

/** How many entries a refusal lists before "and N more". */
const LISTED_ENTRIES = 5;

function describeContents(contents: FolderContents): string {
  const listed = contents.entries.slice(0, LISTED_ENTRIES).join(', ');
  const more = contents.entries.length - LISTED_ENTRIES;
  const files = `${listed}${more > 0 ? ` and ${more} more` : ''}`;
  if (contents.exports.length === 0)
    return `no export but ${contents.entries.length} other entries (${files})`;
  const models = contents.exports.map(
    (held) =>
      `a ${held.format === 'onnx' ? 'ONNX' : 'TensorFlow.js'} export of ${held.identity ? describeIdentity(held.identity) : 'an unknown model'}`,
  );
  return `${models.join(' and ')} (${files})`;
}

/**
 * Refuses a non-empty folder that does not hold exports of `guard.identity` alone (unless forced);
 * see the file comment.
 */
export async function checkOutDirContents(outDir: string, guard: OutDirGuard): Promise<void> {
  if (guard.force) return;
  const contents = await readFolderContents(outDir);
  if (contents.entries.length === 0) return;
  const ours = guard.identity;
  const others = contents.exports.filter((held) => !held.identity || !sameModel(held.identity, ours));
  if (contents.exports.length > 0 && others.length === 0) return;
  const holds = describeContents(contents);
  throw new DistilleryError(
    'EXPORT_TARGET_INVALID',
    `Export folder ${outDir} already holds ${holds}; this model is ${describeIdentity(ours)}. ` +
      `Export to another folder, or ${guard.forceHint} to replace what it holds`,
    {
      param: 'outDir',
      file: outDir,
      expected: 'a missing or empty folder, or one holding exports of this same model',
      received: holds,
      holds: contents.exports.map((held) => ({
        format: held.format,
        file: held.file,
        versionId: held.identity?.versionId ?? null,
        contentHash: held.identity?.contentHash ?? null,
        label: held.identity?.label ?? null,
      })),
      entries: contents.entries.length,
      model: { versionId: ours.versionId, contentHash: ours.contentHash, label: ours.label },
    },
  );
}

/**
 * Creates outDir when missing; refuses a path that is (or lies under) something other than a
 * directory, and, with a guard, a folder holding something other than this model's exports.
 */
export async function prepareOutDir(outDir: string, guard?: OutDirGuard): Promise<void> {
  const existing = await stat(outDir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new DistilleryError(
      'EXPORT_TARGET_INVALID',
      `Export target ${outDir} exists and is not a directory`,
      {
        param: 'outDir',
        expected: 'a directory (created if missing)',
        received: outDir,
        file: outDir,
      },
    );
  }
  if (existing && guard) await checkOutDirContents(outDir, guard);
  try {
    await mkdir(outDir, { recursive: true });
  } catch (error) {
    throw new DistilleryError(
      'EXPORT_TARGET_INVALID',
      `Cannot create export directory ${outDir}: ${(error as Error).message}`,
      { param: 'outDir', expected: 'a directory (created if missing)', received: outDir, file: outDir },
      { cause: error },
    );
  }
}

/**
 * An export folder as the user wrote it, made absolute: an absolute path stays as it is; a
 * relative one names a folder below `exportsRoot` (`<data dir>/exports`) and may not climb out of
 * it. Undefined for a relative path that climbs out (the caller says where).
 */
export function resolveExportFolder(outDir: string, exportsRoot: string): string | undefined {
  if (isAbsolute(outDir)) return outDir;
  const target = resolve(exportsRoot, outDir);
  const inside = relative(exportsRoot, target);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside))
    return undefined;
  return target;
}

/**
 * A task's params with every relative folder among the `names` params (a node spec's
 * `effects.external`) made absolute below `exportsRoot`, as the runner hands them to the worker
 * and checks a reused task's files. A relative path that climbs out of `exportsRoot` is left as it
 * is, for the op to refuse with its node and param.
 */
export function withExportFolders(
  params: Record<string, unknown>,
  names: readonly string[],
  exportsRoot: string,
): Record<string, unknown> {
  let resolved: Record<string, unknown> | undefined;
  for (const name of names) {
    const value = params[name];
    if (typeof value !== 'string' || value === '' || isAbsolute(value)) continue;
    const absolute = resolveExportFolder(value, exportsRoot);
    if (absolute) (resolved ??= { ...params })[name] = absolute;
  }
  return resolved ?? params;
}
