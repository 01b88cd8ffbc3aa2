/**
 * The SLURM executor against a real single-node cluster (test/cluster/slurm.sh): real MNIST
 * pipelines whose every task is a batch job running the real worker, with its events read from
 * the task folder. A pipeline runs to the same accuracy and weights as locally, with its jobs in
 * squeue; a 4-trial sweep runs 2 trials at once; `distillery cancel` then resume ends with the same
 * weights; a job killed or cancelled outside Distillery fails its task with its metrics and
 * checkpoint kept; a requeued job continues from its checkpoint; and bad input (no SLURM, a
 * partition that does not exist, an sbatch refusal, a job that never starts) fails the task with
 * SLURM's message, losing nothing. Skipped, saying why, only where SLURM is not installed; the
 * "no SLURM installed" case runs everywhere.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo, TaskInfo } from '../../preload/contract';
import { createHandlers } from '../../main/api/handlers';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { waitFor } from '../../main/base/event';
import { SlurmClient } from '../../main/jobs/executors/slurm-client';
import { metricsFilePath, readMetricsFile } from '../../main/jobs/metrics-file';
import { cliJson, runCli } from '../helpers/cli';
import { ensureNoLeaks } from '../helpers/leak-check';
import { sweepPipeline } from '../helpers/sweep-fixtures';
import { makeTempDir } from '../helpers/tmp';
import { mnistMlpPipeline } from '../helpers/pipelines';
import { onPath, pollingEvery, startCluster } from '../helpers/slurm-cluster';

const slurmInstalled = onPath('sbatch');
if (!slurmInstalled) {
  console.warn(
    "slurm-executor.test.ts: the cluster tests are skipped: SLURM is not installed here (no sbatch on PATH). Install Debian's slurm-wlm and munge; the suite starts the cluster itself with test/cluster/slurm.sh start.",
  );
}

/** data → net → fit → score on a real MNIST subset; `fit` takes `train` over its defaults. */
function mnistDoc(
  name: string,
  train: Record<string, unknown> = {},
  extra: Pick<PipelineDoc, 'executor'> = {},
): PipelineDoc {
  return mnistMlpPipeline({
    name,
    seed: 29,
    data: { trainLimit: 1000, testLimit: 300 },
    net: { hidden: [48] },
    fit: { epochs: 2, batchSize: 50, optimizer: 'adam', ...train },
    score: { latencySamples: 0 },
    ...extra,
  });
}

/** A training long enough to be caught mid-way, with a checkpoint every 10 steps. */
const LONG_TRAIN = { epochs: 6, batchSize: 20, checkpointEvery: 10 };
const LONG_DATA = { trainLimit: 2400, testLimit: 300 };

function longDoc(name: string): PipelineDoc {
  const doc = mnistDoc(name, LONG_TRAIN);
  doc.nodes[0]!.params = LONG_DATA;
  doc.nodes[1]!.params = { hidden: [256, 128] };
  return doc;
}

const until = pollingEvery(200);

function task(run: RunInfo, nodeId: string): TaskInfo {
  return run.tasks.find((candidate) => candidate.nodeId === nodeId)!;
}

/** The fit task's saved model files, by name. */
function modelFiles(run: RunInfo, nodeId: string): Record<string, Buffer> {
  const dir = join(task(run, nodeId).taskDir, 'model');
  return Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
}

function expectSameFiles(actual: Record<string, Buffer>, expected: Record<string, Buffer>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, bytes] of Object.entries(expected)) expect(actual[name]!.equals(bytes), name).toBe(true);
}

describe('the slurm executor without SLURM installed', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  const apps: DistilleryApp[] = [];

  beforeEach(() => {
    tmp = makeTempDir('distillery-noslurm-');
  });
  afterEach(() => {
    for (const app of apps.splice(0)) app.dispose();
    tmp.cleanup();
  });

  it('fails the first task that needs SLURM with SLURM_UNAVAILABLE naming it; the run resumes locally', async () => {
    const env = { ...process.env, PATH: '/nonexistent' };
    // A local run first: its finished tasks are what must not be lost.
    const local = createApp({ dataDir: tmp.dir, concurrency: 2 });
    apps.push(local);
    const doc = mnistDoc('no-slurm');
    const first = await local.runner.waitForRun(local.runner.start(doc).id);
    expect(first.status).toBe('done');
    local.dispose();

    const app = createApp({ dataDir: tmp.dir, concurrency: 2, executors: { slurm: { env } } });
    apps.push(app);
    const run = await app.runner.waitForRun(
      app.runner.start(doc, { executor: 'slurm', forceNodes: ['fit'] }).id,
    );
    expect(run.status).toBe('failed');
    expect(task(run, 'data').status).toBe('reused');
    expect(task(run, 'net').status).toBe('reused');
    const fit = task(run, 'fit');
    expect(fit).toMatchObject({ status: 'failed', executor: 'slurm', jobId: null });
    expect(fit.error).toMatchObject({
      code: 'SLURM_UNAVAILABLE',
      details: { nodeId: 'fit', command: 'sbatch', expected: 'sbatch on PATH' },
    });
    expect(fit.error!.message).toBe(
      `Node "fit": Submitting task "fit" of run "${run.id}" to SLURM: sbatch is not on PATH (install SLURM's client commands, Debian: slurm-client)`,
    );
    expect(task(run, 'score').status).toBe('skipped');

    const resumed = await app.runner.waitForRun(app.runner.resume(run.id, { executor: 'local' }).id);
    expect(resumed.status).toBe('done');
    expect(task(resumed, 'fit')).toMatchObject({ status: 'done', executor: 'local' });

    // The doctor says what is missing.
    const doctor = await cliJson<{ ok: boolean; slurm: { problems: string[] } }>(['doctor'], tmp.dir, {
      env: { PATH: '/nonexistent' },
    });
    expect(doctor.code).toBe(1);
    expect(doctor.json.ok).toBe(false);
    expect(doctor.json.slurm.problems[0]).toMatch(/^sbatch, squeue, scancel not found on PATH/);
  }, 180_000);
});

describe.skipIf(!slurmInstalled)('the slurm executor on a real single-node cluster', () => {
  ensureNoLeaks({ processGraceMs: 10_000 });
  let slurmEnv: NodeJS.ProcessEnv;
  let client: SlurmClient;
  let tmp: ReturnType<typeof makeTempDir>;
  const apps: DistilleryApp[] = [];

  beforeAll(() => {
    slurmEnv = startCluster();
    client = new SlurmClient({ env: slurmEnv });
  }, 150_000);

  beforeEach(() => {
    tmp = makeTempDir('distillery-slurm-run-');
  });

  afterEach(async () => {
    // An app a test disposed itself has closed its records; the runs folder still names its runs.
    const runIds = existsSync(join(tmp.dir, 'runs')) ? readdirSync(join(tmp.dir, 'runs')) : [];
    for (const app of apps.splice(0)) app.dispose();
    // Nothing this test submitted may hold a core for the next one (a failed test may leave a job).
    const ours = (await client.queue()).filter((job) =>
      runIds.some((id) => job.name.startsWith(`distillery.${id}.`)),
    );
    for (const job of ours) await client.cancel(job.jobId).catch(() => undefined);
    tmp.cleanup();
  });

  function open(
    options: { executor?: 'local' | 'slurm'; neverStartsAfterMs?: number; dataDir?: string } = {},
  ): DistilleryApp {
    const app = createApp({
      dataDir: options.dataDir ?? tmp.dir,
      concurrency: 2,
      cancelGraceMs: 5000,
      executors: {
        executor: options.executor ?? 'slurm',
        slurm: {
          env: slurmEnv,
          pollIntervalMs: 500,
          neverStartsAfterMs: options.neverStartsAfterMs ?? 60_000,
          defaults: { cpusPerTask: 1 },
        },
      },
    });
    apps.push(app);
    return app;
  }

  it('runs a pipeline as SLURM jobs seen in squeue, to the accuracy and weights of a local run', async () => {
    const app = open();
    const doc = mnistDoc('on-slurm');
    const started = app.runner.start(doc);
    // While fit runs, squeue says so.
    const fitRunning = await waitFor(
      app.runner.onDidChangeTask,
      (info) => info.id === `${started.id}-fit` && info.executorState === 'running' && info.jobId !== null,
    );
    const seen = (await client.status([fitRunning.jobId!])).get(fitRunning.jobId!);
    expect(seen).toMatchObject({ name: `distillery.${started.id}.fit`, state: 'running', source: 'squeue' });
    const info = await createHandlers(app)['system.info']({});
    expect(info.cluster).toMatchObject({ executor: 'slurm', cluster: 'distillery', error: null });
    expect(info.cluster!.running).toBeGreaterThanOrEqual(1);

    const run = await app.runner.waitForRun(started.id);
    expect(run.status, JSON.stringify(run.error)).toBe('done');
    // A task is done once its worker says so; its job may take a moment more to leave the node.
    const jobs = await until(
      () => client.status(run.tasks.map((candidate) => candidate.jobId!)),
      (found) => [...found.values()].every((job) => job.slurmState === 'COMPLETED'),
      'the jobs to complete',
    );
    for (const candidate of run.tasks) {
      expect(candidate).toMatchObject({ executor: 'slurm', executorState: 'succeeded', warm: null });
      expect(candidate.nodeName).toBe(seen!.node);
      expect(jobs.get(candidate.jobId!)).toMatchObject({
        name: `distillery.${run.id}.${candidate.nodeId}`,
        slurmState: 'COMPLETED',
      });
      // The worker's events went through its task folder.
      expect(existsSync(join(candidate.taskDir, 'events.jsonl'))).toBe(true);
    }
    expect(new Set(run.tasks.map((candidate) => candidate.jobId)).size).toBe(4);
    expect(app.registry.list().map((version) => version.name)).toContain('on-slurm/fit');
    const logs = app.runs.getLogs(task(run, 'fit').id).map((line) => line.message);
    expect(logs.some((line) => line.startsWith(`Submitted to SLURM as job ${task(run, 'fit').jobId}`))).toBe(
      true,
    );

    // The same pipeline on this machine: the same accuracy, the same weights.
    const local = open({ executor: 'local', dataDir: join(tmp.dir, 'local') });
    const reference = await local.runner.waitForRun(local.runner.start(doc).id);
    expect(reference.status).toBe('done');
    expect(task(reference, 'fit').executor).toBe('local');
    expect(task(run, 'score').summary!.accuracy).toBe(task(reference, 'score').summary!.accuracy);
    expectSameFiles(modelFiles(run, 'fit'), modelFiles(reference, 'fit'));

    // `runs show` says where each task ran.
    app.dispose();
    const shown = await runCli(['runs', 'show', run.id], { dataDir: tmp.dir });
    expect(shown.stdout).toContain(`slurm job ${task(run, 'fit').jobId} on ${seen!.node}`);
    const doctor = await cliJson<{
      ok: boolean;
      slurm: {
        cluster: { name: string };
        partitions: Array<{ name: string }>;
        runFolder: { writable: boolean };
      };
    }>(['doctor'], tmp.dir, { env: { SLURM_CONF: slurmEnv.SLURM_CONF } });
    expect(doctor.code).toBe(0);
    expect(doctor.json.slurm.cluster.name).toBe('distillery');
    expect(doctor.json.slurm.partitions.map((partition) => partition.name)).toEqual(['debug']);
    expect(doctor.json.slurm.runFolder.writable).toBe(true);
  }, 300_000);

  it('runs a 4-trial sweep as SLURM jobs, two trials at a time', async () => {
    const app = open();
    const doc = sweepPipeline(
      {
        objective: { node: 'score', metric: 'accuracy', mode: 'max' },
        space: { 'fit.learningRate': { logUniform: [0.0003, 0.01] } },
        algorithm: 'random',
        trials: 4,
        concurrency: 2,
        seed: 4,
      },
      { name: 'slurm-sweep', trainLimit: 600, testLimit: 200, epochs: 2, batchSize: 40 },
    );
    const states = new Map<string, string>();
    let most = 0;
    const subscription = app.runner.onDidChangeTask((info) => {
      if (info.executor !== 'slurm' || info.executorState === null) return;
      states.set(info.id, info.executorState);
      const active = [...states.values()].filter(
        (state) => state === 'waiting' || state === 'running',
      ).length;
      most = Math.max(most, active);
    });
    const handlers = createHandlers(app);
    const sweep = await handlers['sweeps.start']({ doc });
    const summary = await app.sweeps.waitForSweep(sweep.id);
    subscription.dispose();
    expect(summary.status).toBe('done');
    const trials = app.sweepStore.getSweep(sweep.id).trials;
    expect(trials).toHaveLength(4);
    expect(trials.every((trial) => trial.status === 'done')).toBe(true);
    // Every task that ran was a job; never more than `concurrency` at once, and that many at times.
    expect(most).toBe(2);
    const runs = trials.map((trial) => app.runs.getRun(trial.runId!));
    for (const run of runs)
      for (const candidate of run.tasks)
        if (candidate.status === 'done') expect(candidate).toMatchObject({ executor: 'slurm' });
  }, 400_000);

  it('`distillery cancel` of a running SLURM task, then resume, ends with the weights of an uninterrupted run', async () => {
    const app = open();
    const doc = longDoc('slurm-resume');
    const started = app.runner.start(doc);
    const fitId = `${started.id}-fit`;
    await waitFor(
      app.runner.onDidChangeTask,
      (info) => info.id === fitId && info.checkpoint !== null && info.executorState === 'running',
    );
    // From another process, as a user would.
    const cancel = await runCli(['cancel', started.id], { dataDir: tmp.dir });
    expect(cancel.code).toBe(0);
    const cancelled = await app.runner.waitForRun(started.id);
    expect(cancelled.status).toBe('cancelled');
    const fit = task(cancelled, 'fit');
    expect(fit).toMatchObject({ status: 'cancelled', executor: 'slurm', executorState: 'cancelled' });
    expect((await client.status([fit.jobId!])).get(fit.jobId!)?.slurmState).toBe('CANCELLED');
    expect(fit.checkpoint).not.toBeNull();

    // Resumed where it ran: on SLURM, a new job, from the checkpoint.
    const resumed = await app.runner.waitForRun(app.runner.resume(started.id).id);
    expect(resumed.status, JSON.stringify(resumed.error)).toBe('done');
    expect(task(resumed, 'fit').executor).toBe('slurm');
    expect(task(resumed, 'fit').jobId).not.toBe(fit.jobId);
    expect(task(resumed, 'fit').attempt).toBe(2);

    const local = open({ executor: 'local', dataDir: join(tmp.dir, 'local') });
    const reference = await local.runner.waitForRun(local.runner.start(doc).id);
    expect(reference.status).toBe('done');
    expectSameFiles(modelFiles(resumed, 'fit'), modelFiles(reference, 'fit'));
  }, 400_000);

  it('a job killed by scancel --signal=KILL --batch fails its task with its metrics and checkpoint kept', async () => {
    const app = open();
    const started = app.runner.start(longDoc('slurm-killed'));
    const fitId = `${started.id}-fit`;
    const running = await waitFor(
      app.runner.onDidChangeTask,
      (info) => info.id === fitId && info.checkpoint !== null && info.executorState === 'running',
    );
    await client.cancel(running.jobId!, { signal: 'KILL', scope: 'batch' });
    const run = await app.runner.waitForRun(started.id);
    expect(run.status).toBe('failed');
    const fit = task(run, 'fit');
    expect(fit.status).toBe('failed');
    expect(fit.error).toMatchObject({
      code: 'SLURM_JOB_FAILED',
      details: { nodeId: 'fit', jobId: running.jobId, slurmState: 'FAILED', signal: 9 },
    });
    expect(fit.error!.message).toMatch(
      new RegExp(`^Node "fit": SLURM job ${running.jobId} was killed by signal 9 \\(FAILED`),
    );
    expect(fit.checkpoint).not.toBeNull();
    expect(existsSync(fit.checkpoint!.path)).toBe(true);
    // Every point the worker wrote is recorded, none lost with the job.
    const written = readMetricsFile(metricsFilePath(fit.taskDir)).points;
    expect(written.length).toBeGreaterThan(0);
    const recorded = app.runs.getMetrics(fit.id, {});
    expect(recorded.length).toBe(written.length);
    expect(task(run, 'score').status).toBe('skipped');
  }, 300_000);

  it('a job cancelled outside Distillery fails its task, naming SLURM’s state', async () => {
    const app = open();
    const started = app.runner.start(longDoc('slurm-external'));
    const fitId = `${started.id}-fit`;
    const running = await waitFor(
      app.runner.onDidChangeTask,
      (info) => info.id === fitId && info.checkpoint !== null && info.executorState === 'running',
    );
    // scancel --signal=KILL without --batch is a cancel to SLURM: SIGTERM, then SIGKILL.
    await client.cancel(running.jobId!, { signal: 'KILL' });
    const run = await app.runner.waitForRun(started.id);
    expect(run.status).toBe('failed');
    const fit = task(run, 'fit');
    expect(fit.error).toMatchObject({ code: 'SLURM_JOB_FAILED', details: { slurmState: 'CANCELLED' } });
    expect(fit.error!.message).toContain(`SLURM job ${running.jobId} was cancelled outside Distillery`);
    // The worker took the SIGTERM as a cancel: it checkpointed, and resume continues from there.
    expect(fit.checkpoint).not.toBeNull();
  }, 300_000);

  it('a requeued job continues from its last checkpoint, to the weights of an uninterrupted run', async () => {
    const app = open();
    const doc = longDoc('slurm-requeue');
    const started = app.runner.start(doc);
    const fitId = `${started.id}-fit`;
    const running = await waitFor(
      app.runner.onDidChangeTask,
      (info) => info.id === fitId && info.checkpoint !== null && info.executorState === 'running',
    );
    execFileSync('scontrol', ['requeue', running.jobId!], { env: slurmEnv });
    // SLURM holds a requeued job back for two minutes; an administrator's "start now" lifts that.
    await until(
      () => client.status([running.jobId!]),
      (found) =>
        (found.get(running.jobId!)?.restarts ?? 0) >= 1 && found.get(running.jobId!)?.state === 'waiting',
      'the job to be requeued',
    );
    execFileSync('scontrol', ['update', `JobId=${running.jobId!}`, 'StartTime=now'], { env: slurmEnv });
    const run = await app.runner.waitForRun(started.id);
    expect(run.status, JSON.stringify(run.error)).toBe('done');
    const fit = task(run, 'fit');
    expect(fit.jobId).toBe(running.jobId);
    const logs = app.runs.getLogs(fit.id).map((line) => line.message);
    expect(logs.some((line) => line.startsWith(`SLURM requeued job ${running.jobId}`))).toBe(true);
    const readies = readFileSync(join(fit.taskDir, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.includes('"type":"ready"'));
    expect(readies).toHaveLength(2);

    const local = open({ executor: 'local', dataDir: join(tmp.dir, 'local') });
    const reference = await local.runner.waitForRun(local.runner.start(doc).id);
    expectSameFiles(modelFiles(run, 'fit'), modelFiles(reference, 'fit'));
  }, 400_000);

  it("refuses a partition that does not exist and an sbatch refusal, each with SLURM's message, losing nothing", async () => {
    const app = open();
    const first = await app.runner.waitForRun(app.runner.start(mnistDoc('slurm-bad')).id);
    expect(first.status).toBe('done');
    const badPartition = await app.runner.waitForRun(
      app.runner.start(
        mnistDoc(
          'slurm-bad',
          {},
          { executor: { type: 'slurm', nodes: { fit: { partition: 'no-such-partition' } } } },
        ),
        { forceNodes: ['fit'] },
      ).id,
    );
    expect(badPartition.status).toBe('failed');
    expect(task(badPartition, 'net').status).toBe('reused');
    const fit = task(badPartition, 'fit');
    expect(fit.error).toMatchObject({
      code: 'SLURM_SUBMIT_FAILED',
      details: { nodeId: 'fit', param: 'partition', received: 'no-such-partition', expected: 'one of debug' },
    });
    expect(fit.error!.message).toMatch(
      new RegExp(
        `^Node "fit": Submitting task "fit" of run "${badPartition.id}" to SLURM failed: .*Invalid partition name specified`,
      ),
    );

    // More memory than the node has: sbatch refuses the job outright.
    const refused = await app.runner.waitForRun(
      app.runner.start(
        mnistDoc('slurm-bad', {}, { executor: { type: 'slurm', nodes: { fit: { memory: '999999G' } } } }),
        {
          forceNodes: ['fit'],
        },
      ).id,
    );
    const refusedFit = task(refused, 'fit');
    expect(refusedFit.error).toMatchObject({ code: 'SLURM_SUBMIT_FAILED', details: { nodeId: 'fit' } });
    expect(refusedFit.error!.message).toContain('Requested node configuration is not available');
    // What the first run recorded is all still there.
    const kept = app.runs.getRun(first.id);
    expect(kept.status).toBe('done');
    expect(app.registry.list().map((version) => version.name)).toContain('slurm-bad/fit');
  }, 300_000);

  it('fails a task whose job can never start after the configured wait, with the reason, and cancels the job', async () => {
    const app = open({ neverStartsAfterMs: 2000 });
    // More CPUs than the node has: sbatch takes it, and it pends with reason PartitionConfig.
    const doc = mnistDoc(
      'slurm-never',
      {},
      { executor: { type: 'slurm', nodes: { data: { cpusPerTask: 64 } } } },
    );
    const run = await app.runner.waitForRun(app.runner.start(doc).id);
    expect(run.status).toBe('failed');
    const data = task(run, 'data');
    expect(data.error).toMatchObject({
      code: 'SLURM_JOB_NEVER_STARTED',
      details: { nodeId: 'data', reason: 'PartitionConfig', jobId: data.jobId },
    });
    expect(data.error!.message).toMatch(
      new RegExp(
        `^Node "data": SLURM job ${data.jobId} cannot start: it is pending with reason PartitionConfig`,
      ),
    );
    const job = (await client.status([data.jobId!])).get(data.jobId!);
    expect(job?.state).toBe('cancelled');
    expect(task(run, 'net').status).toBe('skipped');
  }, 120_000);
});
