/**
 * The readers of SLURM's output, on what SLURM 22.05.8 (Debian 12's slurm-wlm) printed on the
 * single-node test cluster: test/cluster/fixtures/ was recorded by test/cluster/capture-fixtures.sh
 * (jobs named fixture-<state>, one in each state a task's job can reach). The integration suite
 * (test/integration/slurm-client.test.ts) runs the same readers on live output.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { checkSlurmSpec, parseSlurmJobName, slurmJobName } from '../../main/jobs/executors/slurm-job-script';
import type { SlurmJobSpec } from '../../main/jobs/executors/slurm-types';
import {
  parseSacct,
  parseSbatchParsable,
  parseScontrolConfig,
  parseSinfo,
  parseSqueueJson,
  toExecutorState,
  type SlurmJobStatus,
} from '../../main/jobs/executors/slurm-parse';

const FIXTURES = join(import.meta.dirname, '..', 'cluster', 'fixtures');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const squeueText = fixture('squeue-json-22.05.8.txt');

function byName(jobs: SlurmJobStatus[], name: string): SlurmJobStatus {
  const job = jobs.find((candidate) => candidate.name === name);
  if (!job) throw new Error(`no job named ${name} in the fixture`);
  return job;
}

function thrown(fn: () => unknown): DistilleryError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DistilleryError) return error;
    throw error;
  }
  throw new Error('expected a DistilleryError');
}

describe('squeue --json (22.05)', () => {
  const jobs = parseSqueueJson(squeueText);

  it('is the version the fixture says', () => {
    const meta = (JSON.parse(squeueText) as { meta: { Slurm: { release: string } } }).meta;
    expect(meta.Slurm.release).toBe('22.05.8');
    expect(jobs.map((job) => job.jobId)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  });

  it('maps waiting jobs, with why they wait and no forecast times or node', () => {
    const pending = byName(jobs, 'fixture-pending');
    expect(pending).toMatchObject({
      state: 'waiting',
      slurmState: 'PENDING',
      reason: 'Resources',
      restarts: 0,
    });
    expect(pending.node).toBeUndefined();
    expect(pending.startedAt).toBeUndefined();
    expect(byName(jobs, 'fixture-held')).toMatchObject({ state: 'waiting', reason: 'JobHeldUser' });
    // Requeued by `scontrol requeue`: pending again, with its restart counted; squeue's start time
    // for it is a forecast, which is left out.
    const requeued = byName(jobs, 'fixture-requeued');
    expect(requeued).toMatchObject({
      state: 'waiting',
      slurmState: 'PENDING',
      restarts: 1,
      reason: 'JobHeldAdmin',
    });
    expect(requeued.startedAt).toBeUndefined();
  });

  it('maps a running job with its node and start, and no outcome yet', () => {
    const running = byName(jobs, 'fixture-running');
    expect(running).toMatchObject({
      state: 'running',
      slurmState: 'RUNNING',
      node: 'vm',
      partition: 'debug',
    });
    expect(running.reason).toBeUndefined();
    expect(running.startedAt).toBeGreaterThanOrEqual(running.submittedAt ?? Infinity);
    expect(running.endedAt).toBeUndefined();
    expect(running.exitCode).toBeUndefined();
  });

  it('maps ended jobs, decoding the raw wait status into exit code or signal', () => {
    expect(byName(jobs, 'fixture-completed')).toMatchObject({
      state: 'succeeded',
      slurmState: 'COMPLETED',
      exitCode: 0,
    });
    // `exit 3`: 22.05 prints the wait status 768.
    expect(byName(jobs, 'fixture-failed')).toMatchObject({
      state: 'failed',
      slurmState: 'FAILED',
      reason: 'NonZeroExitCode',
      exitCode: 3,
    });
    const timedOut = byName(jobs, 'fixture-timeout');
    expect(timedOut).toMatchObject({
      state: 'failed',
      slurmState: 'TIMEOUT',
      reason: 'TimeLimit',
      node: 'vm',
    });
    expect(timedOut.endedAt! - timedOut.startedAt!).toBeGreaterThanOrEqual(60_000);
    // scancel: the job's processes end by signal (SIGTERM, or SIGKILL after KillWait).
    const cancelled = byName(jobs, 'fixture-cancelled');
    expect(cancelled).toMatchObject({ state: 'cancelled', slurmState: 'CANCELLED' });
    expect([9, 15]).toContain(cancelled.signal);
    // `scancel --signal=KILL` is a cancellation too, as far as SLURM is concerned.
    expect(byName(jobs, 'fixture-killed')).toMatchObject({ state: 'cancelled', slurmState: 'CANCELLED' });
  });

  it('reads the shapes of later versions: state flags as a list, numbers as objects', () => {
    // The fixture's failed job, rewritten field by field into the v0.0.39+ form.
    const document = JSON.parse(squeueText) as { jobs: Record<string, unknown>[] };
    const failed = document.jobs.find((job) => job.name === 'fixture-failed')!;
    const later = {
      ...failed,
      job_state: ['FAILED'],
      exit_code: { status: ['ERROR'], return_code: { set: true, infinite: false, number: 3 } },
      submit_time: { set: true, infinite: false, number: failed.submit_time },
      start_time: { set: true, infinite: false, number: failed.start_time },
      end_time: { set: true, infinite: false, number: failed.end_time },
      restart_cnt: { set: true, infinite: false, number: 0 },
    };
    const completing = { ...later, job_id: 99, job_state: ['FAILED', 'COMPLETING'] };
    const [parsed, stillCompleting] = parseSqueueJson(JSON.stringify({ jobs: [later, completing] }));
    const original = byName(jobs, 'fixture-failed');
    expect(parsed).toEqual(original);
    expect(stillCompleting).toMatchObject({ jobId: '99', state: 'running', slurmState: 'COMPLETING' });
  });

  it('refuses output that is not squeue JSON, with a coded error', () => {
    expect(thrown(() => parseSqueueJson('squeue: error: Invalid user')).code).toBe('SLURM_COMMAND_FAILED');
    expect(thrown(() => parseSqueueJson('{"meta":{}}')).code).toBe('SLURM_COMMAND_FAILED');
  });

  it('takes the empty list of an unreachable controller for an error, not for "no jobs"', () => {
    // Recorded with SLURM_CONF pointing at a copy of the cluster's slurm.conf whose SlurmctldPort
    // nothing listens on: squeue exits 0, lists no jobs and reports the failure in `errors`.
    const text = fixture('squeue-json-controller-down-22.05.8.txt');
    expect((JSON.parse(text) as { jobs: unknown[] }).jobs).toEqual([]);
    const error = thrown(() => parseSqueueJson(text));
    expect(error.code).toBe('SLURM_UNAVAILABLE');
    expect(error.message).toBe(
      'squeue could not read the jobs: Failed while looking for jobs (slurm_load_jobs: Unspecified error)',
    );
  });
});

describe('sacct --completion --parsable2 (22.05, job-completion records)', () => {
  const text = fixture('sacct-completion-22.05.8.txt');
  const jobs = parseSacct(text);

  it('keeps the last record of each job id', () => {
    // Ids 3 to 5 appear twice: the controller's state was reset between two recordings (its ids
    // started again at 1) while the completion log was kept. The later record is the job today.
    expect(text.split('\n').filter((line) => line.startsWith('3|'))).toHaveLength(2);
    expect(jobs.map((job) => job.jobId).sort()).toEqual(['1', '2', '3', '4', '5']);
    expect(jobs.find((job) => job.jobId === '3')).toMatchObject({
      name: 'fixture-failed',
      state: 'failed',
      exitCode: 3,
    });
  });

  it('maps states, exit codes, nodes and local times', () => {
    const completed = byName(jobs, 'fixture-completed');
    expect(completed).toMatchObject({
      state: 'succeeded',
      exitCode: 0,
      node: 'vm',
      partition: 'debug',
      source: 'sacct',
    });
    expect(completed.endedAt).toBe(new Date(2026, 11, 1, 9, 57, 48).getTime());
    expect(byName(jobs, 'fixture-timeout')).toMatchObject({ state: 'failed', slurmState: 'TIMEOUT' });
    expect(byName(jobs, 'fixture-cancelled')).toMatchObject({ state: 'cancelled' });
    expect(byName(jobs, 'fixture-killed')).toMatchObject({ state: 'cancelled' });
  });

  it('leaves out job steps and reads "CANCELLED by <uid>"', () => {
    const line = text.split('\n').find((row) => row.startsWith('4|fixture-cancelled'))!;
    const withStep = `${line.replace('CANCELLED', 'CANCELLED by 0')}\n${line.replace(/^4\|fixture-cancelled/, '4.batch|batch')}\n`;
    const parsed = parseSacct(withStep);
    expect(parsed).toHaveLength(1);
    expect(parsed[0]).toMatchObject({ jobId: '4', state: 'cancelled', slurmState: 'CANCELLED' });
  });

  it('refuses lines that are not the fields asked for', () => {
    expect(thrown(() => parseSacct('Slurm accounting storage is disabled\n')).code).toBe(
      'SLURM_COMMAND_FAILED',
    );
  });
});

describe('sinfo, scontrol and sbatch output', () => {
  it('reads partitions with their default mark and node counts', () => {
    expect(parseSinfo(fixture('sinfo-22.05.8.txt'))).toEqual([
      {
        name: 'debug',
        isDefault: true,
        availability: 'up',
        timeLimit: 'infinite',
        nodes: { allocated: 1, idle: 0, other: 0, total: 1 },
        nodeList: 'vm',
      },
    ]);
    expect(thrown(() => parseSinfo('PARTITION AVAIL\n')).code).toBe('SLURM_COMMAND_FAILED');
  });

  it('reads the configuration the client needs', () => {
    const config = parseScontrolConfig(fixture('scontrol-config-22.05.8.txt'));
    expect(config.get('ClusterName')).toBe('distillery');
    expect(config.get('SLURM_VERSION')).toBe('22.05.8');
    expect(config.get('AccountingStorageType')).toBe('accounting_storage/none');
    expect(config.get('JobCompType')).toBe('jobcomp/filetxt');
    expect(config.get('MinJobAge')).toBe('600 sec');
    // `(null)` means unset.
    expect(config.has('AccountingStorageBackupHost')).toBe(false);
  });

  it('reads the job id sbatch --parsable prints', () => {
    expect(parseSbatchParsable('42\n')).toEqual({ jobId: '42' });
    expect(parseSbatchParsable('42;cluster-b\n')).toEqual({ jobId: '42', cluster: 'cluster-b' });
    expect(parseSbatchParsable('Submitted batch job 42\n')).toBeUndefined();
    expect(parseSbatchParsable('')).toBeUndefined();
  });

  it('maps state names as both commands print them', () => {
    expect(toExecutorState('CANCELLED by 1000')).toBe('cancelled');
    expect(toExecutorState('OUT_OF_MEMORY')).toBe('failed');
    expect(toExecutorState('NODE_FAIL')).toBe('failed');
    expect(toExecutorState('PREEMPTED')).toBe('failed');
    expect(toExecutorState('REQUEUED')).toBe('waiting');
    expect(toExecutorState('COMPLETING')).toBe('running');
  });
});

describe('job names and specs', () => {
  const spec = (resources: SlurmJobSpec['resources'], extra: Partial<SlurmJobSpec> = {}): SlurmJobSpec => ({
    runId: 'r2612011000-a1b2c3',
    nodeId: 'train',
    directory: '/shared/runs/r2612011000-a1b2c3/train',
    command: ['node', 'worker.js'],
    resources,
    ...extra,
  });

  it('names a job after its run and node, and reads the name back', () => {
    const name = slurmJobName('r2612011000-a1b2c3', 'train_2');
    expect(name).toBe('distillery.r2612011000-a1b2c3.train_2');
    expect(parseSlurmJobName(name)).toEqual({ runId: 'r2612011000-a1b2c3', nodeId: 'train_2' });
    expect(parseSlurmJobName('wrap')).toBeUndefined();
    expect(slurmJobName('run one', 'a.b')).toBe('distillery.run_one.a_b');
  });

  it('accepts the forms sbatch takes', () => {
    expect(
      checkSlurmSpec(
        spec({
          partition: 'gpu,cpu',
          account: 'lab-1',
          cpusPerTask: 4,
          memory: '16G',
          time: '1-12:00:00',
          gpus: 2,
          extraFlags: ['--qos=high'],
        }),
      ),
    ).toEqual([]);
    for (const time of ['30', '30:00', '2:30:00', '1-0', '1-2:30', 'INFINITE']) {
      expect(checkSlurmSpec(spec({ time }))).toEqual([]);
    }
  });

  it('names every field that is wrong, and what it expected', () => {
    const issues = checkSlurmSpec(
      spec(
        {
          partition: 'gpu queue',
          cpusPerTask: 0,
          memory: '4 GB',
          time: '1h',
          gpus: 1.5,
          extraFlags: ['--output=/tmp/x'],
        },
        { environment: { 'BAD-NAME': 'x' } },
      ),
    );
    expect(issues.map((issue) => issue.code)).toEqual(Array(7).fill('SLURM_OPTION_INVALID'));
    expect(issues.map((issue) => issue.details.param)).toEqual([
      'partition',
      'cpusPerTask',
      'gpus',
      'memory',
      'time',
      'extraFlags',
      'environment',
    ]);
    const [partition] = issues;
    expect(partition?.message).toBe(
      'SLURM job of task "train" of run "r2612011000-a1b2c3": partition must be a partition name (letters, digits, "_", "-", "."), or several separated by commas, got "gpu queue"',
    );
    expect(partition?.details).toMatchObject({
      nodeId: 'train',
      runId: 'r2612011000-a1b2c3',
      received: 'gpu queue',
    });
  });
});
