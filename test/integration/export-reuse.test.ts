/**
 * A reused task must not report output it did not produce, exactly as a user meets it, through
 * the real CLI, runner and workers on MNIST: run a pipeline that exports to folder F (train 2
 * epochs); run it with 3 epochs (F now holds the 3-epoch model); run the 2-epoch file again. Every
 * task upstream of the export is reused, and the export runs again, because F no longer holds
 * what it wrote: afterwards F holds the 2-epoch model, byte for byte. A fourth run, with F
 * untouched, reuses the export too.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo } from '../../preload/contract';
import { openDatabase, SqliteRunStore } from '../../main/registry';
import { cliJson } from '../helpers/cli';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';
import { mnistMlpPipeline } from '../helpers/pipelines';

function pipeline(epochs: number, outDir: string): PipelineDoc {
  const doc = mnistMlpPipeline({
    name: 'export-reuse',
    seed: 5,
    data: { trainLimit: 600, testLimit: 100 },
    net: { hidden: [16] },
    fit: { epochs, batchSize: 64 },
    score: false,
  });
  // Each file replaces the other's export on purpose: the folder is the user's to reuse.
  doc.nodes.push({ id: 'out', type: 'export', params: { outDir, overwrite: true } });
  doc.edges.push({ from: 'fit.model', to: 'out.model' });
  return doc;
}

/** The weight shards and topology of an export folder, by file name. */
function exportedModel(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((file) => file.endsWith('.bin') || file === 'model.json')
      .sort()
      .map((file) => [file, readFileSync(join(dir, file)).toString('base64')]),
  );
}

function statusOf(run: RunInfo): Record<string, string> {
  return Object.fromEntries(run.tasks.map((task) => [task.nodeId, task.status]));
}

describe('reusing a task whose effect lies outside the run folder', () => {
  ensureNoLeaks();
  const tmp = makeTempDir('distillery-export-reuse-');
  const data = join(tmp.dir, 'data');
  const folder = join(tmp.dir, 'F');
  const twoEpochs = join(tmp.dir, 'two.distillery.json');
  const threeEpochs = join(tmp.dir, 'three.distillery.json');

  beforeAll(() => {
    writeFileSync(twoEpochs, JSON.stringify(pipeline(2, folder), null, 2));
    writeFileSync(threeEpochs, JSON.stringify(pipeline(3, folder), null, 2));
  });

  afterAll(() => tmp.cleanup());

  it('runs the export again when its folder was overwritten, and reuses it when untouched', async () => {
    const first = await cliJson<RunInfo>(['run', twoEpochs], data);
    expect(first.code, first.stderr).toBe(0);
    const twoEpochModel = exportedModel(folder);
    expect(Object.keys(twoEpochModel)).toContain('model.json');

    const second = await cliJson<RunInfo>(['run', threeEpochs], data);
    expect(second.code, second.stderr).toBe(0);
    expect(statusOf(second.json)).toMatchObject({ data: 'reused', net: 'reused', fit: 'done', out: 'done' });
    expect(exportedModel(folder)).not.toEqual(twoEpochModel);

    const third = await cliJson<RunInfo>(['run', twoEpochs], data);
    expect(third.code, third.stderr).toBe(0);
    // Training is reused from the first run; the export is not, and says why.
    expect(statusOf(third.json)).toEqual({ data: 'reused', net: 'reused', fit: 'reused', out: 'done' });
    const fit = third.json.tasks.find((task) => task.nodeId === 'fit')!;
    expect(fit.reusedFromRun).toBe(first.json.id);
    expect(exportedModel(folder)).toEqual(twoEpochModel);
    const out = third.json.tasks.find((task) => task.nodeId === 'out')!;
    expect(out.summary).toMatchObject({ outDir: folder, format: 'tfjs' });
    const db = openDatabase(join(data, 'registry.sqlite'));
    try {
      const lines = new SqliteRunStore(db).getLogs(out.id).map((line) => line.message);
      expect(lines[0]).toMatch(
        /^Not reusing task .*-out: .* has changed since it was written; running it again$/,
      );
    } finally {
      db.close();
    }

    // F untouched since: the export's files are what it wrote, so it is reused like the rest.
    const fourth = await cliJson<RunInfo>(['run', twoEpochs], data);
    expect(fourth.code, fourth.stderr).toBe(0);
    expect(statusOf(fourth.json)).toEqual({ data: 'reused', net: 'reused', fit: 'reused', out: 'reused' });
    expect(fourth.json.tasks.find((task) => task.nodeId === 'out')!.reusedFromRun).toBe(third.json.id);
    expect(exportedModel(folder)).toEqual(twoEpochModel);
  }, 300_000);
});
