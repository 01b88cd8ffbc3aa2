/**
 * Files and folders of the data directory that cannot be written: the errors say which one and
 * what to do, instead of an `INTERNAL` error carrying a bare `EACCES`.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { DistilleryError } from '../base/errors';

/** errno codes meaning "this user may not write here" (permissions, a read-only mount or file). */
const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

/** The errno code of a Node file-system error, if it is one. */
function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `error` says the file system refused a write for lack of permission or a read-only mount. */
export function isNotWritableError(error: unknown): boolean {
  const code = errnoOf(error);
  return code !== undefined && NOT_WRITABLE.has(code);
}

/**
 * STORAGE_NOT_WRITABLE naming `path`. `what` says what the path is for ("the registry database",
 * "the task folder"), so the message reads without knowing the layout.
 */
export function storageNotWritable(
  path: string,
  what: string,
  cause?: unknown,
  details: Record<string, unknown> = {},
): DistilleryError {
  const received = errnoOf(cause) ?? 'read-only';
  return new DistilleryError(
    'STORAGE_NOT_WRITABLE',
    `Cannot write ${what}: ${path} is not writable by this user (${received}); make it writable, or use another data directory`,
    { ...details, file: path, expected: 'a file or folder this user can write', received },
    { cause },
  );
}

/**
 * Turns a file-system refusal into STORAGE_NOT_WRITABLE naming the path the system call named
 * (else `fallbackPath`); any other error is returned unchanged.
 */
export function toStorageError(
  error: unknown,
  fallbackPath: string,
  what: string,
  details: Record<string, unknown> = {},
): unknown {
  if (!isNotWritableError(error)) return error;
  const path = (error as NodeJS.ErrnoException).path ?? fallbackPath;
  return storageNotWritable(path, what, error, details);
}

/**
 * Throws STORAGE_NOT_WRITABLE unless this process may write `path` (when it exists) or create it in
 * its nearest existing parent folder (when it does not).
 */
export function assertWritable(path: string, what: string, details: Record<string, unknown> = {}): void {
  let target = path;
  while (!existsSync(target)) {
    const parent = dirname(target);
    if (parent === target) return;
    target = parent;
  }
  try {
    accessSync(target, constants.W_OK);
  } catch (error) {
    if (!isNotWritableError(error)) throw error;
    throw storageNotWritable(target, target === path ? what : `${what} (${path})`, error, details);
  }
}
