/**
 * Sweeps through the `distillery` CLI as a real subprocess: `run FILE` on a pipeline with a sweep
 * block, SIGKILLed in the middle of a trial, then `sweeps resume`: the trials that had finished are
 * kept as they were, the one that was running continues its own run from its checkpoint, the
 * scheduler decides as a fresh one fed the recorded readings would, and every configuration is
 * the one the sampler proposes from the trials recorded as seen. The `sweeps` verbs' `--json`
 * carries the contract's field names. Every problem of a sweep block is refused with its code by
 * `distillery validate`, `distillery run` and the `runs.start` / `sweeps.start` methods.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  PipelineDoc,
  RunInfo,
  SweepInfo,
  SweepSpec,
  SweepSummary,
  ValidationIssue,
} from '../../preload/contract';
import { createHandlers, dispatch } from '../../main/api/handlers';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { createDefaultCatalog } from '../../main/nodes/index';
import {
  createSampler,
  HyperbandScheduler,
  resolveSweep,
  type TrialObservation,
} from '../../main/pipeline/sweep/index';
import { openDatabase } from '../../main/registry/db';
import { SqliteSweepStore } from '../../main/registry/sweep-store';
import { cliJson, runCli } from '../helpers/cli';
import { ensureNoLeaks } from '../helpers/leak-check';
import { sweepPipeline } from '../helpers/sweep-fixtures';
import { makeTempDir } from '../helpers/tmp';

const STEPS_PER_EPOCH = 30;

/**
 * Hyperband with max 3, η 3: bracket s = 1 (trials 0–2) judges at epoch 1, bracket s = 0 (trials
 * 3–4) runs every trial to epoch 3, so trial 3 is sure to train past epoch 2, where it is killed.
 */
const KILL_SWEEP: SweepSpec = {
  objective: { node: 'score', metric: 'accuracy', mode: 'max' },
  space: { 'fit.learningRate': { logUniform: [0.0001, 0.01] } },
  algorithm: 'random',
  scheduler: { type: 'hyperband', resource: 'fit.epochs', min: 1, max: 3, reductionFactor: 3 },
  trials: 5,
  concurrency: 1,
  seed: 11,
};

describe('sweeps through the CLI', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    tmp = makeTempDir();
  });

  afterEach(() => {
    tmp.cleanup();
  });

  it('kill -9 of `run` in mid-trial, then `sweeps resume` finishes it without re-running finished trials', async () => {
    const doc = sweepPipeline(KILL_SWEEP, {
      name: 'sweep-kill',
      trainLimit: 1200,
      validationSplit: 0.25,
      batchSize: 900 / STEPS_PER_EPOCH,
    });
    const file = join(tmp.dir, 'sweep-kill.distillery.json');
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const dataDir = join(tmp.dir, 'data');

    let sweepId = '';
    let stderr = '';
    const cli = runCli(['run', file], {
      dataDir,
      onStderr: (text) => {
        stderr += text;
        sweepId ||= /Sweep (s\S+) \(/.exec(stderr)?.[1] ?? '';
        // Trial 3's second epoch reading: its epoch-1 checkpoint is recorded, and it has more to train.
        if (/\[trial 3\] epoch 2:/.test(stderr)) process.kill(cli.pid()!, 'SIGKILL');
      },
    });
    const killed = await cli;
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(sweepId).not.toBe('');

    // The next process to look settles the sweep as interrupted; trial 3 is resumable.
    const { json: interrupted } = await cliJson<SweepInfo>(['sweeps', 'show', sweepId], dataDir);
    expect(interrupted.status).toBe('failed');
    expect(interrupted.error?.code).toBe('SWEEP_INTERRUPTED');
    expect(interrupted.trials.map((trial) => trial.index)).toEqual([0, 1, 2, 3]);
    expect(interrupted.trials[3]!.status).toBe('cancelled');
    const before = interrupted.trials.slice(0, 3);
    for (const trial of before) expect(['done', 'pruned']).toContain(trial.status);
    const { json: listed } = await cliJson<SweepSummary[]>(['sweeps', 'list'], dataDir);
    expect(listed).toEqual([expect.objectContaining({ id: sweepId, status: 'failed', trialCount: 5 })]);

    const resumed = await cliJson<SweepInfo>(['sweeps', 'resume', sweepId], dataDir);
    expect(resumed.code, resumed.stderr).toBe(0);
    const sweep = resumed.json;
    expect(sweep.status).toBe('done');
    expect(sweep.trials).toHaveLength(5);

    // The contract's names.
    for (const trial of sweep.trials) {
      expect(Object.keys(trial)).toEqual(
        expect.arrayContaining(['params', 'status', 'objective', 'epochs', 'runId']),
      );
      expect(['done', 'pruned']).toContain(trial.status);
      expect(trial.objective === null || typeof trial.objective === 'number').toBe(true);
    }

    // Finished trials were kept as they were: same run, same result, never run again.
    for (const trial of before) {
      const after = sweep.trials[trial.index]!;
      expect(after).toMatchObject({
        status: trial.status,
        runId: trial.runId,
        runs: [trial.runId],
        objective: trial.objective,
        finishedAt: trial.finishedAt,
      });
    }

    // Trial 3 continued its own run from the checkpoint it had written before the kill.
    const third = sweep.trials[3]!;
    expect(third.runs).toEqual([interrupted.trials[3]!.runId]);
    expect(third.status).toBe('done');
    expect(third.epochs).toBe(3);
    const { json: run } = await cliJson<RunInfo>(['runs', 'show', third.runId!], dataDir);
    const fit = run.tasks.find((task) => task.nodeId === 'fit')!;
    expect(fit.attempt).toBe(2);
    expect(fit.summary!.resumedFromStep as number).toBeGreaterThanOrEqual(STEPS_PER_EPOCH);

    // Every configuration is what the sampler proposes from the trials its proposal saw, and
    // every stop is what a fresh scheduler fed the recorded readings decides.
    const db = openDatabase(join(dataDir, 'registry.sqlite'));
    try {
      const store = new SqliteSweepStore(db);
      const resolved = resolveSweep(doc.sweep, doc, createDefaultCatalog()).sweep!;
      const sampler = createSampler(resolved);
      const records = store.trialRecords(sweepId);
      for (const record of records) {
        const observations: TrialObservation[] = record.observed.map((index) => {
          const seen = records[index]!;
          return {
            index,
            params: seen.params,
            objective: seen.status === 'done' ? seen.objective : null,
            ...(seen.status === 'pruned' && seen.lastResult ? { intermediate: seen.lastResult } : {}),
          };
        });
        expect(record.params, `trial ${record.index}`).toEqual(sampler.propose(record.index, observations));
      }
      const scheduler = new HyperbandScheduler({
        min: 1,
        max: 3,
        reductionFactor: 3,
        mode: 'max',
        trials: 5,
        metric: 'val_accuracy',
      });
      const stopped = new Set<number>();
      for (const event of store.events(sweepId))
        if (
          event.kind === 'result' &&
          scheduler.onResult(event.trial, event.resource!, event.value!).kind === 'stop'
        )
          stopped.add(event.trial);
      expect([...stopped].sort()).toEqual(
        sweep.trials.filter((trial) => trial.status === 'pruned').map((trial) => trial.index),
      );
      // Trials 3 and 4 are in the bracket that stops nobody.
      expect(stopped.has(3) || stopped.has(4)).toBe(false);
    } finally {
      db.close();
    }

    // The best trial's fit model is one step away.
    const { json: model } = await cliJson<{ runId: string }>(
      ['models', 'show', `sweep-kill/fit@${sweep.best!.alias}`],
      dataDir,
    );
    expect(model.runId).toBe(sweep.best!.runId);
    const { json: table } = await cliJson<SweepInfo>(['sweeps', 'show', sweepId], dataDir);
    expect(table.trials.map((trial) => trial.index)).toEqual([0, 1, 2, 3, 4]);
    const text = await runCli(['sweeps', 'show', sweepId], { dataDir });
    // Best first: the best trial's row is the first of the table.
    const rows = text.stdout.split('\n').filter((line) => /^\d+\s+(done|pruned)/.test(line));
    expect(rows[0]!.split(/\s+/)[0]).toBe(String(sweep.best!.trial));
  }, 600_000);
});

describe('cancelling a sweep through the CLI', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    tmp = makeTempDir();
  });

  afterEach(() => {
    tmp.cleanup();
  });

  it('Ctrl+C cancels `run` resumably; `sweeps cancel` from another process stops `sweeps resume`', async () => {
    const doc = sweepPipeline(
      {
        objective: { node: 'score', metric: 'accuracy', mode: 'max' },
        space: { 'fit.learningRate': { logUniform: [0.0001, 0.01] } },
        algorithm: 'random',
        scheduler: { type: 'asha', resource: 'fit.epochs', min: 1, max: 4, reductionFactor: 4 },
        trials: 3,
        concurrency: 1,
        seed: 4,
      },
      { name: 'sweep-cancel', trainLimit: 600, validationSplit: 0.25, batchSize: 15 },
    );
    const file = join(tmp.dir, 'sweep-cancel.distillery.json');
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const dataDir = join(tmp.dir, 'data');

    // Ctrl+C once the first trial has a reading: it checkpoints and stops, the sweep is cancelled.
    let stderr = '';
    let interrupted = false;
    const run = runCli(['run', file], {
      dataDir,
      onStderr: (text) => {
        stderr += text;
        if (!interrupted && /\[trial 0\] epoch 1:/.test(stderr)) {
          interrupted = true;
          process.kill(run.pid()!, 'SIGINT');
        }
      },
    });
    const cancelled = await run;
    expect(cancelled.code, cancelled.stderr).toBe(130);
    const sweepId = /Sweep (s\S+) \(/.exec(cancelled.stderr)![1]!;
    expect(cancelled.stdout).toContain(`Resume with: distillery sweeps resume ${sweepId}`);
    const { json: afterInterrupt } = await cliJson<SweepInfo>(['sweeps', 'show', sweepId], dataDir);
    expect(afterInterrupt.status).toBe('cancelled');
    expect(afterInterrupt.trials[0]!.status).toBe('cancelled');
    const again = await cliJson<{ error: { code: string } }>(['sweeps', 'cancel', sweepId], dataDir);
    expect(again.code).toBe(2);
    expect(again.json.error.code).toBe('SWEEP_ALREADY_FINISHED');

    // `sweeps resume` follows the sweep; `sweeps cancel` from a second process stops it.
    let resumeErr = '';
    let asked: Promise<unknown> | undefined;
    const resume = runCli(['sweeps', 'resume', sweepId], {
      dataDir,
      onStderr: (text) => {
        resumeErr += text;
        if (!asked && /\[trial \d\] epoch \d:/.test(resumeErr))
          asked = cliJson<SweepInfo>(['sweeps', 'cancel', sweepId], dataDir);
      },
    });
    const stopped = await resume;
    expect(stopped.code, stopped.stderr).toBe(130);
    const request = (await asked) as { code: number; json: SweepInfo };
    expect(request.code).toBe(0);
    expect(request.json.status).toBe('running');
    const { json: afterCancel } = await cliJson<SweepInfo>(['sweeps', 'show', sweepId], dataDir);
    expect(afterCancel.status).toBe('cancelled');
    // The trial that was running when Ctrl+C came continued its own run, not a new one.
    expect(afterCancel.trials[0]!.runs).toEqual(afterInterrupt.trials[0]!.runs);

    const finished = await cliJson<SweepInfo>(['sweeps', 'resume', sweepId], dataDir);
    expect(finished.code, finished.stderr).toBe(0);
    expect(finished.json.status).toBe('done');
    expect(finished.json.trials).toHaveLength(3);
    expect(finished.json.trials.every((trial) => trial.status === 'done' || trial.status === 'pruned')).toBe(
      true,
    );
    expect(finished.json.trials[0]!.runs).toEqual(afterInterrupt.trials[0]!.runs);
  }, 600_000);
});

/** Every sweep problem at once: one per code, each naming its place in the block. */
function brokenSweep(): Record<string, unknown> {
  return {
    objective: { node: 'nope', metric: 'accuracy', mode: 'max' },
    space: {
      'fit.nothing': { uniform: [0, 1] },
      'fit.optimizer': { uniform: [0, 1] },
      'fit.learningRate': { logUniform: [0.001, 50] },
      'fit.momentum': { uniform: [0.5, 0.9], when: { 'ghost.param': 'x' } },
    },
    scheduler: { type: 'asha', resource: 'fit.epochs', min: 5, max: 3 },
    trials: 0,
    budget: 3,
  };
}

const BROKEN_CODES = [
  'SWEEP_OBJECTIVE',
  'SWEEP_UNKNOWN_PARAM',
  'SWEEP_PARAM_KIND',
  'SWEEP_RANGE',
  'SWEEP_CONDITION',
  'SWEEP_SCHEDULER',
  'SWEEP_INVALID',
  'UNKNOWN_FIELD',
];

/** A valid block whose scheduler needs a validation split the pipeline does not have. */
function noValidation(): PipelineDoc {
  return sweepPipeline(
    {
      objective: { node: 'score', metric: 'accuracy', mode: 'max' },
      space: { 'fit.learningRate': { logUniform: [0.0001, 0.01] } },
      scheduler: { type: 'asha', resource: 'fit.epochs', max: 9 },
      trials: 4,
    },
    { validationSplit: 0 },
  );
}

function codes(issues: ValidationIssue[]): string[] {
  return [...new Set(issues.map((issue) => issue.code))].sort();
}

describe('sweep validation through the CLI and the API', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  let app: DistilleryApp;

  beforeEach(() => {
    tmp = makeTempDir();
    app = createApp({ dataDir: join(tmp.dir, 'data') });
  });

  afterEach(() => {
    app.dispose();
    tmp.cleanup();
  });

  it('refuses every problem of a sweep block, with its code and place, in validate, run and the API', async () => {
    const broken = { ...sweepPipeline(KILL_SWEEP), sweep: brokenSweep() };
    const file = join(tmp.dir, 'broken.distillery.json');
    writeFileSync(file, JSON.stringify(broken, null, 2));
    const dataDir = join(tmp.dir, 'cli-data');

    const validated = await cliJson<{ valid: boolean; issues: ValidationIssue[] }>(
      ['validate', file],
      dataDir,
    );
    expect(validated.code).toBe(2);
    expect(validated.json.valid).toBe(false);
    expect(codes(validated.json.issues)).toEqual([...BROKEN_CODES].sort());
    for (const issue of validated.json.issues) {
      expect(issue.pointer!.startsWith('/sweep'), issue.message).toBe(true);
      expect(issue.file).toBe(file);
      expect(issue.message.length).toBeGreaterThan(0);
    }
    const byCode = (code: string) => validated.json.issues.find((issue) => issue.code === code)!;
    expect(byCode('SWEEP_UNKNOWN_PARAM')).toMatchObject({ pointer: '/sweep/space/fit.nothing' });
    expect(byCode('SWEEP_PARAM_KIND')).toMatchObject({ nodeId: 'fit', param: 'optimizer' });
    expect(byCode('SWEEP_RANGE')).toMatchObject({ nodeId: 'fit', param: 'learningRate' });
    expect(byCode('SWEEP_OBJECTIVE')).toMatchObject({ pointer: '/sweep/objective/node', received: 'nope' });
    expect(byCode('UNKNOWN_FIELD')).toMatchObject({ pointer: '/sweep/budget' });

    // `run` refuses the file before anything runs, with the same issues.
    const run = await runCli(['run', file], { dataDir });
    expect(run.code).toBe(2);
    for (const code of BROKEN_CODES) expect(run.stderr).toContain(`[${code}]`);

    // The API refuses it too, with every issue in the error's details.
    const handlers = createHandlers(app);
    for (const method of ['runs.start', 'sweeps.start'] as const) {
      const answer = await dispatch(handlers, method, { doc: broken });
      expect(answer.ok, method).toBe(false);
      if (answer.ok) continue;
      const issues = answer.error.details!.issues as ValidationIssue[];
      expect(codes(issues), method).toEqual([...BROKEN_CODES].sort());
    }
    const issues = await handlers['pipelines.validate']({ doc: noValidation() });
    expect(issues).toEqual([
      expect.objectContaining({ code: 'SWEEP_NO_VALIDATION', nodeId: 'fit', pointer: '/sweep/scheduler' }),
    ]);
    const answer = await dispatch(handlers, 'sweeps.start', { doc: noValidation() });
    expect(answer.ok).toBe(false);
    if (!answer.ok) expect(answer.error.code).toBe('SWEEP_NO_VALIDATION');
    // A pipeline without a sweep block is not a sweep.
    const plain = noValidation();
    delete plain.sweep;
    const refused = await dispatch(handlers, 'sweeps.start', { doc: plain });
    expect(refused.ok).toBe(false);
    if (!refused.ok)
      expect(refused.error).toMatchObject({ code: 'SWEEP_INVALID', details: { pointer: '/sweep' } });
    // Nothing was recorded.
    expect(app.sweepStore.listSweeps()).toEqual([]);
    expect(app.runs.listRuns()).toEqual([]);
  }, 120_000);
});
