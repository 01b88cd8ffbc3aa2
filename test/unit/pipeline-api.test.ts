/**
 * Documents through the API handlers (what IPC and `distillery serve` call): `runs.start`,
 * `pipelines.save` and `pipelines.load` see the document the caller sent, unknown fields and
 * non-finite numbers included, and answer with the issues `distillery validate` lists for the
 * same file.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Answer, ValidationIssue } from '../../preload/contract';
import { createHandlers, dispatch, type Handlers } from '../../main/api/handlers';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { migrate, parseJson, serializePipeline } from '../../main/pipeline/pipeline-file';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

/** A file as a user may write it: an unknown field, a node field misspelt, and an overflowing number. */
const FILE_TEXT = `{
  "format": 1,
  "name": "mnist-mlp",
  "seed": 42,
  "author": "someone",
  "nodes": [
    { "id": "data", "type": "dataset.mnist", "params": { "trainLimit": 100 }, "ui": { "x": 1e999, "y": 0 } },
    { "id": "net", "type": "model.mlp", "params": { "hidden": [8] }, "parms": {} },
    { "id": "fit", "type": "train", "params": { "epochs": 1 } }
  ],
  "edges": [
    { "from": "data.dataset", "to": "net.dataset" },
    { "from": "data.dataset", "to": "fit.dataset" },
    { "from": "net.model", "to": "fit.model" }
  ]
}
`;

/** The issues `distillery validate FILE` lists: the file parsed, migrated, then validated. */
async function validateIssues(handlers: Handlers, text: string): Promise<ValidationIssue[]> {
  return handlers['pipelines.validate']({ doc: migrate(parseJson(text, 'p.distillery.json')) });
}

/** What a serve client's request becomes: the body's JSON parsed, then dispatched. */
async function overHttp(handlers: Handlers, method: string, body: string): Promise<Answer<unknown>> {
  return dispatch(handlers, method, JSON.parse(body));
}

describe('documents through the handlers', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  let app: DistilleryApp;
  let handlers: Handlers;

  beforeEach(() => {
    tmp = makeTempDir();
    app = createApp({ dataDir: join(tmp.dir, 'data'), concurrency: 1 });
    handlers = createHandlers(app);
  });

  afterEach(() => {
    app.dispose();
    tmp.cleanup();
  });

  it('runs.start refuses with the issues `distillery validate` lists, unknown fields and 1e999 included', async () => {
    const expected = await validateIssues(handlers, FILE_TEXT);
    expect(expected.map((issue) => [issue.code, issue.pointer])).toEqual([
      ['NUMBER_NOT_FINITE', '/nodes/0/ui/x'],
      ['UNKNOWN_FIELD', '/author'],
      ['UNKNOWN_FIELD', '/nodes/1/parms'],
    ]);
    const answer = await overHttp(handlers, 'runs.start', `{"doc": ${FILE_TEXT}}`);
    expect(answer).toMatchObject({
      ok: false,
      error: { code: 'NUMBER_NOT_FINITE', details: { issues: expected } },
    });
    expect(app.runs.listRuns(10)).toEqual([]);
  });

  it('runs.start answers a document that is not an object with the validator’s issue, not a transport error', async () => {
    const answer = await dispatch(handlers, 'runs.start', { doc: 'mnist-mlp.distillery.json' });
    expect(answer).toMatchObject({
      ok: false,
      error: { code: 'PIPELINE_SCHEMA', details: { issues: [{ pointer: '', expected: 'a JSON object' }] } },
    });
    expect(await dispatch(handlers, 'runs.start', {})).toMatchObject({
      ok: false,
      error: { code: 'INVALID_REQUEST', details: { issues: [{ path: 'doc' }] } },
    });
  });

  it('pipelines.save keeps unknown fields for the validator to name, and refuses what it could not read back', async () => {
    const path = join(tmp.dir, 'kept');
    const withExtra = JSON.parse(FILE_TEXT.replace('1e999', '10')) as Record<string, unknown>;
    const saved = await overHttp(handlers, 'pipelines.save', JSON.stringify({ path, doc: withExtra }));
    expect(saved).toEqual({ ok: true, result: { path: `${path}.distillery.json` } });
    const written = readFileSync(`${path}.distillery.json`, 'utf8');
    expect(JSON.parse(written)).toEqual(withExtra);
    const loaded = await dispatch(handlers, 'pipelines.load', { path: `${path}.distillery.json` });
    expect(loaded).toMatchObject({ ok: true, result: { issues: await validateIssues(handlers, written) } });

    const refused = join(tmp.dir, 'refused');
    const answer = await overHttp(
      handlers,
      'pipelines.save',
      `{"path": ${JSON.stringify(refused)}, "doc": ${FILE_TEXT}}`,
    );
    expect(answer).toMatchObject({
      ok: false,
      error: { code: 'NUMBER_NOT_FINITE', details: { issues: [{ pointer: '/nodes/0/ui/x' }] } },
    });
    expect(existsSync(`${refused}.distillery.json`)).toBe(false);
  });

  it('pipelines.load reads a file that starts with a byte order mark', async () => {
    const path = join(tmp.dir, 'bom.distillery.json');
    const doc = JSON.parse(FILE_TEXT.replace('1e999', '10').replace('"author": "someone",', '')) as Record<
      string,
      unknown
    >;
    writeFileSync(path, `\uFEFF${serializePipeline(doc as never)}`);
    const loaded = await dispatch(handlers, 'pipelines.load', { path });
    expect(loaded).toMatchObject({
      ok: true,
      result: { doc, issues: [{ code: 'UNKNOWN_FIELD', pointer: '/nodes/1/parms' }] },
    });
  });
});
