/**
 * The first Save into a fresh data directory: `pipelines.save` through the handlers creates the
 * folders the path needs, writes the file whole (no temp file left behind) and reads back.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { createDocumentHandlers, dispatch, type Handlers } from '../../main/api/handlers';
import { createDefaultCatalog } from '../../main/nodes/index';
import { makeTempDir } from '../helpers/tmp';

const doc: PipelineDoc = {
  format: 1,
  name: 'x',
  seed: 1,
  nodes: [{ id: 'data', type: 'dataset.mnist', params: { trainLimit: 100 } }],
  edges: [],
};

describe('pipelines.save', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeEach(() => (tmp = makeTempDir()));
  afterEach(() => tmp.cleanup());

  it('creates missing folders on the first save, and the file reads back', async () => {
    const handlers = createDocumentHandlers(createDefaultCatalog()) as unknown as Handlers;
    // A data directory that does not exist yet, as on a fresh machine.
    const target = join(tmp.dir, 'fresh-data', 'pipelines', 'x');
    const answer = await dispatch(handlers, 'pipelines.save', { path: target, doc });
    expect(answer).toEqual({ ok: true, result: { path: `${target}.distillery.json` } });
    expect(readdirSync(join(tmp.dir, 'fresh-data', 'pipelines'))).toEqual(['x.distillery.json']);
    const loaded = await dispatch(handlers, 'pipelines.load', { path: `${target}.distillery.json` });
    expect(loaded).toMatchObject({ ok: true, result: { doc: { name: 'x', nodes: [{ id: 'data' }] } } });
    // Saved again over itself: still one file.
    await dispatch(handlers, 'pipelines.save', { path: `${target}.distillery.json`, doc });
    expect(readdirSync(join(tmp.dir, 'fresh-data', 'pipelines'))).toEqual(['x.distillery.json']);
    expect(existsSync(`${target}.distillery.json.${process.pid}.tmp`)).toBe(false);
  });
});
