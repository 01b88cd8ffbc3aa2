import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsArtifactStore, openDatabase, SqliteModelRegistry } from '../../main/registry';

const REPO = resolve(import.meta.dirname, '../..');
const WRITER = join(REPO, 'test', 'helpers', 'registry-writer.ts');

/** The writer child, its stdout read line by line so the test can sync on its messages. */
class Writer {
  readonly lines: string[] = [];
  readonly committed: string[] = [];
  private readonly waiters: Array<{ match: (line: string) => boolean; resolve: () => void }> = [];
  private stderr = '';
  readonly exited: Promise<NodeJS.Signals | number | null>;

  private constructor(readonly child: ChildProcess) {
    const stdout = child.stdout;
    if (!stdout) throw new Error('writer has no stdout');
    createInterface({ input: stdout }).on('line', (line) => {
      this.lines.push(line);
      const [word, , id] = line.split(' ');
      if (word === 'committed' && id) this.committed.push(id);
      for (const waiter of [...this.waiters]) {
        if (waiter.match(line)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done(signal ?? code)));
  }

  static start(paths: Paths): Writer {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, paths.db, paths.store, paths.model], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Writer(child);
  }

  /** Resolves when a line equal to `line` arrives; fails if the child exits first. */
  waitFor(line: string): Promise<void> {
    return this.waitForLine(line, (l) => l === line);
  }

  /** Resolves when the child reports its `n`th commit. */
  waitForCommit(n: number): Promise<void> {
    return this.waitForLine(`committed ${n}`, (l) => l.startsWith(`committed ${n} `));
  }

  private async waitForLine(what: string, match: (line: string) => boolean): Promise<void> {
    if (this.lines.some(match)) return;
    const seen = new Promise<void>((done) => this.waiters.push({ match, resolve: done }));
    const exit = this.exited.then((how) => {
      throw new Error(`writer exited (${String(how)}) before "${what}"; stderr:\n${this.stderr}`);
    });
    await Promise.race([seen, exit]);
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    expect(await this.exited).toBe('SIGKILL');
  }
}

interface Paths {
  root: string;
  db: string;
  store: string;
  model: string;
}

/** Resolves as soon as an interrupted write is visible: a temp file in the store's tmp/. */
async function tempFileAppears(storeRoot: string): Promise<void> {
  const tmp = join(storeRoot, 'tmp');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (existsSync(tmp) && readdirSync(tmp).length > 0) return;
    await delay(1);
  }
  throw new Error('no temp file appeared within 10 s');
}

describe('registry crash safety', () => {
  let paths: Paths;
  const writers: Writer[] = [];

  beforeAll(() => {
    const root = mkdtempSync(join(tmpdir(), 'distillery-crash-'));
    paths = {
      root,
      db: join(root, 'registry.sqlite'),
      store: join(root, 'artifacts'),
      model: join(root, 'model'),
    };
    mkdirSync(paths.model);
  });

  afterAll(async () => {
    for (const writer of writers) {
      if (writer.child.exitCode === null && writer.child.signalCode === null) await writer.kill();
    }
    rmSync(paths.root, { recursive: true, force: true });
  });

  it('kill of the runner mid-artifact-write leaves no dangling row', async () => {
    const run = async (killPoint: (writer: Writer) => Promise<void>): Promise<void> => {
      const writer = Writer.start(paths);
      writers.push(writer);
      await writer.waitFor('ready');
      await killPoint(writer);
      await writer.kill();
    };

    // 0 commits: killed while the first version's blobs are being written.
    await run(async (w) => {
      await w.waitFor('writing 1');
      await tempFileAppears(paths.store);
    });
    // Right after the first commit.
    await run((w) => w.waitForCommit(1));
    // Somewhere shortly after the second commit (a random point in the third write).
    await run(async (w) => {
      await w.waitForCommit(2);
      await delay(Math.floor(Math.random() * 40));
    });
    // Mid-write of the second version, after one commit.
    await run(async (w) => {
      await w.waitFor('writing 2');
      await tempFileAppears(paths.store);
    });
    // Before anything was stored.
    await run((w) => w.waitFor('writing 1'));

    const committed = writers.flatMap((w) => w.committed);
    expect(committed.length).toBeGreaterThanOrEqual(4);

    const db = openDatabase(paths.db);
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('foreign_key_check')).toEqual([]);
      const store = new FsArtifactStore(paths.store);
      const registry = new SqliteModelRegistry(db, store);
      const versions = registry.list();
      // Every reported commit is there; a row may exist whose line was not printed yet.
      expect(versions.map((v) => v.id)).toEqual(expect.arrayContaining(committed));
      expect(versions.length).toBeLessThanOrEqual(committed.length + writers.length);

      for (const version of versions) {
        const manifest = registry.manifest(version.id);
        expect(manifest.map((e) => e.path)).toEqual(['model.json', 'shards/shard-1.bin', 'weights.bin']);
        for (const entry of manifest) {
          expect(store.has(entry.sha256), `${version.id} ${entry.path}`).toBe(true);
          expect(await store.verify(entry.sha256), `${version.id} ${entry.path}`).toBe(true);
        }
      }
      const dangling = db
        .prepare(
          `SELECT va.version_id, va.path FROM version_artifacts va LEFT JOIN artifacts a ON a.sha256 = va.sha256
           WHERE a.sha256 IS NULL`,
        )
        .all();
      expect(dangling).toEqual([]);

      const leftovers = readdirSync(join(paths.store, 'tmp'));
      expect(leftovers.length).toBeGreaterThanOrEqual(1);
      const result = await registry.gc({ graceMs: 0 });
      expect(result.removedTemp).toBe(leftovers.length);
      expect(readdirSync(join(paths.store, 'tmp'))).toEqual([]);
      // Only referenced blobs remain, and they all still verify.
      expect(new Set(await store.list())).toEqual(registry.referencedArtifacts());
      const latest = registry.resolve('crash/model');
      expect(await registry.materialize(latest.id, join(paths.root, 'out'))).toHaveLength(3);
    } finally {
      db.close();
    }
  });
});
