/**
 * The CLI verbs for run history and registered models, through the real CLI on a real data
 * directory: runs rename / tag / untag / note / rm (models kept unless --with-models), run --from,
 * models untag / describe / registered, and `nodes TYPE` saying when each param applies.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelVersionInfo, PipelineDoc, RegisteredModelInfo, RunInfo } from '../../preload/contract';
import { cliJson, runCli } from '../helpers/cli';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

// A dataset and an untrained MLP: a run with a registered model in seconds.
const doc: PipelineDoc = {
  format: 1,
  name: 'quick',
  seed: 1,
  nodes: [
    { id: 'data', type: 'dataset.mnist', params: { trainLimit: 100, testLimit: 50 } },
    { id: 'net', type: 'model.mlp', params: { hidden: [8] } },
  ],
  edges: [{ from: 'data.dataset', to: 'net.dataset' }],
};

describe('distillery CLI: history and registered models', () => {
  ensureNoLeaks();
  const tmp = makeTempDir('distillery-cli-history-');
  const data = join(tmp.dir, 'data');
  const file = join(tmp.dir, 'quick.distillery.json');
  writeFileSync(file, JSON.stringify(doc));

  afterAll(() => tmp.cleanup());

  it('renames, tags, annotates and deletes runs; re-runs from a node', async () => {
    const first = await cliJson<RunInfo>(['run', file], data);
    expect(first.code, first.stderr).toBe(0);
    const id = first.json.id;

    expect((await cliJson<RunInfo>(['runs', 'rename', id, 'first', 'try'], data)).json.label).toBe(
      'first try',
    );
    expect((await cliJson<RunInfo>(['runs', 'tag', id, 'baseline', 'tiny'], data)).json.tags).toEqual([
      'baseline',
      'tiny',
    ]);
    expect((await cliJson<RunInfo>(['runs', 'untag', id, 'tiny'], data)).json.tags).toEqual(['baseline']);
    expect((await cliJson<RunInfo>(['runs', 'note', id, 'looks', 'fine'], data)).json.note).toBe(
      'looks fine',
    );
    const listed = await runCli(['runs', 'list'], { dataDir: data });
    expect(listed.stdout).toMatch(/first try \(quick\).*baseline/);
    const bad = await cliJson<{ error: { code: string; details: { param: string } } }>(
      ['runs', 'tag', id, 'a,b'],
      data,
    );
    expect(bad.code).toBe(2);
    expect(bad.json.error).toMatchObject({ code: 'RUN_METADATA_INVALID', details: { param: 'tags' } });

    // --from: that node (and what follows) runs again, the rest is reused.
    const again = await cliJson<RunInfo>(['run', file, '--from', 'net'], data);
    expect(again.json.tasks.map((task) => [task.nodeId, task.status])).toEqual([
      ['data', 'reused'],
      ['net', 'done'],
    ]);

    // rm keeps the models unless asked.
    const model = first.json.tasks.find((task) => task.nodeId === 'net')!.models.model!;
    const removed = await cliJson<{ deleted: string; deletedModels: string[] }>(['runs', 'rm', id], data);
    expect(removed.json).toMatchObject({ deleted: id, deletedModels: [] });
    expect((await cliJson<ModelVersionInfo>(['models', 'show', model], data)).code).toBe(0);
    const second = again.json.tasks.find((task) => task.nodeId === 'net')!.models.model!;
    const withModels = await cliJson<{ deletedModels: string[] }>(
      ['runs', 'rm', again.json.id, '--with-models'],
      data,
    );
    expect(withModels.json.deletedModels).toEqual([second]);
    expect((await cliJson<unknown>(['models', 'show', second], data)).code).toBe(2);
  }, 120_000);

  it('untags, describes and lists registered models', async () => {
    const tagged = await cliJson<ModelVersionInfo>(['models', 'tag', 'quick/net:1', 'best'], data);
    expect(tagged.json.aliases).toEqual(['best']);
    const untagged = await cliJson<ModelVersionInfo>(['models', 'untag', 'quick/net:1', 'best'], data);
    expect(untagged.json.aliases).toEqual([]);
    const again = await cliJson<{ error: { code: string } }>(
      ['models', 'untag', 'quick/net:1', 'best'],
      data,
    );
    expect(again.json.error.code).toBe('ALIAS_INVALID');
    const described = await cliJson<RegisteredModelInfo>(
      ['models', 'describe', 'quick/net', 'An', 'MLP'],
      data,
    );
    expect(described.json.description).toBe('An MLP');
    const registered = await cliJson<RegisteredModelInfo[]>(['models', 'registered'], data);
    expect(registered.json).toEqual([
      expect.objectContaining({
        name: 'quick/net',
        description: 'An MLP',
        versionCount: 1,
        latestVersion: 1,
      }),
    ]);
    const text = await runCli(['models', 'registered'], { dataDir: data });
    expect(text.stdout).toMatch(/quick\/net\s+classifier\s+1\s+v1/);
  }, 60_000);

  it('says when each param applies', async () => {
    const shown = await runCli(['nodes', 'prune'], { dataDir: data });
    expect(shown.stdout).toMatch(/\bm\s+integer\s+4\s+.*when method is n:m/);
    expect(shown.stdout).toMatch(/pruneEvery\s+.*when pruningSchedule is agp/);
    const json = await cliJson<{ params: Record<string, { visibleWhen?: unknown }> }>(
      ['nodes', 'train'],
      data,
    );
    expect(json.json.params.momentum!.visibleWhen).toEqual({ optimizer: ['momentum'] });
    expect(json.json.params.epochs!.visibleWhen).toBeUndefined();
  }, 30_000);
});
