/**
 * A merge node's many-link `models` input through the real runner: two models trained on real
 * MNIST in their own tasks are merged by weight in link order, and the merged version's lineage has
 * one edge to every parent, carrying how that parent entered the merge.
 */
import { describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { ensureNoLeaks } from '../helpers/leak-check';
import { useTempApp } from '../helpers/temp-app';

function soupDoc(order: Array<'fit-a' | 'fit-b'>): PipelineDoc {
  return {
    format: 1,
    name: 'soup',
    seed: 17,
    nodes: [
      {
        id: 'data',
        type: 'dataset.mnist',
        params: { trainLimit: 600, testLimit: 200, validationSplit: 0.1 },
      },
      { id: 'net', type: 'model.mlp', params: { hidden: [24] } },
      { id: 'fit-a', type: 'train', params: { epochs: 1, batchSize: 50, learningRate: 0.002 } },
      { id: 'fit-b', type: 'train', params: { epochs: 1, batchSize: 50, learningRate: 0.004 } },
      { id: 'mix', type: 'merge', params: { method: 'weighted', weights: [1, 3] } },
    ],
    edges: [
      { from: 'data.dataset', to: 'net.dataset' },
      { from: 'net.model', to: 'fit-a.model' },
      { from: 'data.dataset', to: 'fit-a.dataset' },
      { from: 'net.model', to: 'fit-b.model' },
      { from: 'data.dataset', to: 'fit-b.dataset' },
      ...order.map((from) => ({ from: `${from}.model`, to: 'mix.models' })),
      { from: 'data.dataset', to: 'mix.dataset' },
    ],
  };
}

describe('merge through the runner', () => {
  ensureNoLeaks();
  const temp = useTempApp({ concurrency: 2 });

  it('merges the linked models in link order and records a lineage edge to every parent', async () => {
    const run = await temp.app.runner.waitForRun(temp.app.runner.start(soupDoc(['fit-b', 'fit-a'])).id);
    expect(run.status, JSON.stringify(run.error)).toBe('done');
    const model = (nodeId: string) => run.tasks.find((task) => task.nodeId === nodeId)!.models.model!;
    const merged = model('mix');
    const lineage = temp.app.registry.lineage(merged);
    const edges = lineage.edges.filter((edge) => edge.childId === merged);
    const byParent = new Map(edges.map((edge) => [edge.parentId, edge]));
    expect([...byParent.keys()].sort()).toEqual([model('fit-a'), model('fit-b')].sort());
    // fit-b is the first link: it takes weight 1 of 4, fit-a weight 3 of 4.
    expect(byParent.get(model('fit-b'))).toMatchObject({
      operation: 'merge',
      params: { method: 'weighted', coefficient: 0.25, port: 'models', link: 0 },
    });
    expect(byParent.get(model('fit-a'))).toMatchObject({
      operation: 'merge',
      params: { method: 'weighted', coefficient: 0.75, port: 'models', link: 1 },
    });
    const meta = temp.app.registry.resolve(merged).meta as {
      merge?: { parents?: Array<{ versionId: string }> };
    };
    expect(meta.merge?.parents?.map((parent) => parent.versionId)).toEqual([model('fit-b'), model('fit-a')]);

    // The other order is another task: it is not reused, and its weights go the other way.
    const swapped = await temp.app.runner.waitForRun(temp.app.runner.start(soupDoc(['fit-a', 'fit-b'])).id);
    expect(swapped.status).toBe('done');
    const mix = swapped.tasks.find((task) => task.nodeId === 'mix')!;
    expect(mix.status).toBe('done');
    expect(swapped.tasks.find((task) => task.nodeId === 'fit-a')!.status).toBe('reused');
    const reversed = temp.app.registry.lineage(mix.models.model!).edges;
    expect(
      reversed.find((edge) => edge.childId === mix.models.model && edge.parentId === model('fit-a')),
    ).toMatchObject({
      params: { coefficient: 0.25, link: 0 },
    });
  }, 180_000);
});
