/**
 * A stand-in for the runner's registry writes, for the crash test: registers versions of a large
 * model directory in a loop, each with fresh content (so every iteration writes new blobs) and the
 * previous version as its parent, printing one line per step on stdout (synchronous on a pipe):
 *
 *   ready                 database open
 *   writing <n>           about to store iteration n's files and commit its row
 *   committed <n> <id>    iteration n's transaction has committed
 *
 * Usage: node --import tsx test/helpers/registry-writer.ts <dbPath> <storeRoot> <artifactDir> [iterations]
 * The artifact directory is scratch space this script rewrites.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FsArtifactStore, openDatabase, SqliteModelRegistry } from '../../main/registry';

/** Size of the per-iteration weights file; with the shard below the model is ~32 MB. */
export const WEIGHTS_BYTES = 24 * 1024 * 1024;
const SHARD_BYTES = 8 * 1024 * 1024;

async function main(): Promise<void> {
  const [dbPath, storeRoot, artifactDir, iterationsArg] = process.argv.slice(2);
  if (!dbPath || !storeRoot || !artifactDir) {
    throw new Error('usage: registry-writer.ts <dbPath> <storeRoot> <artifactDir> [iterations]');
  }
  const iterations = iterationsArg ? Number(iterationsArg) : 1000;
  const db = openDatabase(dbPath);
  const registry = new SqliteModelRegistry(db, new FsArtifactStore(storeRoot));
  mkdirSync(join(artifactDir, 'shards'), { recursive: true });
  // The shard stays the same across iterations: it exercises the already-stored path too.
  writeFileSync(join(artifactDir, 'shards', 'shard-1.bin'), Buffer.alloc(SHARD_BYTES, 0x5a));
  process.stdout.write('ready\n');

  let parent: string | null = null;
  for (let iteration = 1; iteration <= iterations; iteration += 1) {
    const nonce = randomBytes(8).toString('hex');
    writeFileSync(join(artifactDir, 'model.json'), JSON.stringify({ iteration, nonce }));
    writeFileSync(join(artifactDir, 'weights.bin'), randomBytes(WEIGHTS_BYTES));
    process.stdout.write(`writing ${iteration}\n`);
    const version = await registry.registerVersion({
      name: 'crash/model',
      kind: 'classifier',
      framework: 'tfjs-layers',
      backend: 'cpu',
      runId: null,
      taskId: null,
      nodeType: 'train',
      artifactDir,
      paramCount: WEIGHTS_BYTES / 4,
      nonZeroParams: WEIGHTS_BYTES / 4,
      sizeBytes: WEIGHTS_BYTES + SHARD_BYTES,
      params: { iteration, nonce },
      meta: {},
      parents: parent ? [{ versionId: parent, operation: 'fine-tune', params: { iteration } }] : [],
      metrics: { iteration },
    });
    process.stdout.write(`committed ${iteration} ${version.id}\n`);
    parent = version.id;
  }
  db.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
