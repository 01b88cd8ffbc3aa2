/** The editor's bypass change: it sets and clears `bypass`, and its inverse restores the document exactly. */
import { describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { applyChange, describeChange } from '../../renderer/src/pipeline/changes';

function sample(): PipelineDoc {
  return {
    format: 1,
    name: 'bypass',
    seed: 1,
    nodes: [
      { id: 'fit', type: 'train', params: { epochs: 3 } },
      { id: 'prune', type: 'prune', params: {} },
      { id: 'out', type: 'export', params: {}, bypass: true },
    ],
    edges: [{ from: 'fit.model', to: 'prune.model' }],
  };
}

describe('the setBypass change', () => {
  it('bypasses and un-bypasses nodes in one step, and its inverse gives back the same file', () => {
    const doc = sample();
    const before = JSON.stringify(doc);
    const applied = applyChange(doc, { type: 'setBypass', bypass: { prune: true, out: false } });
    expect(applied.doc.nodes.map((node) => node.bypass)).toEqual([undefined, true, undefined]);
    // Cleared, the key is gone: a file without bypassed nodes reads as it did before bypass existed.
    expect(Object.keys(applied.doc.nodes[2]!)).not.toContain('bypass');
    expect(JSON.stringify(doc)).toBe(before);
    const undone = applyChange(applied.doc, applied.inverse);
    expect(undone.doc.nodes.map((node) => node.bypass)).toEqual([undefined, undefined, true]);
    expect(Object.keys(undone.doc.nodes[1]!)).not.toContain('bypass');
  });

  it('names what it did for the undo menu, and refuses a node that does not exist', () => {
    expect(describeChange({ type: 'setBypass', bypass: { prune: true } })).toBe('Bypass prune');
    expect(describeChange({ type: 'setBypass', bypass: { prune: false, out: false } })).toBe(
      'Stop bypassing 2 nodes',
    );
    let thrown: unknown;
    try {
      applyChange(sample(), { type: 'setBypass', bypass: { nope: true } });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'NODE_NOT_FOUND' });
  });
});
