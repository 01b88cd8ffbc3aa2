/**
 * Sweeps through the real runner: real worker subprocesses training a small MLP on a real MNIST
 * subset, real SQLite records. A 6-trial ASHA sweep prunes trials at its rungs exactly as a fresh
 * scheduler fed the recorded readings decides, runs two trials at once, loads its data once, and
 * points the best alias at the best trial's model.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunInfo, SweepInfo, TaskInfo, TrialInfo } from '../../preload/contract';
import { createHandlers } from '../../main/api/handlers';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { keptCheckpoints } from '../../main/jobs/kept-checkpoints';
import { AshaScheduler, resolveSweep } from '../../main/pipeline/sweep/index';
import { ensureNoLeaks } from '../helpers/leak-check';
import { sweepPipeline } from '../helpers/sweep-fixtures';
import { makeTempDir } from '../helpers/tmp';

function task(run: RunInfo, nodeId: string): TaskInfo {
  const found = run.tasks.find((candidate) => candidate.nodeId === nodeId);
  if (!found) throw new Error(`run ${run.id} has no task ${nodeId}`);
  return found;
}

/** SHA-256 of a checkpoint's weight and optimizer files: what a copy must reproduce bit for bit. */
function checkpointDigest(dir: string): Record<string, string> {
  const digest: Record<string, string> = {};
  for (const file of ['weights.bin', 'optimizer.bin', 'loop.json'])
    digest[file] = createHash('sha256')
      .update(readFileSync(join(dir, file)))
      .digest('hex');
  return digest;
}

function interval(item: { startedAt: string | null; finishedAt: string | null }): [number, number] {
  return [Date.parse(item.startedAt!), Date.parse(item.finishedAt!)];
}

async function dispatchError(
  handlers: ReturnType<typeof createHandlers>,
  params: { sweepId: string; rerunFailed?: boolean },
): Promise<{ code: string; message: string }> {
  try {
    await handlers['sweeps.resume'](params);
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('sweeps.resume did not refuse');
}

describe('sweeps through the real runner', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  let app: DistilleryApp;

  beforeEach(() => {
    tmp = makeTempDir();
    app = createApp({ dataDir: tmp.dir, concurrency: 2, cancelGraceMs: 5000 });
  });

  afterEach(() => {
    app.dispose();
    tmp.cleanup();
  });

  it('runs a 6-trial ASHA sweep: prunes at the rungs, two at once, data loaded once, best alias', async () => {
    const doc = sweepPipeline(
      {
        objective: { node: 'score', metric: 'accuracy', mode: 'max' },
        space: { 'fit.learningRate': { logUniform: [0.00003, 0.03] } },
        algorithm: 'random',
        scheduler: { type: 'asha', resource: 'fit.epochs', min: 1, max: 9, reductionFactor: 3 },
        trials: 6,
        concurrency: 2,
        seed: 3,
      },
      { trainLimit: 800, validationSplit: 0.25, batchSize: 40 },
    );
    const handlers = createHandlers(app);
    const started = await handlers['sweeps.start']({ doc });
    expect(started.status).toBe('running');
    const summary = await app.sweeps.waitForSweep(started.id);
    expect(summary.status, JSON.stringify(summary.error)).toBe('done');
    const sweep: SweepInfo = await handlers['sweeps.get']({ sweepId: started.id, curves: true });
    expect(sweep.trials).toHaveLength(6);
    const runs = new Map(sweep.trials.map((trial) => [trial.index, app.runs.getRun(trial.runId!)]));

    // Every trial ended; the pruned ones at a rung, keeping their readings and a checkpoint.
    const rungs = [1, 3];
    const pruned = sweep.trials.filter((trial) => trial.status === 'pruned');
    const done = sweep.trials.filter((trial) => trial.status === 'done');
    expect(pruned.length + done.length).toBe(6);
    expect(pruned.length).toBeGreaterThan(0);
    for (const trial of pruned) {
      expect(rungs).toContain(trial.stopped!.rung);
      expect(trial.objective).toBeNull();
      // Stopped at its rung: the epochs it finished are the rung's (the cancel lands within a step).
      expect(trial.epochsTrained).toBe(trial.stopped!.rung);
      const epochs = Array.from({ length: trial.stopped!.rung }, (_, i) => i + 1);
      expect(trial.curve!.map((point) => point.resource)).toEqual(epochs);
      const fit = task(runs.get(trial.index)!, 'fit');
      expect(fit.status).toBe('cancelled');
      expect(fit.checkpoint).not.toBeNull();
      expect(app.runs.getMetrics(fit.id, { names: ['val_accuracy'] }).length).toBeGreaterThanOrEqual(
        trial.stopped!.rung,
      );
    }
    for (const trial of done) {
      expect(trial.epochs).toBe(9);
      expect(trial.epochsTrained).toBe(9);
      expect(typeof trial.objective).toBe('number');
      expect(trial.curve!.map((point) => point.resource)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }

    // The decisions are those of a fresh ASHA scheduler fed the readings in their recorded order.
    const resolved = resolveSweep(doc.sweep, doc, app.catalog).sweep!;
    expect(resolved.scheduler.type).toBe('asha');
    const replay = new AshaScheduler({
      min: 1,
      max: 9,
      reductionFactor: 3,
      mode: 'max',
      metric: 'val_accuracy',
    });
    const stoppedAt = new Map<number, number>();
    for (const event of app.sweepStore.events(sweep.id)) {
      if (event.kind !== 'result') continue;
      const decision = replay.onResult(event.trial, event.resource!, event.value!);
      if (decision.kind === 'stop' && !stoppedAt.has(event.trial)) stoppedAt.set(event.trial, decision.rung);
    }
    expect(Object.fromEntries(stoppedAt)).toEqual(
      Object.fromEntries(pruned.map((trial) => [trial.index, trial.stopped!.rung])),
    );

    // The dataset and the initial model were made once, by the first trial, and reused by the rest.
    const first = runs.get(0)!;
    expect(task(first, 'data').status).toBe('done');
    expect(task(first, 'net').status).toBe('done');
    for (const [index, run] of runs) {
      if (index === 0) continue;
      expect(task(run, 'data').status, `trial ${index}`).toBe('reused');
      expect(task(run, 'data').reusedFrom).toBe(task(first, 'data').id);
      expect(task(run, 'net').status).toBe('reused');
    }

    // Two trials trained at once: some pair of fit tasks overlaps in time.
    const fits = [...runs.values()].map((run) => interval(task(run, 'fit')));
    const overlapping = fits.some(([start, end], i) =>
      fits.some(([otherStart, otherEnd], j) => i !== j && start < otherEnd && otherStart < end),
    );
    expect(overlapping).toBe(true);

    // The best trial is the best finished one, and its model is one step away through the alias.
    const best = done.reduce((a, b) => (b.objective! > a.objective! ? b : a));
    expect(sweep.best).toMatchObject({ trial: best.index, objective: best.objective, runId: best.runId });
    const model = await handlers['models.get']({ ref: `sweep-mlp/fit@${sweep.best!.alias}` });
    expect(model.runId).toBe(best.runId);
    expect(model.meta.sweep).toEqual({ id: sweep.id, trial: best.index, alias: sweep.best!.alias });
    expect(sweep.best!.models['fit.model']).toBe(model.id);

    // `sweeps.list` shows it with its counts.
    const listed = await handlers['sweeps.list']({});
    expect(listed.map((item) => item.id)).toEqual([sweep.id]);
    expect(listed[0]!.counts).toMatchObject({ done: done.length, pruned: pruned.length });
    const statuses = new Set<TrialInfo['status']>(sweep.trials.map((trial) => trial.status));
    expect([...statuses].every((status) => status === 'done' || status === 'pruned')).toBe(true);
  }, 300_000);

  it("PBT: an exploit continues from a bit-exact copy of the better trial's checkpoint", async () => {
    const doc = sweepPipeline(
      {
        objective: { node: 'score', metric: 'accuracy', mode: 'max' },
        space: { 'fit.learningRate': { logUniform: [0.00002, 0.02] } },
        algorithm: 'random',
        scheduler: { type: 'pbt', resource: 'fit.epochs', interval: 1, max: 3, quantile: 0.5 },
        trials: 4,
        concurrency: 2,
        seed: 5,
      },
      { trainLimit: 800, validationSplit: 0.25, batchSize: 40 },
    );
    const sweepsDir = join(tmp.dir, 'sweeps');
    // Taken at the moment of each exploit: the kept source checkpoint, and then the copy in the
    // exploiting run's task folder as that run starts (before its worker has loaded anything).
    const sources = new Map<string, { path: string; digest: Record<string, string> }>();
    const starts = new Map<string, { path: string; step: number; digest: Record<string, string> }>();
    let sweepId = '';
    const subscription = app.sweeps.onDidChangeTrial((trial) => {
      const exploit = trial.exploits.at(-1);
      if (!exploit) return;
      const key = `${trial.index}:${trial.exploits.length}`;
      if (trial.status === 'queued' && !sources.has(key)) {
        const kept = keptCheckpoints(sweepsDir, sweepId).find(
          (entry) => entry.trial === exploit.from && entry.resource === exploit.atResource,
        );
        expect(kept, `trial ${exploit.from}'s checkpoint at ${exploit.atResource} is kept`).toBeDefined();
        sources.set(key, { path: kept!.path, digest: checkpointDigest(kept!.path) });
      }
      if (trial.status === 'running' && exploit.runId === trial.runId && !starts.has(key)) {
        const fit = task(app.runs.getRun(trial.runId!), 'fit');
        starts.set(key, { ...fit.checkpoint!, digest: checkpointDigest(fit.checkpoint!.path) });
      }
    });
    const started = app.sweeps.start(doc);
    sweepId = started.id;
    const summary = await app.sweeps.waitForSweep(sweepId);
    subscription.dispose();
    expect(summary.status, JSON.stringify(summary.error)).toBe('done');
    const sweep = app.sweepStore.getSweep(sweepId);
    expect(sweep.trials.map((trial) => trial.status)).toEqual(['done', 'done', 'done', 'done']);

    const exploits = sweep.trials.flatMap((trial) =>
      trial.exploits.map((exploit, i) => ({ trial, exploit, i })),
    );
    expect(exploits.length).toBeGreaterThan(0);
    expect(starts.size).toBe(exploits.length);
    for (const { trial, exploit, i } of exploits) {
      const key = `${trial.index}:${i + 1}`;
      const source = sources.get(key)!;
      const start = starts.get(key)!;
      // Weights, optimizer state and loop state, bit for bit.
      expect(start.digest).toEqual(source.digest);
      expect(start.path).not.toBe(source.path);
      // The exploiting run's worker loaded exactly that copy and went on from its step.
      const run = app.runs.getRun(exploit.runId!);
      const fit = task(run, 'fit');
      const logs = app.runs.getLogs(fit.id).map((line) => line.message);
      expect(
        logs.some((message) => message.startsWith(`Resumed from ${start.path}: step ${start.step}/`)),
      ).toBe(true);
      // A run that went on to its end says so in its summary too (others were paused at a segment's end).
      if (fit.status === 'done') expect(fit.summary!.resumedFromStep).toBe(start.step);
      // The explored params are what that run trained with.
      expect(exploit.before).not.toEqual(exploit.after);
      expect(run.pipeline.nodes.find((node) => node.id === 'fit')!.params.learningRate).toBe(
        exploit.after['fit.learningRate'],
      );
      expect(exploit.from).not.toBe(trial.index);
      expect(exploit.atResource).toBeGreaterThanOrEqual(1);
    }
    // A trial's params are those of its last exploit; its runs are one per segment it ran.
    for (const trial of sweep.trials) {
      if (trial.exploits.length > 0) expect(trial.params).toEqual(trial.exploits.at(-1)!.after);
      expect(trial.runs.at(-1)).toBe(trial.runId);
      expect(trial.epochs).toBe(3);
    }
    // Nothing is kept once no exploit can need it.
    expect(keptCheckpoints(sweepsDir, sweepId)).toEqual([]);
  }, 400_000);

  it('records a trial whose values break a node check as failed, and reruns it only when asked', async () => {
    // minLearningRate 0.004 refuses every trial whose learningRate is below it.
    const doc = sweepPipeline(
      {
        objective: { node: 'score', metric: 'accuracy', mode: 'max' },
        space: { 'fit.learningRate': { grid: [0.001, 0.005] } },
        algorithm: 'grid',
      },
      {
        trainLimit: 300,
        validationSplit: 0.2,
        epochs: 1,
        fit: { learningRate: 0.005, minLearningRate: 0.004 },
      },
    );
    const handlers = createHandlers(app);
    const started = await handlers['sweeps.start']({ doc });
    const summary = await app.sweeps.waitForSweep(started.id);
    expect(summary.status).toBe('done');
    let sweep = await handlers['sweeps.get']({ sweepId: started.id });
    const [invalid, valid] = sweep.trials;
    expect(invalid).toMatchObject({ status: 'failed', runId: null, objective: null });
    expect(invalid!.error).toMatchObject({ code: 'TRIAL_INVALID' });
    const issues = (invalid!.error!.details as { issues: Array<Record<string, unknown>> }).issues;
    expect(issues).toEqual([
      expect.objectContaining({ code: 'PARAM_INVALID', nodeId: 'fit', param: 'minLearningRate' }),
    ]);
    expect(valid).toMatchObject({ status: 'done' });

    // Resume is not a rerun: a done sweep resumes only to rerun its failed trials.
    const refused = await dispatchError(handlers, { sweepId: started.id });
    expect(refused.code).toBe('SWEEP_NOT_RESUMABLE');
    expect(refused.message).toContain('--rerun-failed');
    const finishedBefore = valid!.finishedAt;
    await handlers['sweeps.resume']({ sweepId: started.id, rerunFailed: true });
    await app.sweeps.waitForSweep(started.id);
    sweep = await handlers['sweeps.get']({ sweepId: started.id });
    // Tried again (and refused again: its values are what they are); the finished trial untouched.
    expect(sweep.trials[0]).toMatchObject({ status: 'failed', error: { code: 'TRIAL_INVALID' } });
    expect(sweep.trials[0]!.finishedAt! >= invalid!.finishedAt!).toBe(true);
    expect(sweep.trials[1]).toMatchObject({
      status: 'done',
      runId: valid!.runId,
      finishedAt: finishedBefore,
    });
    const adds = app.sweepStore
      .events(started.id)
      .filter((event) => event.kind === 'add' && event.trial === 0);
    expect(adds).toHaveLength(2);
  }, 120_000);
});
