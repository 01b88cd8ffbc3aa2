/**
 * The editor's connection rules for many-link inputs, against the real catalog's merge spec: a
 * second link into `merge.models` is added after the first (never replacing it), the numbering the
 * canvas draws follows the document's edge order, and a single input still swaps its link.
 */
import { describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { createDefaultCatalog } from '../../main/nodes/index';
import { validatePipeline } from '../../main/pipeline/validate';
import { applyChange } from '../../renderer/src/pipeline/changes';
import { checkConnection, connectChange, linkOrder } from '../../renderer/src/pipeline/graph';

const catalog = createDefaultCatalog();
const infos = catalog.list();
const specs = (type: string) => infos.find((spec) => spec.type === type);

function doc(): PipelineDoc {
  return {
    format: 1,
    name: 'soup',
    seed: 1,
    nodes: [
      { id: 'data', type: 'dataset.mnist', params: {} },
      { id: 'net', type: 'model.mlp', params: {} },
      { id: 'fit-a', type: 'train', params: {} },
      { id: 'fit-b', type: 'train', params: {} },
      { id: 'soup', type: 'merge', params: {} },
    ],
    edges: [
      { from: 'data.dataset', to: 'net.dataset' },
      { from: 'net.model', to: 'fit-a.model' },
      { from: 'data.dataset', to: 'fit-a.dataset' },
      { from: 'net.model', to: 'fit-b.model' },
      { from: 'data.dataset', to: 'fit-b.dataset' },
    ],
  };
}

function connect(current: PipelineDoc, source: string, target: string, targetHandle: string): PipelineDoc {
  const check = checkConnection(current, specs, { source, sourceHandle: 'model', target, targetHandle });
  if (!check.ok) throw new Error(check.reason);
  return applyChange(current, connectChange(check)).doc;
}

describe('many-link inputs in the editor', () => {
  it('adds a second link into merge.models after the first, and numbers them in that order', () => {
    const first = connect(doc(), 'fit-b', 'soup', 'models');
    const check = checkConnection(first, specs, {
      source: 'fit-a',
      sourceHandle: 'model',
      target: 'soup',
      targetHandle: 'models',
    });
    expect(check).toMatchObject({ ok: true, replaces: [] });
    const both = connect(first, 'fit-a', 'soup', 'models');
    expect(both.edges.filter((edge) => edge.to === 'soup.models').map((edge) => edge.from)).toEqual([
      'fit-b.model',
      'fit-a.model',
    ]);
    expect(linkOrder(both, specs).get('soup.models')).toEqual(
      new Map([
        ['fit-b.model', 1],
        ['fit-a.model', 2],
      ]),
    );
    // Single inputs are not numbered.
    expect(linkOrder(both, specs).has('fit-a.model')).toBe(false);
    // The engine reads the links in the same order.
    const { issues, pipeline } = validatePipeline(both, catalog);
    expect(issues).toEqual([]);
    expect(
      pipeline!.nodes.find((node) => node.id === 'soup')!.inputLists.models!.map((link) => link.nodeId),
    ).toEqual(['fit-b', 'fit-a']);
  });

  it('refuses the same link twice into merge.models', () => {
    const first = connect(doc(), 'fit-a', 'soup', 'models');
    const again = checkConnection(first, specs, {
      source: 'fit-a',
      sourceHandle: 'model',
      target: 'soup',
      targetHandle: 'models',
    });
    expect(again).toEqual({ ok: false, reason: 'Already connected' });
  });

  it('still replaces the link into a single input such as merge.base', () => {
    const first = connect(doc(), 'fit-a', 'soup', 'base');
    const check = checkConnection(first, specs, {
      source: 'fit-b',
      sourceHandle: 'model',
      target: 'soup',
      targetHandle: 'base',
    });
    expect(check).toMatchObject({ ok: true, replaces: [{ from: 'fit-a.model', to: 'soup.base' }] });
    const swapped = applyChange(first, connectChange(check as Extract<typeof check, { ok: true }>)).doc;
    expect(swapped.edges.filter((edge) => edge.to === 'soup.base')).toEqual([
      { from: 'fit-b.model', to: 'soup.base' },
    ]);
  });
});
