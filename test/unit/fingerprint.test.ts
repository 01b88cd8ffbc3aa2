import { describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { canonicalJson, sha256Hex } from '../../main/base/hash';
import { createDefaultCatalog } from '../../main/nodes/index';
import { taskSeed } from '../../main/pipeline/fingerprint';
import { planPipeline } from '../../main/pipeline/plan';
import { validatePipeline } from '../../main/pipeline/validate';
import { createHash } from 'node:crypto';
import { mnistMlpPipeline } from '../helpers/pipelines';

const catalog = createDefaultCatalog();

function doc(
  overrides: { seed?: number; epochs?: number; hidden?: number[]; ui?: boolean } = {},
): PipelineDoc {
  return mnistMlpPipeline({
    name: 'fp',
    seed: overrides.seed ?? 1,
    data: { trainLimit: 100 },
    net: { hidden: overrides.hidden ?? [8] },
    fit: { epochs: overrides.epochs ?? 1 },
    score: false,
    ...(overrides.ui ? { ui: { data: { x: 5, y: 9 } } } : {}),
  });
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

  it('matches node:crypto on long inputs and at every length around a block boundary', () => {
    for (let length = 110; length <= 140; length++) {
      const text = 'é'.repeat(length);
      expect(sha256Hex(text), String(length)).toBe(createHash('sha256').update(text).digest('hex'));
    }
    const long = JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ i, s: `v${i}` })));
    expect(sha256Hex(long)).toBe(createHash('sha256').update(long).digest('hex'));
  });

  it('canonical JSON sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });

  it('canonical JSON is the text the recursive definition gives, so fingerprints of earlier runs still match', () => {
    // The definition fingerprints were first computed with; canonicalJson must not change a byte.
    const reference = (value: unknown): string => {
      if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
      if (value && typeof value === 'object') {
        const entries = Object.entries(value as Record<string, unknown>)
          .filter(([, v]) => v !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
      }
      return JSON.stringify(value) ?? 'null';
    };
    const values: unknown[] = [
      null,
      0,
      -0,
      1.5e-7,
      'plain',
      'quote " and \\ and \u2028 and é',
      [],
      {},
      [undefined, null, [[]], { a: undefined }],
      { 'key with space': 1, ké: 2, 'a.b': 3, '': 4, '"': 5, z: { y: { x: [1, 'two', false] } } },
      { v: 1, type: 'train', params: { epochs: 3, hidden: [300, 100], optimizer: 'adam' }, inputs: {} },
    ];
    for (const value of values) expect(canonicalJson(value)).toBe(reference(value));
  });

  it('canonical JSON writes nesting deeper than the call stack allows', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = i % 2 ? [deep] : { k: deep };
    const text = canonicalJson(deep);
    expect(text.startsWith('[{"k":[{"k":')).toBe(true);
    expect(text.length).toBe(6 + 50_000 * 2 + 50_000 * 6);
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
