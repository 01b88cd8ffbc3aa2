/**
 * Node specs and worker ops are declared once each and tied together: every node type in the
 * catalog has its op, every registered op belongs to a node type, every file in worker/ops is named
 * after the node type it runs, and an op receives exactly the params its spec resolves.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { listExporters } from '../../main/export/exporter';
import { defineNodeType, integer, string } from '../../main/nodes/define';
import { EXPORT_FORMATS } from '../../main/nodes/export';
import { BUILTIN_NODES, createDefaultCatalog } from '../../main/nodes/index';
import { getOp, registeredNodeTypes, registerOp } from '../../main/worker/op-registry';
import '../../main/worker/ops/index';
import { FakeOpContext } from '../helpers/fake-op-context';
import { resolvedParams } from '../helpers/ops';

const OPS_DIR = resolve(import.meta.dirname, '..', '..', 'main', 'worker', 'ops');
const root = mkdtempSync(join(tmpdir(), 'distillery-op-registry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `dataset.image-folder` → `dataset-image-folder`: the file an op lives in. */
const fileOf = (type: string) => `${type.replace(/\./g, '-')}.ts`;

describe('op registry', () => {
  it('has an op for every node type in the catalog, and no op without a node type', () => {
    const catalogTypes = createDefaultCatalog().types;
    expect([...registeredNodeTypes()].sort()).toEqual([...catalogTypes].sort());
    for (const type of catalogTypes) expect(getOp(type).spec.type).toBe(type);
    // The op holds the catalog's own spec object, not a copy that could drift.
    for (const spec of BUILTIN_NODES) expect(getOp(spec.type).spec).toBe(spec);
  });

  it('keeps one op per file, each named after a node type', () => {
    const types = new Set(createDefaultCatalog().types.map(fileOf));
    const files = readdirSync(OPS_DIR).filter((file) => file !== 'index.ts');
    for (const file of files)
      expect({ file, isNodeType: types.has(file) }).toEqual({ file, isNodeType: true });
    // Every node type's op lives in its own file, except diffusion.export, which is export's op.
    const missing = [...types].filter((file) => !files.includes(file));
    expect(missing).toEqual(['diffusion-export.ts']);
  });

  it('refuses a second op for a node type, and an unknown type names the known ones', () => {
    expect(() => registerOp(BUILTIN_NODES[0]!, async () => ({}))).toThrow(/registered twice/);
    let unknown: unknown;
    try {
      getOp('no.such-type');
    } catch (error) {
      unknown = error;
    }
    expect(unknown).toMatchObject({ code: 'UNKNOWN_OP', details: { received: 'no.such-type' } });
    expect((unknown as DistilleryError).details.expected).toContain('train');
  });

  it('declares the export formats once: the export node offers what the exporters write', () => {
    expect(listExporters().map((exporter) => exporter.format)).toEqual([...EXPORT_FORMATS]);
  });

  it('hands the op the resolved params, typed by the spec, and puts the node on its errors', async () => {
    const echoNode = defineNodeType({
      type: 'test.echo',
      version: 1,
      title: 'Echo',
      category: 'data',
      help: 'Returns its params.',
      inputs: {},
      outputs: {},
      params: {
        count: integer({ default: 3, min: 1, max: 10 }),
        label: string({ default: 'x' }),
      },
    });
    let seen: { count: number; label: string } | undefined;
    registerOp(echoNode, async (_ctx, params) => {
      seen = params;
      if (params.count === 9) throw new DistilleryError('MODEL_INVALID', 'boom', {});
      return { ...params };
    });
    const ctx = (nodeId: string) => new FakeOpContext({ taskDir: join(root, nodeId), nodeId });
    await getOp('test.echo').run(ctx('echo'), resolvedParams(echoNode, {}));
    expect(seen).toEqual({ count: 3, label: 'x' });

    // The runner always sends resolved params; a request without them is a protocol error.
    await expect(getOp('test.echo').run(ctx('echo-raw'), { count: 2 })).rejects.toMatchObject({
      code: 'WORKER_PROTOCOL',
      details: { nodeId: 'echo-raw' },
    });
    // Errors from the op's body get the node, once.
    const error: unknown = await getOp('test.echo')
      .run(ctx('echo-bad'), resolvedParams(echoNode, { count: 9 }))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'MODEL_INVALID',
      message: 'Node "echo-bad": boom',
      details: { nodeId: 'echo-bad' },
    });
    // A task cancelled before it starts does not run the op.
    seen = undefined;
    const cancelled = ctx('echo-cancelled');
    cancelled.cancel();
    await expect(getOp('test.echo').run(cancelled, resolvedParams(echoNode, {}))).rejects.toMatchObject({
      code: 'TASK_CANCELLED',
    });
    expect(seen).toBeUndefined();
  });
});
