/**
 * Opens `registry.sqlite`: WAL (readers never block the runner's writes), foreign keys, a busy
 * timeout for the second process (CLI beside the app), then the numbered migrations.
 *
 * A database this process cannot write is refused before SQLite touches it: in WAL mode SQLite maps
 * the `-shm` file into memory, and a read-only `-shm` (or database, or folder) ends either in
 * "attempt to write a readonly database" at the first write or in a SIGBUS that kills the process
 * with no message at all.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { DistilleryError } from '../base/errors';
import { MIGRATIONS, type Migration } from './migrations';
import { assertWritable, storageNotWritable, toStorageError } from './storage-errors';

/** A better-sqlite3 connection opened by `openDatabase`. */
export type Database = BetterSqlite3.Database;

export interface OpenDatabaseOptions {
  /** How long a statement waits for another process's write lock, in ms. */
  busyTimeoutMs?: number;
  /** Migrations to apply; tests pass their own. Defaults to the registry schema. */
  migrations?: readonly Migration[];
}

/**
 * Opens (creating when needed) the database at `path` and brings its schema up to date.
 * Refuses a database written by a newer Distillery rather than guessing at its schema.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Database {
  const migrations = [...(options.migrations ?? MIGRATIONS)].sort((a, b) => a.version - b.version);
  if (path !== ':memory:') {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw toStorageError(error, dirname(path), 'the data directory');
    }
    // SQLite creates and deletes -wal and -shm beside the database, so the folder must be writable too.
    assertWritable(dirname(path), 'the folder of the registry database');
    for (const file of [path, `${path}-wal`, `${path}-shm`]) assertWritable(file, 'the registry database');
  }
  let db: Database;
  try {
    db = new BetterSqlite3(path);
  } catch (error) {
    throw readOnlyError(error, path);
  }
  try {
    // busy_timeout first: switching to WAL needs a lock another process may briefly hold.
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (path !== ':memory:' && mode !== 'wal') {
      throw new DistilleryError('INTERNAL', `Could not switch ${path} to WAL mode (got "${String(mode)}")`, {
        file: path,
      });
    }
    db.pragma('foreign_keys = ON');
    // NORMAL in WAL mode survives process crashes; a power cut may lose the last commits, which
    // leaves unreferenced blobs for gc and never a row without its blobs.
    db.pragma('synchronous = NORMAL');
    migrate(db, path, migrations);
    return db;
  } catch (error) {
    db.close();
    throw readOnlyError(error, path);
  }
}

/** SQLite's own read-only refusals (a file made read-only under a running process) name the file too. */
function readOnlyError(error: unknown, path: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_READONLY'))
    return storageNotWritable(path, 'the registry database', error, { sqlite: code });
  return error;
}

function userVersion(db: Database): number {
  return Number(db.pragma('user_version', { simple: true }));
}

function migrate(db: Database, path: string, migrations: readonly Migration[]): void {
  const latest = migrations.length > 0 ? Math.max(...migrations.map((m) => m.version)) : 0;
  const current = userVersion(db);
  if (current > latest) throw tooNew(path, current, latest);
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    // IMMEDIATE takes the write lock before re-reading the version, so two processes opening a
    // fresh database at once apply each migration exactly once.
    db.transaction(() => {
      const now = userVersion(db);
      if (now > latest) throw tooNew(path, now, latest);
      if (now >= migration.version) return;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}

function tooNew(path: string, found: number, known: number): DistilleryError {
  return new DistilleryError(
    'INTERNAL',
    `${path} has schema version ${found}, but this Distillery knows versions up to ${known}: ` +
      'upgrade Distillery or use another data directory',
    { file: path, expected: `schema version ≤ ${known}`, received: found },
  );
}
