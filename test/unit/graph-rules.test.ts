import { describe, expect, it } from 'vitest';
import type { PipelineDoc, PortType } from '../../preload/contract';
import {
  describeNodeIdRule,
  formatEndpoint,
  isNodeId,
  NODE_ID_MAX_LENGTH,
  NODE_ID_PATTERN,
  parseEndpoint,
  portsCompatible,
} from '../../preload/graph-rules';
import { createDefaultCatalog } from '../../main/nodes/index';
import { validatePipeline } from '../../main/pipeline/validate';
import { applyChange, ChangeError } from '../../renderer/src/pipeline/changes';
import { idStem, pasteChange, uniqueId } from '../../renderer/src/pipeline/graph';

const catalog = createDefaultCatalog();

/** A valid two-node pipeline whose first node, `data`, the tests rename. */
function base(): PipelineDoc {
  return {
    format: 1,
    name: 'ids',
    seed: 1,
    nodes: [
      { id: 'data', type: 'dataset.mnist', params: { trainLimit: 100, testLimit: 100 } },
      { id: 'net', type: 'model.mlp', params: {} },
    ],
    edges: [{ from: 'data.dataset', to: 'net.dataset' }],
  };
}

/** Ids on both sides of every part of the rule: first character, allowed characters, length. */
const IDS: Array<[id: string, valid: boolean]> = [
  ['fit_2', true],
  ['fit', true],
  ['_hidden', true],
  ['Fit-Two', true],
  ['a', true],
  ['x'.repeat(NODE_ID_MAX_LENGTH), true],
  ['x'.repeat(NODE_ID_MAX_LENGTH + 1), false],
  ['2nd-fit', false],
  ['-fit', false],
  ['', false],
  ['a.b', false],
  ['fit 2', false],
  ['fit/2', false],
  ['ﬁt', false],
  ['fit\n', false],
];

describe('node id rule', () => {
  it('accepts letters, digits, "_" and "-" after a letter or "_", up to 64 characters', () => {
    for (const [id, valid] of IDS) {
      expect(NODE_ID_PATTERN.test(id), JSON.stringify(id)).toBe(valid);
      expect(isNodeId(id), JSON.stringify(id)).toBe(valid);
    }
    expect(isNodeId(42)).toBe(false);
    expect(isNodeId(undefined)).toBe(false);
  });

  it('describes the rule, including the length limit', () => {
    expect(NODE_ID_MAX_LENGTH).toBe(64);
    expect(describeNodeIdRule).toContain('64');
    expect(describeNodeIdRule).toMatch(/starting with a letter/);
  });

  it('is applied identically by the editor (rename) and the engine (validatePipeline)', () => {
    expect(validatePipeline(base(), catalog).issues).toEqual([]);
    for (const [id, valid] of IDS) {
      let editorAccepted: boolean;
      let renamed: PipelineDoc;
      try {
        renamed = applyChange(base(), { type: 'renameNode', from: 'data', to: id }).doc;
        editorAccepted = true;
      } catch (error) {
        expect(error).toBeInstanceOf(ChangeError);
        expect((error as ChangeError).code).toBe('NODE_ID_INVALID');
        expect((error as ChangeError).message).toContain(describeNodeIdRule);
        editorAccepted = false;
        // What the document would hold had the editor let it through.
        renamed = base();
        renamed.nodes[0] = { ...renamed.nodes[0]!, id };
        renamed.edges = [{ from: `${id}.dataset`, to: 'net.dataset' }];
      }
      const issues = validatePipeline(renamed, catalog).issues;
      const idIssues = issues.filter((issue) => issue.pointer === '/nodes/0/id');
      const engineAccepted = idIssues.length === 0;
      expect({ id, editor: editorAccepted, engine: engineAccepted }).toEqual({
        id,
        editor: valid,
        engine: valid,
      });
      if (valid) {
        // The editor rewrote the edge too, so the renamed document is valid as a whole.
        expect(issues).toEqual([]);
      } else {
        expect(idIssues[0]).toMatchObject({ code: 'PIPELINE_SCHEMA', received: id });
        expect(idIssues[0]!.message).toContain(describeNodeIdRule);
      }
    }
  });

  it('is applied by the editor when a node is added', () => {
    const add = (id: string) => () =>
      applyChange(base(), { type: 'addNode', node: { id, type: 'train', params: {} } });
    expect(add('fit_2')).not.toThrow();
    expect(add('2nd-fit')).toThrow(ChangeError);
    expect(add('x'.repeat(65))).toThrow(/at most 64 characters/);
  });
});

describe('endpoints', () => {
  it('parses "nodeId.port" with exactly one dot and both sides non-empty', () => {
    expect(parseEndpoint('fit.model')).toEqual({ nodeId: 'fit', port: 'model' });
    expect(parseEndpoint('a.b')).toEqual({ nodeId: 'a', port: 'b' });
    for (const bad of ['', 'fit', '.model', 'fit.', '.', 'a.b.c', 'fit..model', '..'])
      expect(parseEndpoint(bad), JSON.stringify(bad)).toBeUndefined();
  });

  it('formats the inverse of parsing', () => {
    const endpoint = { nodeId: 'fit_2', port: 'model' };
    expect(formatEndpoint(endpoint)).toBe('fit_2.model');
    expect(parseEndpoint(formatEndpoint(endpoint))).toEqual(endpoint);
  });

  it('makes the editor refuse a link with a malformed endpoint', () => {
    const connect = (from: string) => {
      try {
        applyChange(base(), { type: 'connect', edge: { from, to: 'net.dataset' } });
        return 'applied';
      } catch (error) {
        return (error as ChangeError).code;
      }
    };
    expect(connect('data.dataset.x')).toBe('EDGE_ENDPOINT_INVALID');
    expect(connect('data')).toBe('EDGE_ENDPOINT_INVALID');
    expect(connect('ghost.dataset')).toBe('NODE_NOT_FOUND');
  });
});

describe('port compatibility', () => {
  it('links only ports of the same type', () => {
    const types: PortType[] = ['dataset', 'model', 'diffusion-model'];
    for (const from of types)
      for (const to of types) expect(portsCompatible(from, to), `${from} → ${to}`).toBe(from === to);
  });
});

describe('editor id generation', () => {
  it('makes stems that satisfy the rule', () => {
    expect(idStem('dataset.mnist')).toBe('mnist');
    expect(idStem('model.2layer')).toBe('n2layer');
    expect(idStem('...')).toBe('node');
    expect(isNodeId(idStem(`model.${'y'.repeat(100)}`))).toBe(true);
  });

  it('keeps stem-N within the length limit', () => {
    const long = 'z'.repeat(NODE_ID_MAX_LENGTH);
    const taken = new Set([long]);
    for (let i = 0; i < 12; i++) {
      const id = uniqueId(long, taken);
      expect(isNodeId(id), id).toBe(true);
      expect(taken.has(id)).toBe(false);
      taken.add(id);
    }
    expect(uniqueId('2nd-fit', new Set())).toBe('n2nd-fit');
    expect(uniqueId('fit', new Set(['fit']))).toBe('fit-2');
  });

  it('pastes nodes under valid ids, with their links', () => {
    const doc = base();
    const clip = {
      kind: 'distillery/nodes' as const,
      nodes: [
        { id: '2nd-data', type: 'dataset.mnist', params: {} },
        { id: 'w'.repeat(NODE_ID_MAX_LENGTH), type: 'model.mlp', params: {} },
      ],
      edges: [
        { from: '2nd-data.dataset', to: `${'w'.repeat(NODE_ID_MAX_LENGTH)}.dataset` },
        { from: '2nd-data.dataset.extra', to: `${'w'.repeat(NODE_ID_MAX_LENGTH)}.dataset` },
      ],
    };
    const first = pasteChange(doc, clip, { x: 0, y: 0 });
    const second = pasteChange(applyChange(doc, first).doc, clip, { x: 0, y: 0 });
    for (const change of [first, second]) {
      for (const node of change.nodes) expect(isNodeId(node.id), node.id).toBe(true);
      expect(change.edges).toEqual([
        { from: `${change.nodes[0]!.id}.dataset`, to: `${change.nodes[1]!.id}.dataset` },
      ]);
    }
    const pasted = applyChange(applyChange(doc, first).doc, second).doc;
    expect(validatePipeline(pasted, catalog).issues).toEqual([]);
  });
});
