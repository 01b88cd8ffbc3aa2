/**
 * What a task with external effects (an export folder, a file the user names) wrote outside its
 * task folder, recorded as content hashes when it finishes and checked before it is reused: a
 * reused task must not report files that another run has since overwritten.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { ExternalEffects, ExternalFile } from '../registry/run-records';

/** Past these, a task's external files are not recorded and the task is never reused. */
export const EXTERNAL_LIMITS = { files: 10_000, bytes: 4 * 1024 ** 3 } as const;

/** The external paths a task's params name: the values of the spec's `effects.external` params. */
export function externalPaths(names: readonly string[], params: Record<string, unknown>): string[] {
  return names.flatMap((name) => {
    const value = params[name];
    // A relative path is refused by the op itself; it names no place the runner could check.
    return typeof value === 'string' && value !== '' && isAbsolute(value) ? [value] : [];
  });
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Regular files under `root` (or `root` itself when it is a file); symbolic links are not followed. */
async function filesUnder(root: string, limit: number): Promise<string[] | null> {
  let info;
  try {
    info = await lstat(root);
  } catch {
    return [];
  }
  if (info.isFile()) return [root];
  if (!info.isDirectory()) return [];
  const found: string[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) {
        found.push(path);
        if (found.length > limit) return null;
      }
    }
  }
  return found.sort();
}

/**
 * Hashes every regular file under each path. Too many files or bytes give `complete: false` (the
 * task is then never reused) rather than an unbounded wait.
 */
export async function recordExternalEffects(
  paths: readonly string[],
  limits: { files: number; bytes: number } = EXTERNAL_LIMITS,
): Promise<ExternalEffects> {
  const files: ExternalFile[] = [];
  let bytes = 0;
  for (const root of paths) {
    const under = await filesUnder(root, limits.files - files.length);
    if (under === null) return { paths: [...paths], files: [], complete: false };
    for (const path of under) {
      const { size } = await lstat(path);
      bytes += size;
      if (bytes > limits.bytes) return { paths: [...paths], files: [], complete: false };
      files.push({ path, size, sha256: await sha256Of(path) });
    }
  }
  return { paths: [...paths], files, complete: true };
}

/** Why a finished task's external files no longer stand for it, or null when every one does. */
export async function externalEffectsChanged(
  effects: ExternalEffects | null,
  paths: readonly string[],
): Promise<string | null> {
  if (!effects) return 'no record of the files it wrote outside its run folder';
  if (!effects.complete) return 'it wrote too many files outside its run folder to check them';
  const recorded = new Set(effects.paths);
  const moved = paths.find((path) => !recorded.has(path));
  if (moved) return `it wrote elsewhere than ${moved}`;
  for (const file of effects.files) {
    let size: number;
    try {
      const info = await lstat(file.path);
      if (!info.isFile()) return `${file.path} is no longer a file`;
      size = info.size;
    } catch {
      return `${file.path} is gone`;
    }
    if (size !== file.size || (await sha256Of(file.path)) !== file.sha256)
      return `${file.path} has changed since it was written`;
  }
  return null;
}
