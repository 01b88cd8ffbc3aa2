/**
 * The contract's request schemas at run time: one per method of RequestMap and none else, one
 * handler per schema, every schema strict, and the envelopes `dispatch` answers with.
 */
import { describe, expect, it } from 'vitest';
import { requestSchemas, type RequestName } from '../../preload/contract';
import { createDocumentHandlers, createHandlers, dispatch } from '../../main/api/handlers';
import { createDefaultCatalog } from '../../main/nodes/index';
import { ensureNoLeaks } from '../helpers/leak-check';
import { useTempApp } from '../helpers/temp-app';

/**
 * RequestMap's methods as data. `satisfies` refuses a key RequestMap lacks and a missing one, so
 * this list is RequestMap's own key set, which the run-time checks below compare with.
 */
const METHODS = {
  'catalog.list': true,
  'pipelines.validate': true,
  'pipelines.load': true,
  'pipelines.save': true,
  'pipelines.samples': true,
  'runs.start': true,
  'runs.cancel': true,
  'runs.resume': true,
  'runs.list': true,
  'runs.get': true,
  'runs.summaries': true,
  'runs.update': true,
  'runs.delete': true,
  'runs.metrics': true,
  'runs.logs': true,
  'models.list': true,
  'models.get': true,
  'models.lineage': true,
  'models.tag': true,
  'models.untag': true,
  'models.registered': true,
  'models.describe': true,
  'models.delete': true,
  'models.export': true,
  'sweeps.start': true,
  'sweeps.list': true,
  'sweeps.get': true,
  'sweeps.cancel': true,
  'sweeps.resume': true,
  'system.info': true,
} as const satisfies Record<RequestName, true>;

const methods = Object.keys(METHODS).sort();

describe('request schemas', () => {
  it('has a schema for every method of RequestMap and no other', () => {
    expect(Object.keys(requestSchemas).sort()).toEqual(methods);
  });

  it('refuses unknown params in every method', () => {
    for (const method of methods) {
      const parsed = requestSchemas[method as RequestName].safeParse({ unexpected: 1 });
      expect(parsed.success, method).toBe(false);
    }
  });

  it('takes an empty object for the methods without params, and gives an empty object back', () => {
    for (const method of ['catalog.list', 'pipelines.samples', 'system.info'] as const) {
      expect(requestSchemas[method].parse({})).toEqual({});
      expect(requestSchemas[method].safeParse([]).success).toBe(false);
    }
  });

  it('needs the document to validate, whatever it holds', () => {
    const schema = requestSchemas['pipelines.validate'];
    expect(schema.safeParse({ doc: null }).success).toBe(true);
    expect(schema.safeParse({ doc: 'not a pipeline', file: 'x.distillery.json' }).success).toBe(true);
    const missing = schema.safeParse({});
    expect(missing.success).toBe(false);
    expect(missing.error?.issues).toEqual([expect.objectContaining({ path: ['doc'], message: 'Required' })]);
  });
});

describe('handlers', () => {
  ensureNoLeaks();
  const temp = useTempApp({ concurrency: 1 });

  it('has one handler per method, and the document handlers are some of them', () => {
    expect(Object.keys(createHandlers(temp.app)).sort()).toEqual(methods);
    const documents = Object.keys(createDocumentHandlers(temp.app.catalog));
    expect(documents.every((method) => method in METHODS)).toBe(true);
  });

  it('answers drifted or unknown requests with coded envelopes', async () => {
    const handlers = createHandlers(temp.app);
    expect(await dispatch(handlers, 'catalog.list', { unexpected: 1 })).toEqual({
      ok: false,
      error: {
        code: 'INVALID_REQUEST',
        message: "Invalid params for catalog.list: (params): Unrecognized key(s) in object: 'unexpected'",
        details: {
          method: 'catalog.list',
          issues: [{ path: '', message: "Unrecognized key(s) in object: 'unexpected'" }],
        },
      },
    });
    expect(await dispatch(handlers, 'pipelines.validate', {})).toMatchObject({
      ok: false,
      error: { code: 'INVALID_REQUEST', message: 'Invalid params for pipelines.validate: doc: Required' },
    });
    expect(await dispatch(handlers, 'runs.explode', {})).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_METHOD', details: { received: 'runs.explode' } },
    });
    expect(await dispatch(handlers, 'runs.get', { runId: 'r-none' })).toEqual({
      ok: false,
      error: { code: 'RUN_NOT_FOUND', message: 'No run with id "r-none"', details: { received: 'r-none' } },
    });
  });
});

describe('document handlers', () => {
  it('name the file in every issue when told which file the document came from', async () => {
    const handlers = createDocumentHandlers(createDefaultCatalog());
    const doc = {
      format: 1,
      name: 'x',
      seed: 1,
      nodes: [{ id: 'a', type: 'no.such.type', params: {} }],
      edges: [],
    };
    const unnamed = await handlers['pipelines.validate']({ doc });
    expect(unnamed.map((issue) => issue.code)).toEqual(['UNKNOWN_NODE_TYPE']);
    expect(unnamed[0]).not.toHaveProperty('file');
    const named = await handlers['pipelines.validate']({ doc, file: '/tmp/x.distillery.json' });
    expect(named).toEqual([{ ...unnamed[0], file: '/tmp/x.distillery.json' }]);
  });
});
