/**
 * Content-addressed files: `<root>/ab/cdef…` where `abcdef…` is the sha256 of the content.
 * A write goes temp file → hash while copying → fsync → re-read and verify → rename → fsync the
 * directory, so a blob that exists under its name is complete and correct, whatever was killed
 * when. Leftovers of interrupted writes stay under `<root>/tmp/` until `gc`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Dirent, existsSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { DistilleryError } from '../base/errors';
import { toStorageError } from './storage-errors';

/** One file of a stored directory. */
export interface ArtifactEntry {
  /** Relative POSIX path inside the directory, e.g. `weights/shard-1.bin`. */
  path: string;
  sha256: string;
  size: number;
}

/** Every regular file of a directory, sorted by path. */
export type ArtifactManifest = ArtifactEntry[];

export interface GcResult {
  removedFiles: number;
  removedBytes: number;
  removedTemp: number;
}

export interface GcOptions {
  /**
   * Files (blobs and temp files) modified less than this many ms ago are kept even when
   * unreferenced: another process may have stored them and not yet committed the row naming
   * them. `putFile` refreshes the time of a blob it finds already stored. Default 0.
   */
  graceMs?: number;
}

const SHA256 = /^[0-9a-f]{64}$/;
const CHUNK_BYTES = 1 << 20;
const TEMP_DIR = 'tmp';

export class FsArtifactStore {
  constructor(readonly root: string) {}

  /** Where the blob with this digest lives (whether or not it exists). */
  path(sha256: string): string {
    if (!SHA256.test(sha256)) throw new Error(`Not a lowercase hex sha256 digest: ${JSON.stringify(sha256)}`);
    return join(this.root, sha256.slice(0, 2), sha256.slice(2));
  }

  has(sha256: string): boolean {
    return existsSync(this.path(sha256));
  }

  /** Re-reads the blob; false when it is missing or its content no longer matches its name. */
  async verify(sha256: string): Promise<boolean> {
    try {
      return (await hashFile(this.path(sha256))).sha256 === sha256;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Stores one file's content and returns its digest; storing the same content twice is one blob. */
  async putFile(srcPath: string): Promise<{ sha256: string; size: number }> {
    const tempDir = join(this.root, TEMP_DIR);
    await mkdir(tempDir, { recursive: true }).catch((error: unknown) => {
      throw toStorageError(error, tempDir, 'the artifact store');
    });
    const tempPath = join(tempDir, `${randomBytes(8).toString('hex')}-${process.pid}.tmp`);
    try {
      const written = await copyHashed(srcPath, tempPath);
      // The hash above is of what we handed to write(); reading it back checks what landed.
      const reread = await hashFile(tempPath);
      if (reread.sha256 !== written.sha256 || reread.size !== written.size) {
        throw new DistilleryError(
          'ARTIFACT_CORRUPT',
          `Stored copy of ${srcPath} does not read back as written`,
          {
            file: srcPath,
            expected: written.sha256,
            received: reread.sha256,
          },
        );
      }
      const finalPath = this.path(written.sha256);
      const shardDir = dirname(finalPath);
      const created = await mkdir(shardDir, { recursive: true });
      if (created !== undefined) await syncDirectory(this.root);
      const existing = await stat(finalPath).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      // An existing blob is trusted only after it reads back right: storing good content again
      // heals a blob damaged outside our control.
      const intact =
        existing !== undefined &&
        existing.isFile() &&
        existing.size === written.size &&
        (await hashFile(finalPath)).sha256 === written.sha256;
      if (intact) {
        await unlink(tempPath);
        // Fresh mtime: a concurrent gc's grace period now protects it until our row commits.
        const now = new Date();
        await utimes(finalPath, now, now);
      } else {
        // Missing or damaged: replace it atomically.
        await rename(tempPath, finalPath);
        await syncDirectory(shardDir);
      }
      return written;
    } catch (error) {
      await rm(tempPath, { force: true });
      // A refusal to read the source file is the caller's problem, not the store's.
      const path = (error as NodeJS.ErrnoException | null)?.path;
      if (path !== undefined && resolve(path) === resolve(srcPath)) throw error;
      throw toStorageError(error, this.root, 'the artifact store');
    }
  }

  /**
   * Stores every regular file below `dir` (recursively); returns the manifest sorted by path.
   * Symbolic links and other special files are refused rather than silently left out.
   */
  async putDirectory(dir: string): Promise<ArtifactManifest> {
    const files = await listFiles(dir);
    const manifest: ArtifactManifest = [];
    for (const file of files) {
      const { sha256, size } = await this.putFile(join(dir, ...file.split('/')));
      manifest.push({ path: file, sha256, size });
    }
    return manifest;
  }

  /**
   * Copies a manifest's files into `destDir`, checking each file's digest and size as it is
   * copied. A mismatch or missing blob throws ARTIFACT_CORRUPT naming the file; the bad copy is
   * removed, files copied before it stay. Returns the absolute paths written.
   */
  async materialize(manifest: ArtifactManifest, destDir: string): Promise<string[]> {
    const root = resolve(destDir);
    await mkdir(root, { recursive: true });
    const written: string[] = [];
    for (const entry of manifest) {
      const target = safeJoin(root, entry.path);
      await mkdir(dirname(target), { recursive: true });
      let copied: { sha256: string; size: number };
      try {
        copied = await copyHashed(this.path(entry.sha256), target, { sync: false });
      } catch (error) {
        if (!isNotFound(error)) throw error;
        throw new DistilleryError(
          'ARTIFACT_CORRUPT',
          `Artifact file "${entry.path}" is missing from the store`,
          {
            file: entry.path,
            sha256: entry.sha256,
            expected: entry.sha256,
            received: 'missing blob',
          },
        );
      }
      if (copied.sha256 !== entry.sha256 || copied.size !== entry.size) {
        await rm(target, { force: true });
        throw new DistilleryError(
          'ARTIFACT_CORRUPT',
          `Artifact file "${entry.path}" is corrupt: expected sha256 ${entry.sha256} (${entry.size} bytes), ` +
            `read ${copied.sha256} (${copied.size} bytes)`,
          { file: entry.path, sha256: entry.sha256, expected: entry.sha256, received: copied.sha256 },
        );
      }
      written.push(target);
    }
    return written;
  }

  /** Every blob digest present in the store. */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const shard of await readdirOrEmpty(this.root)) {
      if (!shard.isDirectory() || !/^[0-9a-f]{2}$/.test(shard.name)) continue;
      for (const file of await readdirOrEmpty(join(this.root, shard.name))) {
        const digest = shard.name + file.name;
        if (file.isFile() && SHA256.test(digest)) out.push(digest);
      }
    }
    return out.sort();
  }

  /** Deletes blobs not in `referenced` and leftover temp files (older than `graceMs`). */
  async gc(referenced: ReadonlySet<string>, options: GcOptions = {}): Promise<GcResult> {
    const cutoff = Date.now() - Math.max(0, options.graceMs ?? 0);
    const result: GcResult = { removedFiles: 0, removedBytes: 0, removedTemp: 0 };
    for (const digest of await this.list()) {
      if (referenced.has(digest)) continue;
      const file = this.path(digest);
      const info = await stat(file).catch(() => undefined);
      if (!info || info.mtimeMs > cutoff) continue;
      await unlink(file).catch(ignoreNotFound);
      result.removedFiles += 1;
      result.removedBytes += info.size;
    }
    const tempDir = join(this.root, TEMP_DIR);
    for (const entry of await readdirOrEmpty(tempDir)) {
      const file = join(tempDir, entry.name);
      const info = await stat(file).catch(() => undefined);
      if (!info || info.mtimeMs > cutoff) continue;
      await rm(file, { force: true, recursive: true });
      result.removedTemp += 1;
    }
    return result;
  }
}

/** Copies `src` to a new file `dest`, hashing on the way; fsyncs `dest` unless told not to. */
async function copyHashed(
  src: string,
  dest: string,
  options: { sync: boolean } = { sync: true },
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const input = await open(src, 'r');
  let output: FileHandle | undefined;
  try {
    output = await open(dest, options.sync ? 'wx' : 'w');
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      await writeAll(output, chunk);
      size += bytesRead;
    }
    if (options.sync) await output.sync();
  } finally {
    await output?.close();
    await input.close();
  }
  return { sha256: hash.digest('hex'), size };
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, null);
    offset += bytesWritten;
  }
}

async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const input = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await input.close();
  }
  return { sha256: hash.digest('hex'), size };
}

/** Makes a rename or a new entry in `dir` durable. Windows cannot open directories; it skips. */
async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (relativeDir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(join(dir, relativeDir), { withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) {
        throw new DistilleryError('MODEL_INVALID', `Model directory not found: ${dir}`, { file: dir });
      }
      throw error;
    }
    for (const entry of entries) {
      const relativePath = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`;
      if (entry.isDirectory()) await walk(relativePath);
      else if (entry.isFile()) out.push(relativePath);
      else {
        throw new DistilleryError(
          'MODEL_INVALID',
          `"${relativePath}" in ${dir} is not a regular file or directory (links are not stored)`,
          { file: join(dir, relativePath) },
        );
      }
    }
  };
  await walk('');
  // Code-unit order, not locale order: the same manifest on every machine.
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Joins a manifest path under `root`, refusing anything that would land outside it. */
function safeJoin(root: string, manifestPath: string): string {
  const target = resolve(root, ...manifestPath.split('/'));
  const rel = relative(root, target);
  const escapes = rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  if (manifestPath === '' || isAbsolute(manifestPath) || escapes) {
    throw new DistilleryError(
      'ARTIFACT_CORRUPT',
      `Manifest path "${manifestPath}" escapes the target directory`,
      {
        file: manifestPath,
      },
    );
  }
  return target;
}

async function readdirOrEmpty(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT';
}

function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}
