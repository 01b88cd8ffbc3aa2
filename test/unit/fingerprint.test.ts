import { describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { canonicalJson, sha256Hex } from '../../main/base/hash';
import { createDefaultCatalog } from '../../main/nodes/index';
import { taskSeed } from '../../main/pipeline/fingerprint';
import { planPipeline } from '../../main/pipeline/plan';
import { validatePipeline } from '../../main/pipeline/validate';
import { createHash } from 'node:crypto';

const catalog = createDefaultCatalog();

function doc(
  overrides: { seed?: number; epochs?: number; hidden?: number[]; ui?: boolean } = {},
): PipelineDoc {
  return {
    format: 1,
    name: 'fp',
    seed: overrides.seed ?? 1,
    nodes: [
      {
        id: 'data',
        type: 'dataset.mnist',
        params: { trainLimit: 100 },
        ...(overrides.ui ? { ui: { x: 5, y: 9 } } : {}),
      },
      { id: 'net', type: 'model.mlp', params: { hidden: overrides.hidden ?? [8] } },
      { id: 'fit', type: 'train', params: { epochs: overrides.epochs ?? 1 } },
    ],
    edges: [
      { from: 'data.dataset', to: 'net.dataset' },
      { from: 'data.dataset', to: 'fit.dataset' },
      { from: 'net.model', to: 'fit.model' },
    ],
  };
}

function fingerprints(d: PipelineDoc): Record<string, string> {
  const { pipeline } = validatePipeline(d, catalog);
  return Object.fromEntries(planPipeline(pipeline!).map((t) => [t.nodeId, t.fingerprint]));
}

describe('sha256Hex', () => {
  it('matches node:crypto on assorted inputs', () => {
    for (const text of ['', 'abc', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(64), 'ünïcödé ✓'.repeat(40)]) {
      expect(sha256Hex(text)).toBe(createHash('sha256').update(text).digest('hex'));
    }
  });

  it('canonical JSON sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });
});

describe('task fingerprints', () => {
  it('are stable, ignore ui layout and explicit defaults', () => {
    const a = fingerprints(doc());
    expect(fingerprints(doc())).toEqual(a);
    expect(fingerprints(doc({ ui: true }))).toEqual(a);
    const withDefault = doc();
    withDefault.nodes[2]!.params.optimizer = 'adam';
    expect(fingerprints(withDefault)).toEqual(a);
  });

  it('change with params and propagate downstream only', () => {
    const a = fingerprints(doc());
    const b = fingerprints(doc({ hidden: [16] }));
    expect(b.data).toBe(a.data);
    expect(b.net).not.toBe(a.net);
    expect(b.fit).not.toBe(a.fit);
    const c = fingerprints(doc({ epochs: 2 }));
    expect(c.net).toBe(a.net);
    expect(c.fit).not.toBe(a.fit);
  });

  it('change with the run seed; task seeds differ per node', () => {
    expect(fingerprints(doc({ seed: 2 })).data).not.toBe(fingerprints(doc()).data);
    expect(taskSeed(1, 'net')).not.toBe(taskSeed(1, 'fit'));
    expect(taskSeed(1, 'net')).toBe(taskSeed(1, 'net'));
  });
});
