/**
 * The SLURM client against a real single-node cluster (test/cluster/slurm.sh: this machine as
 * controller and node, two cores): jobs submitted with sbatch and seen in squeue, waited for by
 * polling their status, cancelled, signalled, refused; the doctor's report; and a worker stand-in
 * writing its events file inside a job while the runner's follower reads it. Skipped, saying why,
 * only where SLURM is not installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { EventFileFollower, type FollowedEvent } from '../../main/jobs/executors/event-follower';
import { SlurmClient, type SlurmJobStatus } from '../../main/jobs/executors/slurm-client';
import type { SlurmJobSpec, SlurmSubmission } from '../../main/jobs/executors/slurm-types';
import { isFinalState } from '../../main/jobs/executors/types';
import { EVENTS_FILE } from '../../main/worker/protocol';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';
import { CLUSTER_SCRIPT, onPath, pollingEvery, startCluster } from '../helpers/slurm-cluster';

const REPO = join(import.meta.dirname, '..', '..');
const EVENT_WRITER = join(REPO, 'test', 'cluster', 'event-writer.ts');
const TSX = pathToFileURL(join(REPO, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

const slurmInstalled = onPath('sbatch');
if (!slurmInstalled) {
  console.warn(
    "slurm-client.test.ts skipped: SLURM is not installed here (no sbatch on PATH). Install Debian's slurm-wlm and munge; the suite starts the cluster itself with test/cluster/slurm.sh start.",
  );
}

const until = pollingEvery(100);

function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : `(no ${path})`;
}

const isFifthProgress = (item: FollowedEvent): boolean =>
  item.event.type === 'progress' && item.event.done >= 5;

function thrownBy(promise: Promise<unknown>): Promise<DistilleryError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => {
      if (error instanceof DistilleryError) return error;
      throw error;
    },
  );
}

describe.skipIf(!slurmInstalled)('SlurmClient on a real single-node cluster', () => {
  ensureNoLeaks({ processGraceMs: 10_000 });
  let env: NodeJS.ProcessEnv;
  let client: SlurmClient;
  let tmp: ReturnType<typeof makeTempDir>;
  let submitted: string[];

  beforeAll(() => {
    env = startCluster();
  }, 150_000);

  beforeEach(() => {
    tmp = makeTempDir('distillery-slurm-');
    client = new SlurmClient({ env });
    submitted = [];
  });

  afterEach(async () => {
    // A failed test may leave its job behind; it must not hold a core for the next one.
    for (const jobId of submitted) await client.cancel(jobId).catch(() => undefined);
    if (submitted.length > 0) {
      await until(
        () => client.status(submitted),
        (found) => [...found.values()].every((job) => job.state !== 'waiting' && job.state !== 'running'),
        'the jobs of the test to end',
      );
    }
    tmp.cleanup();
  });

  function spec(nodeId: string, script: string, extra: Partial<SlurmJobSpec> = {}): SlurmJobSpec {
    return {
      runId: 'r-slurm-test',
      nodeId,
      directory: join(tmp.dir, nodeId),
      command: ['/bin/sh', '-c', script],
      ...extra,
    };
  }

  async function submit(jobSpec: SlurmJobSpec): Promise<SlurmSubmission> {
    const submission = await client.submit(jobSpec);
    submitted.push(submission.jobId);
    return submission;
  }

  function statusOf(jobId: string): () => Promise<SlurmJobStatus | undefined> {
    return async () => (await client.status([jobId])).get(jobId);
  }

  it('submits a job that squeue shows running on the node, then finished', async () => {
    const job = spec(
      'hello',
      'echo "$GREETING from $SLURMD_NODENAME"; while [ ! -f go ]; do sleep 0.1; done',
      {
        environment: { GREETING: "it's me" },
        resources: { cpusPerTask: 1, memory: '256M', time: '5' },
      },
    );
    const submission = await submit(job);
    expect(submission.jobId).toMatch(/^\d+$/);
    expect(readFileSync(submission.script, 'utf8')).toContain(`export GREETING='it'\\''s me'`);

    const running = await until(
      statusOf(submission.jobId),
      (status) => status?.state === 'running',
      'the job to run',
    );
    expect(running).toMatchObject({
      name: 'distillery.r-slurm-test.hello',
      slurmState: 'RUNNING',
      partition: 'debug',
      source: 'squeue',
    });
    expect(running?.node).toBeTruthy();
    expect((await client.queue()).map((queued) => queued.jobId)).toContain(submission.jobId);

    writeFileSync(join(job.directory, 'go'), '');
    const finished = await until(
      statusOf(submission.jobId),
      (status) => status?.state === 'succeeded',
      'the job to end',
    );
    expect(finished).toMatchObject({ slurmState: 'COMPLETED', exitCode: 0 });
    expect(finished!.endedAt).toBeGreaterThanOrEqual(finished!.startedAt!);
    expect(readFileSync(submission.outputFile, 'utf8')).toBe(`it's me from ${running!.node}\n`);
    expect((await client.queue()).map((queued) => queued.jobId)).not.toContain(submission.jobId);
  });

  it('reports a job that exits non-zero as failed, with its exit code', async () => {
    const submission = await submit(spec('fails', 'echo "bad input" >&2; exit 3'));
    const failed = await until(
      statusOf(submission.jobId),
      (status) => status?.state === 'failed',
      'the job to fail',
    );
    expect(failed).toMatchObject({ slurmState: 'FAILED', exitCode: 3, reason: 'NonZeroExitCode' });
    expect(readFileSync(submission.errorFile, 'utf8')).toBe('bad input\n');
  });

  const trapsTerm = 'trap "echo TERM > term.txt; exit 0" TERM; touch started; while true; do sleep 0.1; done';

  /** Submits jobs running `trapsTerm` side by side and resolves once each has started. */
  async function startTrappingJobs(
    ...nodeIds: string[]
  ): Promise<{ job: SlurmJobSpec; submission: SlurmSubmission }[]> {
    const jobs: { job: SlurmJobSpec; submission: SlurmSubmission }[] = [];
    for (const nodeId of nodeIds) {
      const job = spec(nodeId, trapsTerm);
      jobs.push({ job, submission: await submit(job) });
    }
    // One-core jobs run side by side on the two-core node (DefMemPerCPU leaves room for both).
    await until(
      async () => jobs.every(({ job }) => existsSync(join(job.directory, 'started'))),
      (ready) => ready,
      'the jobs to start',
    );
    return jobs;
  }

  it('cancels a running job: it gets SIGTERM first, and ends cancelled; --signal=KILL is the same', async () => {
    const [plain, killSignal] = await startTrappingJobs('cancel', 'kill-signal');
    await client.cancel(plain!.submission.jobId, {
      task: { runId: plain!.job.runId, nodeId: plain!.job.nodeId },
    });
    // `scancel --signal=KILL` without --batch or --full is a cancel to SLURM: SIGTERM, then SIGKILL
    // after KillWait. The executor, which did not ask for it, makes such a cancel a failed task.
    await client.cancel(killSignal!.submission.jobId, { signal: 'KILL' });
    for (const { job, submission } of [plain!, killSignal!]) {
      const cancelled = await until(
        statusOf(submission.jobId),
        (status) => status?.state === 'cancelled',
        'the cancel',
      );
      expect(cancelled?.slurmState).toBe('CANCELLED');
      // What lets the worker checkpoint before it goes: SIGTERM reached the command the script execs.
      expect(readFileSync(join(job.directory, 'term.txt'), 'utf8')).toBe('TERM\n');
    }
    // Cancelling it again has nothing left to do.
    await client.cancel(plain!.submission.jobId);
  });

  it('signals a job: TERM to the batch step lets it end by itself; KILL to it ends it at once, failed', async () => {
    const [graceful, killed] = await startTrappingJobs('graceful', 'killed');
    await client.cancel(graceful!.submission.jobId, { signal: 'TERM', scope: 'full' });
    const ended = await until(
      statusOf(graceful!.submission.jobId),
      (status) => status?.state === 'succeeded',
      'the TERM to end it',
    );
    expect(ended).toMatchObject({ slurmState: 'COMPLETED', exitCode: 0 });
    expect(readFileSync(join(graceful!.job.directory, 'term.txt'), 'utf8')).toBe('TERM\n');

    await client.cancel(killed!.submission.jobId, { signal: 'KILL', scope: 'batch' });
    const gone = await until(
      statusOf(killed!.submission.jobId),
      (status) => status?.state === 'failed',
      'the KILL to end it',
    );
    expect(gone).toMatchObject({ slurmState: 'FAILED', signal: 9 });
    expect(existsSync(join(killed!.job.directory, 'term.txt'))).toBe(false);
  });

  it('shows jobs that cannot start as waiting, with the reason', async () => {
    const held = await submit(spec('held', 'true', { resources: { extraFlags: ['--hold'] } }));
    // More cores than the node has: sbatch accepts it (the partition does not enforce its limits at
    // submission), and it never starts.
    const tooBig = await submit(spec('big', 'true', { resources: { cpusPerTask: 64 } }));
    const [waitingHeld, waitingBig] = await until(
      async () => [await statusOf(held.jobId)(), await statusOf(tooBig.jobId)()],
      (jobs) => jobs.every((job) => job?.reason !== undefined),
      'the scheduler to give reasons',
    );
    expect(waitingHeld).toMatchObject({ state: 'waiting', slurmState: 'PENDING', reason: 'JobHeldUser' });
    expect(waitingBig).toMatchObject({ state: 'waiting', slurmState: 'PENDING', reason: 'PartitionConfig' });
    expect(waitingBig?.node).toBeUndefined();
    await client.cancel(held.jobId);
    await client.cancel(tooBig.jobId);
    await until(statusOf(tooBig.jobId), (status) => status?.state === 'cancelled', 'the cancel');
  });

  it("refuses a partition that does not exist, with SLURM's message and the partitions that do", async () => {
    const job = spec('train', 'true', { resources: { partition: 'no-such-partition' } });
    const error = await thrownBy(submit(job));
    expect(error.code).toBe('SLURM_SUBMIT_FAILED');
    expect(error.message).toMatch(
      /^Submitting task "train" of run "r-slurm-test" to SLURM failed: .*Invalid partition name specified/,
    );
    expect(error.details).toMatchObject({
      runId: 'r-slurm-test',
      nodeId: 'train',
      command: 'sbatch',
      param: 'partition',
      received: 'no-such-partition',
      expected: 'one of debug',
    });
    expect(String(error.details.slurmMessage)).toContain('invalid partition specified: no-such-partition');
  });

  it('refuses GPUs the cluster does not have, and resources of the wrong form before asking sbatch', async () => {
    const noGpus = await thrownBy(submit(spec('gpu', 'true', { resources: { gpus: 1 } })));
    expect(noGpus.code).toBe('SLURM_SUBMIT_FAILED');
    expect(noGpus.message).toMatch(/^Submitting task "gpu" of run "r-slurm-test" to SLURM failed: .*gres/i);
    expect(noGpus.details.arguments).toContain('--gres=gpu:1');

    const malformed = spec('bad', 'true', { resources: { memory: 'lots', time: 'soon' } });
    const invalid = await thrownBy(client.submit(malformed));
    expect(invalid.code).toBe('SLURM_OPTION_INVALID');
    expect(invalid.details.param).toBe('memory');
    expect(
      (invalid.details.issues as { details: { param: string } }[]).map((issue) => issue.details.param),
    ).toEqual(['memory', 'time']);
    expect(existsSync(malformed.directory)).toBe(false);
  });

  it('says SLURM is unavailable when its commands are missing or its controller does not answer', async () => {
    const noSlurm = new SlurmClient({ env: { ...env, PATH: '/nonexistent' } });
    const missing = await thrownBy(noSlurm.submit(spec('train', 'true')));
    expect(missing.code).toBe('SLURM_UNAVAILABLE');
    expect(missing.message).toBe(
      'Submitting task "train" of run "r-slurm-test" to SLURM: sbatch is not on PATH (install SLURM\'s client commands, Debian: slurm-client)',
    );

    const noConf = new SlurmClient({ env: { ...env, SLURM_CONF: join(tmp.dir, 'missing.conf') } });
    const unconfigured = await thrownBy(noConf.status(['1']));
    expect(unconfigured.code).toBe('SLURM_UNAVAILABLE');
    expect(unconfigured.message).toContain('missing.conf, which does not exist');

    // The cluster's own configuration with a controller port nothing listens on.
    const conf = join(tmp.dir, 'unreachable.conf');
    writeFileSync(
      conf,
      readFileSync(env.SLURM_CONF!, 'utf8').replace(/^SlurmctldPort=.*$/m, 'SlurmctldPort=1'),
    );
    const unreachable = new SlurmClient({ env: { ...env, SLURM_CONF: conf } });
    const down = await thrownBy(unreachable.status(['1']));
    expect(down.code).toBe('SLURM_UNAVAILABLE');
    expect(down.message).toContain('Failed while looking for jobs');
  });

  it('knows nothing of a job id SLURM never gave out', async () => {
    expect((await client.status(['999999'])).size).toBe(0);
    const error = await thrownBy(client.cancel('999999', { signal: 'TERM' }));
    expect(error.code).toBe('SLURM_JOB_NOT_FOUND');
    expect(error.details.jobId).toBe('999999');
    expect((await thrownBy(client.status(['1; rm -rf /']))).code).toBe('SLURM_OPTION_INVALID');
  });

  it('reports the cluster, its partitions and the run folder in doctor()', async () => {
    const report = await client.doctor(join(tmp.dir, 'runs'));
    expect(report.ok).toBe(true);
    for (const command of ['sbatch', 'squeue', 'scancel']) {
      expect(report.commands.find((check) => check.command === command)?.path).toMatch(
        new RegExp(`/${command}$`),
      );
    }
    expect(report.cluster).toMatchObject({
      name: 'distillery',
      accounting: 'job-completion',
      finishedJobSeconds: 600,
    });
    expect(report.cluster?.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(report.partitions).toEqual([
      expect.objectContaining({ name: 'debug', isDefault: true, availability: 'up' }),
    ]);
    // Not there yet, but it can be created; the check leaves nothing behind.
    expect(report.runFolder).toMatchObject({ path: join(tmp.dir, 'runs'), exists: false, writable: true });
    expect(existsSync(join(tmp.dir, 'runs'))).toBe(false);
    expect((await client.doctor(tmp.dir)).runFolder).toMatchObject({ exists: true, writable: true });
    // The test's folder is on this machine's disk: fine here, a warning for a cluster of many nodes.
    expect(report.problems).toEqual([]);
    if (report.runFolder?.shared === false) {
      expect(report.warnings).toEqual([
        expect.stringContaining('compute nodes other than this machine cannot see it'),
      ]);
    }

    const nothing = await new SlurmClient({ env: { ...env, PATH: '/nonexistent' } }).doctor(
      '/proc/distillery',
    );
    expect(nothing.ok).toBe(false);
    expect(nothing.runFolder?.writable).toBe(false);
    expect(nothing.problems).toEqual([
      "sbatch, squeue, scancel not found on PATH: install SLURM's client commands (Debian: slurm-client) or add them to PATH",
      'the run folder /proc/distillery cannot be created from here',
    ]);
  });

  it('reads an ended job from the job-completion records, which outlast squeue', async () => {
    const submission = await submit(spec('recorded', 'exit 4'));
    const fromQueue = await until(
      statusOf(submission.jobId),
      (status) => status?.state === 'failed',
      'the job to fail',
    );
    // status() asks these records for jobs squeue has forgotten (after MinJobAge, 600 s here).
    const [fromRecords] = await until(
      () => client.history([submission.jobId]),
      (jobs) => jobs.length === 1,
      'the job-completion record',
    );
    expect(fromRecords).toMatchObject({
      jobId: submission.jobId,
      name: fromQueue?.name,
      state: 'failed',
      slurmState: 'FAILED',
      exitCode: 4,
      node: fromQueue?.node,
      source: 'sacct',
    });
    // Both say when it ended, to the second (sacct prints local time without a zone).
    expect(fromRecords?.endedAt).toBe(fromQueue?.endedAt);
  });

  it('follows the events file a job writes on the node, in order, to the end', async () => {
    const directory = join(tmp.dir, 'events');
    const file = join(directory, EVENTS_FILE);
    const follower = new EventFileFollower(file, { pollIntervalMs: 200 });
    const events: FollowedEvent[] = [];
    follower.onDidEvent((event) => events.push(event));
    follower.start();
    try {
      const job: SlurmJobSpec = {
        runId: 'r-slurm-test',
        nodeId: 'events',
        directory,
        command: [process.execPath, '--import', TSX, EVENT_WRITER, file, '0', '20'],
        environment: { DISTILLERY_TASK_ID: 'events' },
      };
      const submission = await submit(job);
      // Progress flows while it runs; then a cancel takes the worker's SIGTERM path.
      const progressed = await until(
        async () => ({ events: events.length, job: await statusOf(submission.jobId)() }),
        ({ job }) => job !== undefined && (isFinalState(job.state) || events.some(isFifthProgress)),
        'progress from the job',
      );
      expect(progressed.job?.state, `the job ended early: ${readText(submission.errorFile)}`).toBe('running');
      await client.cancel(submission.jobId);
      await until(statusOf(submission.jobId), (status) => status?.state === 'cancelled', 'the cancel');
      await follower.readNow();
    } finally {
      follower.dispose();
    }
    const types = events.map((item) => item.event.type);
    expect(types[0]).toBe('log');
    expect(events[0]?.event).toMatchObject({ message: expect.stringMatching(/^started in job \d+ on \S+$/) });
    expect(types.slice(-2)).toEqual(['checkpoint', 'error']);
    const progress = events.flatMap((item) => (item.event.type === 'progress' ? [item.event.done] : []));
    expect(progress).toEqual(progress.map((_, index) => index + 1));
    expect(events.at(-1)?.event).toMatchObject({ error: { code: 'TASK_CANCELLED' } });
    expect(follower.offset).toBe(readFileSync(file).length);
  });

  it('slurm.sh starts a cluster of its own, does nothing when it runs, and stops only its daemons', () => {
    const state = join(tmp.dir, 'second');
    const secondEnv: NodeJS.ProcessEnv = {
      ...process.env,
      DISTILLERY_SLURM_DIR: state,
      DISTILLERY_SLURM_PORT: '7117',
    };
    const script = (verb: string, scriptEnv = secondEnv) =>
      spawnSync(CLUSTER_SCRIPT, [verb], { env: scriptEnv, encoding: 'utf8', timeout: 120_000 });
    const pids = (): Record<string, string> =>
      Object.fromEntries(
        readdirSync(join(state, 'run'))
          .filter((name) => name.endsWith('.pid'))
          .map((name) => [name, readFileSync(join(state, 'run', name), 'utf8').trim()]),
      );

    const started = script('start');
    expect(started.status, started.stderr).toBe(0);
    expect(started.stdout).toContain(
      `node ${hostname().split('.')[0]} is idle; export SLURM_CONF=${state}/slurm.conf`,
    );
    const daemons = pids();
    expect(Object.keys(daemons).sort()).toEqual(['munged.pid', 'slurmctld.pid', 'slurmd.pid']);

    const again = script('start');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('already running');
    expect(pids()).toEqual(daemons);

    const stopped = script('stop');
    expect(stopped.status, stopped.stderr).toBe(0);
    for (const pid of Object.values(daemons)) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(script('status').status).toBe(3);
    // The suite's own cluster was left alone.
    expect(script('status', env).status).toBe(0);
  });
});
