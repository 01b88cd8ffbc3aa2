/**
 * History with real workers on MNIST: "re-run from this node" (forceNodes) runs the node and
 * everything downstream again and reuses the rest; a fully reused run links every task to the run
 * that produced it and answers `runs.metrics` with that run's points; each task's figures reach the
 * runs table, and the version it made carries them labelled by split; deleting a run keeps its
 * models unless asked.
 */
import { existsSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo } from '../../preload/contract';
import { createHandlers, type Handlers } from '../../main/api/handlers';
import { ensureNoLeaks } from '../helpers/leak-check';
import { useTempApp } from '../helpers/temp-app';
import { mnistMlpPipeline } from '../helpers/pipelines';

const doc: PipelineDoc = mnistMlpPipeline({
  name: 'rerun',
  seed: 9,
  data: { trainLimit: 600, testLimit: 200, validationSplit: 0.2 },
  net: { hidden: [16] },
  fit: { epochs: 2, batchSize: 64 },
  score: { latencySamples: 5 },
});

function statusOf(run: RunInfo): Record<string, string> {
  return Object.fromEntries(run.tasks.map((task) => [task.nodeId, task.status]));
}

describe('re-running with real workers', () => {
  ensureNoLeaks();
  const temp = useTempApp({ concurrency: 2, externalPollMs: 0 });
  let handlers: Handlers;

  beforeEach(() => {
    handlers = createHandlers(temp.app);
  });

  async function run(params: Parameters<Handlers['runs.start']>[0]): Promise<RunInfo> {
    const started = await handlers['runs.start'](params);
    const finished = await temp.app.runner.waitForRun(started.id);
    expect(finished.status, JSON.stringify(finished.error)).toBe('done');
    return finished;
  }

  it('re-runs a node and what is downstream of it, reuses the rest, and links reused tasks', async () => {
    const first = await run({ doc });
    expect(statusOf(first)).toEqual({ data: 'done', net: 'done', fit: 'done', score: 'done' });

    const again = await run({ doc });
    expect(statusOf(again)).toEqual({ data: 'reused', net: 'reused', fit: 'reused', score: 'reused' });
    for (const task of again.tasks) expect(task.reusedFromRun).toBe(first.id);
    // A fully reused run shows the metrics of the run that produced them.
    const fitAgain = again.tasks.find((task) => task.nodeId === 'fit')!;
    const fitFirst = first.tasks.find((task) => task.nodeId === 'fit')!;
    const points = await handlers['runs.metrics']({ taskId: fitAgain.id, names: ['loss'] });
    expect(points.length).toBeGreaterThan(5);
    expect(points).toEqual(await handlers['runs.metrics']({ taskId: fitFirst.id, names: ['loss'] }));

    const fromFit = await run({ doc, forceNodes: ['fit'] });
    expect(statusOf(fromFit)).toEqual({ data: 'reused', net: 'reused', fit: 'done', score: 'done' });
    const fitForced = fromFit.tasks.find((task) => task.nodeId === 'fit')!;
    expect(fitForced.reusedFromRun).toBeNull();
    const summary = (await handlers['runs.summaries']({})).runs.find((entry) => entry.id === fromFit.id)!;
    expect(summary.tasks).toEqual({ total: 4, done: 2, reused: 2, failed: 0, running: 0 });

    await expect(handlers['runs.start']({ doc, forceNodes: ['nope'] })).rejects.toMatchObject({
      code: 'UNKNOWN_NODE',
      details: { nodeId: 'nope', param: 'forceNodes' },
    });
  }, 240_000);

  it('puts each task’s figures in the runs table and on its model, labelled by split', async () => {
    const first = await run({ doc });
    const { runs, sharedParams } = await handlers['runs.summaries']({});
    expect(runs).toHaveLength(1);
    expect(sharedParams).toMatchObject({
      'fit.epochs': 2,
      'fit.optimizer': 'adam',
      'data.validationSplit': 0.2,
    });
    const metrics = runs[0]!.metrics;
    expect(metrics['score.accuracy']).toBeGreaterThan(0.3);
    expect(metrics['score.loss']).toBeGreaterThan(0);
    expect(metrics['fit.val_loss']).toBeGreaterThan(0);
    // Only the metrics a node type declares: evaluate's per-class figures stay in its summary.
    expect(Object.keys(metrics).every((key) => /^(fit|score|data|net)\./.test(key))).toBe(true);

    const fit = first.tasks.find((task) => task.nodeId === 'fit')!;
    const model = await handlers['models.get']({ ref: fit.models.model! });
    const bySplit = Object.fromEntries(
      model.metricRecords.map((record) => [`${record.split}:${record.name}`, record]),
    );
    expect(bySplit['validation:val_loss']).toMatchObject({ taskId: fit.id, runId: first.id });
    expect(bySplit['train:loss']).toMatchObject({ taskId: fit.id });
    const score = first.tasks.find((task) => task.nodeId === 'score')!;
    expect(bySplit['test:accuracy']).toMatchObject({ taskId: score.id, value: metrics['score.accuracy'] });
    // `metrics` keeps its meaning: what evaluations found.
    expect(model.metrics.accuracy).toBe(metrics['score.accuracy']);
    expect(model.metrics.val_loss).toBeUndefined();
    // The lineage names the dataset each version was made from.
    const lineage = await handlers['models.lineage']({ ref: model.id });
    expect(lineage.datasets[model.id]).toMatchObject({
      port: 'dataset',
      counts: { train: 480, validation: 120 },
    });
    expect(lineage.datasets[model.id]!.name).toMatch(/MNIST/);
  }, 240_000);

  it('deletes a run and its folder, keeping its models unless asked', async () => {
    const first = await run({ doc });
    const fitModel = first.tasks.find((task) => task.nodeId === 'fit')!.models.model!;
    const kept = await handlers['runs.delete']({ runId: first.id });
    expect(kept).toEqual({ deleted: first.id, deletedModels: [], keptModels: [] });
    await expect(handlers['runs.get']({ runId: first.id })).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    expect(existsSync(first.tasks[0]!.taskDir)).toBe(false);
    expect((await handlers['models.get']({ ref: fitModel })).runId).toBe(first.id);

    const second = await run({ doc, force: true });
    const versions = Object.values(second.tasks.flatMap((task) => Object.values(task.models)));
    const gone = await handlers['runs.delete']({ runId: second.id, deleteModels: true });
    expect(gone.deletedModels.sort()).toEqual([...versions].sort());
    for (const id of versions)
      await expect(handlers['models.get']({ ref: id })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    expect((await handlers['models.get']({ ref: fitModel })).id).toBe(fitModel);
  }, 240_000);

  it('refuses to delete a run that is still running', async () => {
    const started = await handlers['runs.start']({ doc });
    await expect(handlers['runs.delete']({ runId: started.id })).rejects.toMatchObject({
      code: 'RUN_ACTIVE',
    });
    temp.app.runner.cancel(started.id);
    expect((await temp.app.runner.waitForRun(started.id)).status).toBe('cancelled');
    await handlers['runs.delete']({ runId: started.id });
  }, 120_000);
});
