/**
 * Storage the CLI may not write: a read-only registry database (or its -wal, -shm or folder), runs
 * folder, artifact store or task folder. Each gives a coded error naming the path, never a signal
 * or a bare EACCES, loses nothing, and a run that failed that way resumes once the path is
 * writable. The CLI runs as a real subprocess, as an unprivileged user when the test is root (see
 * helpers/unprivileged.ts), so that the permissions set here apply to it.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorInfo, RunInfo } from '../../preload/contract';
import { openDatabase } from '../../main/registry/db';
import { cliJson, REPO_ROOT } from '../helpers/cli';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';
import { handOver, unprivilegedUser } from '../helpers/unprivileged';

const PIPELINE = join(REPO_ROOT, 'resources/pipelines/mnist-mlp.distillery.json');
const user = unprivilegedUser();

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

interface Failure {
  error: ErrorInfo;
}

describe('storage this user may not write', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  let dataDir: string;

  beforeEach(() => {
    tmp = makeTempDir();
    dataDir = join(tmp.dir, 'data');
    // The temp folder itself is private to its creator; the CLI's user must reach the data inside.
    chmodSync(tmp.dir, 0o755);
  });

  afterEach(() => tmp.cleanup());

  /** A data directory whose database has a -wal and -shm beside it, as while another process has it open. */
  function openDataDir(): { close: () => void } {
    const db = openDatabase(join(dataDir, 'registry.sqlite'));
    db.prepare(
      "INSERT INTO models (id, name, kind, created_at) VALUES ('m_1', 'kept', 'classifier', 'now')",
    ).run();
    mkdirSync(join(dataDir, 'runs'), { recursive: true });
    handOver(dataDir);
    return { close: () => db.close() };
  }

  for (const target of ['registry.sqlite', 'registry.sqlite-wal', 'registry.sqlite-shm', '.'] as const) {
    it(`refuses a read-only ${target === '.' ? 'data folder' : target} with STORAGE_NOT_WRITABLE naming it`, async () => {
      const holder = openDataDir();
      try {
        const path = join(dataDir, target);
        expect(existsSync(path)).toBe(true);
        const database = join(dataDir, 'registry.sqlite');
        const before = [sha256(database), sha256(`${database}-wal`)];
        chmodSync(path, target === '.' ? 0o555 : 0o444);
        const ran = await cliJson<Failure>(['run', PIPELINE], dataDir, { user });
        expect(ran.code, ran.stderr).toBe(2);
        expect(ran.json.error).toMatchObject({
          code: 'STORAGE_NOT_WRITABLE',
          details: { file: target === '.' ? dataDir : path },
        });
        expect(ran.json.error.message).toContain(target === '.' ? dataDir : path);
        // Nothing was written: not a run record, not a page of the write-ahead log.
        expect([sha256(database), sha256(`${database}-wal`)]).toEqual(before);
        chmodSync(path, target === '.' ? 0o755 : 0o644);
      } finally {
        holder.close();
      }
      // Writable again, the same data directory works, with what it held.
      const listed = await cliJson<Array<{ name: string }>>(['models', 'list'], dataDir, { user });
      expect(listed.code, listed.stderr).toBe(0);
    }, 60_000);
  }

  it('refuses a run whose runs folder is read-only before recording anything', async () => {
    openDataDir().close();
    const runs = join(dataDir, 'runs');
    chmodSync(runs, 0o555);
    const ran = await cliJson<Failure>(['run', PIPELINE], dataDir, { user });
    expect(ran.code, ran.stderr).toBe(2);
    expect(ran.json.error.code).toBe('STORAGE_NOT_WRITABLE');
    expect(ran.json.error.details?.file).toMatch(new RegExp(`^${runs}/r`));
    chmodSync(runs, 0o755);
    const listed = await cliJson<RunInfo[]>(['runs', 'list'], dataDir, { user });
    expect(listed.json).toEqual([]);
  }, 60_000);

  it('a model the artifact store cannot take fails its task, not the CLI; a read-only task folder fails the task naming it; writable again, the run resumes', async () => {
    openDataDir().close();
    const artifacts = join(dataDir, 'artifacts');
    mkdirSync(artifacts);
    handOver(artifacts);
    chmodSync(artifacts, 0o555);

    const first = await cliJson<RunInfo>(['run', PIPELINE], dataDir, { user });
    // The run failed as a run: the CLI answered with its record and the exit code of a failed run.
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).not.toMatch(/unexpected error|unhandled/i);
    const run = first.json;
    expect(run.status).toBe('failed');
    const net = run.tasks.find((task) => task.nodeId === 'net')!;
    expect(net.status).toBe('failed');
    expect(net.error).toMatchObject({
      code: 'STORAGE_NOT_WRITABLE',
      details: { nodeId: 'net', taskId: net.id, port: 'model', file: join(artifacts, 'tmp') },
    });
    expect(net.error?.message).toContain('Node "net"');
    expect(run.tasks.find((task) => task.nodeId === 'data')!.status).toBe('done');
    expect(run.tasks.find((task) => task.nodeId === 'fit')!.status).toBe('skipped');
    expect(run.error?.code).toBe('STORAGE_NOT_WRITABLE');

    chmodSync(artifacts, 0o755);
    chmodSync(net.taskDir, 0o555);
    const second = await cliJson<RunInfo>(['resume', run.id], dataDir, { user });
    expect(second.code, second.stderr).toBe(1);
    const netAgain = second.json.tasks.find((task) => task.nodeId === 'net')!;
    expect(netAgain.error).toMatchObject({
      code: 'STORAGE_NOT_WRITABLE',
      details: { nodeId: 'net', file: net.taskDir },
    });

    // Deeper in the folder, a file the worker must overwrite: the worker's own refusal, named too.
    chmodSync(net.taskDir, 0o755);
    const weights = join(net.taskDir, 'model', 'weights.bin');
    expect(existsSync(weights)).toBe(true);
    chmodSync(weights, 0o444);
    const deeper = await cliJson<RunInfo>(['resume', run.id], dataDir, { user });
    expect(deeper.code, deeper.stderr).toBe(1);
    expect(deeper.json.tasks.find((task) => task.nodeId === 'net')!.error).toMatchObject({
      code: 'STORAGE_NOT_WRITABLE',
      details: { nodeId: 'net', file: weights },
    });

    chmodSync(weights, 0o644);
    const third = await cliJson<RunInfo>(['resume', run.id], dataDir, { user });
    expect(third.code, third.stderr).toBe(0);
    expect(third.json.tasks.map((task) => `${task.nodeId}:${task.status}`)).toEqual([
      'data:done',
      'net:done',
      'fit:done',
      'score:done',
    ]);
  }, 180_000);
});
