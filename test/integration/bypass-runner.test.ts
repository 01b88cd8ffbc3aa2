/**
 * A bypassed node through the real runner: it gets no task, the evaluate behind it scores the model
 * it would have pruned, and the pipeline drawn without it reuses every task of that run.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo } from '../../preload/contract';
import { createHandlers, type Handlers } from '../../main/api/handlers';
import { ensureNoLeaks } from '../helpers/leak-check';
import { mnistMlpPipeline } from '../helpers/pipelines';
import { useTempApp } from '../helpers/temp-app';

/** data → net → fit → prune → score, with prune bypassed when asked. */
function withPrune(bypass: boolean): PipelineDoc {
  const doc = mnistMlpPipeline({
    name: 'bypass',
    seed: 3,
    data: { trainLimit: 600, testLimit: 200 },
    net: { hidden: [16] },
    fit: { epochs: 1, batchSize: 64 },
    score: { latencySamples: 0 },
  });
  doc.nodes.push({ id: 'prune', type: 'prune', params: { sparsity: 0.5, epochs: 1 }, bypass });
  doc.edges = doc.edges.map((edge) => (edge.to === 'score.model' ? { ...edge, from: 'prune.model' } : edge));
  doc.edges.push({ from: 'fit.model', to: 'prune.model' }, { from: 'data.dataset', to: 'prune.dataset' });
  return doc;
}

describe('a bypassed node in a run', () => {
  ensureNoLeaks();
  const temp = useTempApp({ concurrency: 2, externalPollMs: 0 });
  let handlers: Handlers;

  beforeEach(() => {
    handlers = createHandlers(temp.app);
  });

  async function run(doc: PipelineDoc): Promise<RunInfo> {
    const started = await handlers['runs.start']({ doc });
    const finished = await temp.app.runner.waitForRun(started.id);
    expect(finished.status, JSON.stringify(finished.error)).toBe('done');
    return finished;
  }

  it('runs without it, scores the model it would have taken, and matches the graph drawn past it', async () => {
    const bypassed = await run(withPrune(true));
    expect(bypassed.tasks.map((task) => task.nodeId).sort()).toEqual(['data', 'fit', 'net', 'score']);
    const score = bypassed.tasks.find((task) => task.nodeId === 'score')!;
    expect(score.status).toBe('done');
    expect(score.summary?.accuracy).toEqual(expect.any(Number));

    // Drawn with the edge past prune, every task is the same task: all of them are reused.
    const drawnPast = mnistMlpPipeline({
      name: 'bypass',
      seed: 3,
      data: { trainLimit: 600, testLimit: 200 },
      net: { hidden: [16] },
      fit: { epochs: 1, batchSize: 64 },
      score: { latencySamples: 0 },
    });
    const again = await run(drawnPast);
    expect(Object.fromEntries(again.tasks.map((task) => [task.nodeId, task.status]))).toEqual({
      data: 'reused',
      net: 'reused',
      fit: 'reused',
      score: 'reused',
    });

    // Not bypassed, prune runs and the evaluate scores its output instead.
    const pruned = await run(withPrune(false));
    expect(pruned.tasks.find((task) => task.nodeId === 'prune')!.status).toBe('done');
    expect(pruned.tasks.find((task) => task.nodeId === 'score')!.status).toBe('done');
  }, 240_000);
});
