/**
 * Many-link inputs (`multiple`, merge's `models`) through validation and planning: several links
 * are accepted in edge order, `minLinks` applies once the port is linked, the same link twice and a
 * second link into a single port are refused, and the fingerprint follows the links in order.
 */
import { describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { createDefaultCatalog } from '../../main/nodes/index';
import { planPipeline } from '../../main/pipeline/plan';
import { validatePipeline } from '../../main/pipeline/validate';

const catalog = createDefaultCatalog();

/** Three fine-tunes of one model, merged; `links` says which go into `merge.models`, in order. */
function mergeDoc(links: string[], extraEdges: PipelineDoc['edges'] = []): PipelineDoc {
  return {
    format: 1,
    name: 'soup',
    seed: 5,
    nodes: [
      { id: 'data', type: 'dataset.mnist', params: { trainLimit: 200, testLimit: 100 } },
      { id: 'net', type: 'model.mlp', params: { hidden: [16] } },
      { id: 'fit-a', type: 'train', params: { epochs: 1, learningRate: 0.001 } },
      { id: 'fit-b', type: 'train', params: { epochs: 1, learningRate: 0.002 } },
      { id: 'fit-c', type: 'train', params: { epochs: 1, learningRate: 0.003 } },
      { id: 'soup', type: 'merge', params: { method: 'uniform' } },
    ],
    edges: [
      { from: 'data.dataset', to: 'net.dataset' },
      ...['a', 'b', 'c'].flatMap((name) => [
        { from: 'net.model', to: `fit-${name}.model` },
        { from: 'data.dataset', to: `fit-${name}.dataset` },
      ]),
      ...links.map((from) => ({ from: `${from}.model`, to: 'soup.models' })),
      ...extraEdges,
    ],
  };
}

describe('many-link inputs', () => {
  it('accepts several links into a multiple port and keeps them in edge order', () => {
    const { issues, pipeline } = validatePipeline(mergeDoc(['fit-c', 'fit-a', 'fit-b']), catalog);
    expect(issues).toEqual([]);
    const soup = pipeline!.nodes.find((node) => node.id === 'soup')!;
    expect(soup.inputLists.models).toEqual([
      { nodeId: 'fit-c', port: 'model' },
      { nodeId: 'fit-a', port: 'model' },
      { nodeId: 'fit-b', port: 'model' },
    ]);
    expect(soup.inputs.models).toBeUndefined();
    // The merge runs after every model it takes.
    const order = pipeline!.nodes.map((node) => node.id);
    for (const parent of ['fit-a', 'fit-b', 'fit-c'])
      expect(order.indexOf(parent)).toBeLessThan(order.indexOf('soup'));
    const planned = planPipeline(pipeline!).find((task) => task.nodeId === 'soup')!;
    expect(planned.inputLists.models!.map((link) => link.nodeId)).toEqual(['fit-c', 'fit-a', 'fit-b']);
    expect([...planned.dependsOn].sort()).toEqual(['fit-a', 'fit-b', 'fit-c']);
  });

  it('applies minLinks once the port is linked: one link is refused, none is fine for an optional port', () => {
    const one = validatePipeline(mergeDoc(['fit-a']), catalog).issues;
    expect(one).toEqual([
      expect.objectContaining({
        code: 'MISSING_INPUT',
        nodeId: 'soup',
        port: 'models',
        received: 1,
        expected: 'at least 2 model links into "soup.models"',
      }),
    ]);
    expect(one[0]!.message).toBe('Node "soup": input "models" takes at least 2 links once linked, it has 1');
    // With no `models` link at all, merge's other inputs decide (its op says what it needs).
    const none = validatePipeline(mergeDoc([]), catalog).issues;
    expect(none.filter((issue) => issue.port === 'models')).toEqual([]);
  });

  it('refuses the same link twice into a multiple port, naming the edge', () => {
    const issues = validatePipeline(mergeDoc(['fit-a', 'fit-b', 'fit-a']), catalog).issues;
    expect(issues).toEqual([
      expect.objectContaining({
        code: 'INPUT_ALREADY_CONNECTED',
        nodeId: 'soup',
        port: 'models',
        expected: 'each link once',
        received: 'fit-a.model',
        pointer: '/edges/9',
      }),
    ]);
  });

  it('still refuses a second link into a single port', () => {
    const issues = validatePipeline(
      mergeDoc(
        ['fit-a', 'fit-b'],
        [
          { from: 'fit-a.model', to: 'soup.base' },
          { from: 'fit-b.model', to: 'soup.base' },
        ],
      ),
      catalog,
    ).issues;
    expect(issues).toEqual([
      expect.objectContaining({
        code: 'INPUT_ALREADY_CONNECTED',
        nodeId: 'soup',
        port: 'base',
        expected: 'one edge per input',
        received: 'fit-b.model',
      }),
    ]);
  });

  it('fingerprints the links in order: reordering them makes another task, the same order the same one', () => {
    const fingerprint = (links: string[]): string => {
      const { pipeline } = validatePipeline(mergeDoc(links), catalog);
      return planPipeline(pipeline!).find((task) => task.nodeId === 'soup')!.fingerprint;
    };
    const abc = fingerprint(['fit-a', 'fit-b', 'fit-c']);
    expect(fingerprint(['fit-a', 'fit-b', 'fit-c'])).toBe(abc);
    expect(fingerprint(['fit-b', 'fit-a', 'fit-c'])).not.toBe(abc);
    expect(fingerprint(['fit-a', 'fit-b'])).not.toBe(abc);
    // Tasks without many-link ports keep the fingerprints they always had.
    const { pipeline } = validatePipeline(mergeDoc(['fit-a', 'fit-b']), catalog);
    const fit = planPipeline(pipeline!).find((task) => task.nodeId === 'fit-a')!;
    expect(fit.inputLists).toEqual({});
  });

  it('finds a cycle through a many-link port', () => {
    const doc = mergeDoc(['fit-a', 'fit-b']);
    doc.edges = doc.edges.filter((edge) => edge.to !== 'fit-a.model');
    doc.edges.push({ from: 'soup.model', to: 'fit-a.model' });
    const issues = validatePipeline(doc, catalog).issues;
    expect(issues.map((issue) => issue.code)).toEqual(['CYCLE']);
  });
});
