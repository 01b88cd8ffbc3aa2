/**
 * The `slurm` executor: each task is a batch job (`sbatch --parsable`, slurm-client.ts) that runs
 * the same worker entry on a compute node, with the task folder on a filesystem the nodes share.
 * The worker has no IPC channel there: it reads its start request from `start.json` and appends
 * every event to `events.jsonl` in the task folder, which the runner follows (event-follower.ts),
 * so the live view is the same as for a local task.
 *
 * How the job stands comes from `squeue --json` (then `sacct` where the cluster keeps records),
 * polled for all running tasks at once. Cancel is `scancel`, whose SIGTERM the worker takes as
 * locally (checkpoint, then exit). A job that SLURM requeues runs again and its worker continues
 * from the last checkpoint; its new execution starts with a new `ready` in the events file. A job
 * killed, preempted, out of time or cancelled outside Distillery fails its task with SLURM's state
 * named, its metrics and checkpoints kept; one that waits for a reason that never clears fails
 * after a bounded wait.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ErrorInfo } from '../../../preload/contract';
import { DistilleryError, serializeError, type SerializedError } from '../../base/errors';
import { Disposable, toDisposable } from '../../base/lifecycle';
import { onUnexpectedError } from '../../base/unexpected-error';
import { EVENTS_FILE, START_FILE } from '../../worker/protocol';
import { EventFileFollower, type FollowedEvent } from './event-follower';
import { SlurmClient, type SlurmJobStatus } from './slurm-client';
import type { SlurmSubmission } from './slurm-types';
import {
  isFinalState,
  type Execution,
  type ExecutionEnd,
  type ExecutionPlacement,
  type Executor,
  type ExecutorQueue,
  type TaskSubmission,
} from './types';

/** How the SLURM executor submits and watches jobs. */
export interface SlurmExecutorOptions {
  /** The worker entry the job runs (a `.ts` file runs through tsx). */
  workerEntry: string;
  /** Variables every job's worker gets (the backend choice, test switches). */
  workerEnv?: Readonly<Record<string, string>>;
  /** Runs SLURM's commands; one with this process's environment by default. */
  client?: SlurmClient;
  /** How often squeue is asked (ms, default 1000). */
  pollIntervalMs?: number;
  /** How long a job may wait for a reason that never clears by itself before its task fails (ms, default 60000). */
  neverStartsAfterMs?: number;
  /** How long a job may wait in the queue at all before its task fails (ms; 0, the default: no limit). */
  maxWaitMs?: number;
  /** How often the events file is read besides when fs.watch says it changed (ms, default 250). */
  eventsPollMs?: number;
}

/**
 * Reasons a pending job gives that do not clear by themselves: it asks for more than the
 * partition's nodes have or allow, or for an account, QOS or constraint it cannot have.
 */
const NEVER_STARTS = new Set([
  'PartitionConfig',
  'PartitionNodeLimit',
  'PartitionTimeLimit',
  'BadConstraints',
  'InvalidAccount',
  'InvalidQOS',
  'AccountNotAllowed',
  'QOSMinCpuNotSatisfied',
]);

/** Polls without news of a job before it counts as gone (squeue drops jobs after MinJobAge). */
const MISSING_POLLS = 5;
const TAIL_CHARS = 4000;
/** Tolerated clock difference between this machine and a compute node, for events of older jobs. */
const CLOCK_SLACK_MS = 60_000;

/** tsx's ESM loader, resolved from this package, so that a `.ts` worker entry runs on the node. */
function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

function tail(path: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > TAIL_CHARS ? text.slice(-TAIL_CHARS) : text;
  } catch {
    return '';
  }
}

/** Timings of one task's job, for the benchmark: when it was submitted, ran, and said ready. */
export interface SlurmJobTimings {
  jobId: string;
  nodeId: string;
  submittedAt: number;
  /** When sbatch returned the job id. */
  acceptedAt: number;
  /** When squeue first said it runs. */
  runningAt?: number;
  /** When its worker's `ready` was read from the events file. */
  readyAt?: number;
  endedAt?: number;
}

export class SlurmExecutor extends Disposable implements Executor {
  readonly name = 'slurm' as const;
  readonly client: SlurmClient;
  private readonly active = new Set<SlurmExecution>();
  private readonly pollIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** ms from the worker's write of each event to its delivery here (the newest 100,000). */
  readonly eventLatencies: number[] = [];
  /** The jobs submitted (the newest 10,000), with their timings. */
  readonly jobs: SlurmJobTimings[] = [];

  constructor(readonly options: SlurmExecutorOptions) {
    super();
    this.client = options.client ?? new SlurmClient();
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this._register(
      toDisposable(() => {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
        // Jobs of tasks still running would go on holding the cluster for a runner that is gone.
        this.cancelNow(
          [...this.active].filter((execution) => !execution.ended).map((execution) => execution.jobId),
        );
        for (const execution of [...this.active]) execution.dispose();
        this.active.clear();
      }),
    );
  }

  async submit(task: TaskSubmission): Promise<Execution> {
    const { request } = task;
    const taskDir = request.taskDir;
    const startFile = join(taskDir, START_FILE);
    const eventsFile = join(taskDir, EVENTS_FILE);
    try {
      // Written whole before sbatch: the job, and a requeue of it, read it from the shared folder.
      const temp = `${startFile}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(request));
      renameSync(temp, startFile);
    } catch (error) {
      throw new DistilleryError(
        'STORAGE_NOT_WRITABLE',
        `Node "${request.nodeId}": cannot write its start request ${startFile}: ${(error as Error).message}`,
        { nodeId: request.nodeId, taskId: request.taskId, file: startFile },
        { cause: error },
      );
    }
    // Lines an earlier attempt left in the events file are not this job's.
    const offset = existsSync(eventsFile) ? statSync(eventsFile).size : 0;
    const entry = this.options.workerEntry;
    const command = [
      process.execPath,
      ...(entry.endsWith('.ts') ? ['--import', tsxLoaderUrl()] : []),
      entry,
      '--start-file',
      startFile,
      '--events-file',
      eventsFile,
    ];
    const environment: Record<string, string> = { ...this.options.workerEnv };
    // The job has the CPUs it asked for, not the node's: the wasm backend's threads follow them.
    if (task.resources?.cpusPerTask !== undefined)
      environment.DISTILLERY_WASM_THREADS ??= String(task.resources.cpusPerTask);
    const submittedAt = Date.now();
    const submission = await this.client.submit({
      runId: task.runId,
      nodeId: request.nodeId,
      directory: taskDir,
      command,
      environment,
      ...(task.resources ? { resources: task.resources } : {}),
    });
    const timings: SlurmJobTimings = {
      jobId: submission.jobId,
      nodeId: request.nodeId,
      submittedAt,
      acceptedAt: Date.now(),
    };
    this.jobs.push(timings);
    if (this.jobs.length > 10_000) this.jobs.splice(0, this.jobs.length - 10_000);
    const execution = new SlurmExecution(this, task, submission, eventsFile, offset, timings);
    this.active.add(execution);
    void execution.finished.then(() => this.active.delete(execution));
    const asked = Object.entries(task.resources ?? {})
      .map(([field, value]) => `${field} ${Array.isArray(value) ? value.join(' ') : String(value)}`)
      .join(', ');
    task.onLog(
      'info',
      `Submitted to SLURM as job ${submission.jobId} (${asked || "the cluster's defaults"}); batch script ${submission.script}`,
    );
    if (submission.warnings) task.onLog('warn', `sbatch: ${submission.warnings}`);
    this.startPolling();
    return execution;
  }

  queue(): ExecutorQueue {
    let waiting = 0;
    let running = 0;
    for (const execution of this.active) {
      if (execution.placement.state === 'waiting') waiting++;
      else if (execution.placement.state === 'running') running++;
    }
    return { waiting, running };
  }

  /** Cancels jobs that runs whose runner died left behind (best effort; errors are reported). */
  cancelJobs(jobIds: readonly string[]): void {
    for (const jobId of jobIds) {
      this.client.cancel(jobId).catch((error: unknown) => {
        // A job that has ended meanwhile is what we wanted.
        if ((error as { code?: string }).code !== 'SLURM_JOB_NOT_FOUND') onUnexpectedError(error);
      });
    }
  }

  /**
   * Cancels jobs before returning: for an owner that is going away (its process may exit next), so
   * the asynchronous client will not do. Best effort: SLURM may be unreachable by then.
   */
  cancelNow(jobIds: readonly string[]): void {
    if (jobIds.length === 0) return;
    spawnSync('scancel', jobIds, { timeout: 10_000, stdio: 'ignore', env: this.client.environment });
  }

  /** Records how long an event took from the worker's write to here. */
  recordLatency(ms: number): void {
    this.eventLatencies.push(ms);
    if (this.eventLatencies.length > 100_000)
      this.eventLatencies.splice(0, this.eventLatencies.length - 100_000);
  }

  private startPolling(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.pollIntervalMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    const watched = [...this.active].filter((execution) => !execution.ended);
    if (watched.length === 0) {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    this.polling = true;
    try {
      const statuses = await this.client.status(watched.map((execution) => execution.jobId));
      for (const execution of watched) execution.update(statuses.get(execution.jobId));
    } catch (error) {
      // The controller may be back at the next poll; the jobs go on meanwhile.
      for (const execution of watched) execution.controllerUnavailable(error);
    } finally {
      this.polling = false;
    }
  }
}

/** One task's batch job, from submission to its end. */
class SlurmExecution extends Disposable implements Execution {
  readonly placement: ExecutionPlacement;
  readonly finished: Promise<ExecutionEnd>;
  readonly pid = undefined;
  readonly jobId: string;
  private readonly follower: EventFileFollower;
  private resolveEnd!: (end: ExecutionEnd) => void;
  private settled = false;
  /** The `execution` stamp of the events-file lines that belong to this job's current run. */
  private current: number | undefined;
  private reported: 'done' | 'error' | undefined;
  private workerError: SerializedError | undefined;
  private cancelRequested = false;
  private waitingSince: number;
  private lastReason: string | undefined;
  private missingPolls = 0;
  private restarts = 0;
  private unavailableSaid = false;

  constructor(
    private readonly executor: SlurmExecutor,
    private readonly task: TaskSubmission,
    private readonly submission: SlurmSubmission,
    eventsFile: string,
    offset: number,
    private readonly timings: SlurmJobTimings,
  ) {
    super();
    this.jobId = submission.jobId;
    this.waitingSince = timings.submittedAt;
    this.placement = {
      executor: 'slurm',
      jobId: submission.jobId,
      nodeName: null,
      warm: null,
      state: 'waiting',
    };
    this.finished = new Promise((resolve) => (this.resolveEnd = resolve));
    this.follower = this._register(
      new EventFileFollower(eventsFile, { offset, pollIntervalMs: executor.options.eventsPollMs ?? 250 }),
    );
    this._register(this.follower.onDidEvent((item) => this.onFollowed(item)));
    this._register(
      this.follower.onDidSkip((skipped) =>
        task.onLog('warn', `Events file: skipped a line at byte ${skipped.offset} (${skipped.reason})`),
      ),
    );
    this._register(this.follower.onDidError((error) => task.onLog('error', error.message)));
    task.onPlacement({ ...this.placement });
    this.follower.start();
  }

  get ended(): boolean {
    return this.settled;
  }

  /** scancel: SLURM sends SIGTERM, then SIGKILL after its KillWait; the cluster's grace, not ours. */
  async cancel(): Promise<void> {
    if (this.settled) return;
    this.cancelRequested = true;
    await this.scancel();
  }

  /** The same scancel: a job cannot be made to skip SLURM's SIGTERM without losing its accounting. */
  async kill(): Promise<void> {
    if (this.settled) return;
    this.cancelRequested = true;
    await this.scancel();
  }

  async logs(): Promise<string> {
    const out = tail(this.submission.outputFile);
    const err = tail(this.submission.errorFile);
    return [
      out && `--- ${this.submission.outputFile}\n${out}`,
      err && `--- ${this.submission.errorFile}\n${err}`,
    ]
      .filter(Boolean)
      .join('\n');
  }

  /** The controller did not answer a poll: said once in the task's log, then waited out. */
  controllerUnavailable(error: unknown): void {
    if (this.settled || this.unavailableSaid) return;
    this.unavailableSaid = true;
    this.task.onLog(
      'warn',
      `Cannot ask SLURM about job ${this.jobId} (${serializeError(error).message}); still waiting for it`,
    );
  }

  /** What the latest poll says of the job (undefined: SLURM did not list it). */
  update(status: SlurmJobStatus | undefined): void {
    if (this.settled) return;
    this.unavailableSaid = false;
    if (!status) {
      this.missingPolls++;
      // squeue forgets finished jobs after MinJobAge, and a cluster may keep no records: the events
      // file then says how the job ended.
      if (this.reported === 'error' && this.missingPolls >= 2) void this.settleFromEvents();
      else if (this.missingPolls >= MISSING_POLLS)
        void this.endWith('failed', {
          failure: this.failure(
            `SLURM no longer knows job ${this.jobId}, and its worker reported no result`,
            'SLURM_JOB_NOT_FOUND',
          ),
        });
      return;
    }
    this.missingPolls = 0;
    const before = { ...this.placement };
    if (status.node) this.placement.nodeName = status.node;
    if (status.restarts > this.restarts) {
      this.restarts = status.restarts;
      this.task.onLog(
        'warn',
        `SLURM requeued job ${this.jobId} (restart ${status.restarts}); it continues from its last checkpoint`,
      );
      this.reported = undefined;
      this.waitingSince = Date.now();
    }
    if (!isFinalState(status.state)) this.placement.state = status.state;
    if (status.state === 'waiting') {
      if (status.reason !== this.lastReason) {
        this.lastReason = status.reason;
        if (status.reason) this.task.onLog('info', `SLURM job ${this.jobId} is pending (${status.reason})`);
      }
      this.checkWaiting(status);
    } else if (status.state === 'running' && before.state !== 'running') {
      this.timings.runningAt ??= Date.now();
      this.task.onLog('info', `SLURM job ${this.jobId} is running on ${status.node ?? 'a node'}`);
    }
    if (before.state !== this.placement.state || before.nodeName !== this.placement.nodeName)
      this.task.onPlacement({ ...this.placement });
    if (isFinalState(status.state)) void this.settleFromStatus(status);
  }

  override dispose(): void {
    if (!this.settled) {
      // Its owner stops following it: the job is stopped too, rather than left running for nobody.
      this.settled = true;
      this.cancelRequested = true;
      this.executor.cancelNow([this.jobId]);
      this.resolveEnd({ state: 'cancelled', exit: { code: null, signal: null, stderrTail: '' } });
    }
    super.dispose();
  }

  private onFollowed(item: FollowedEvent): void {
    if (this.settled) return;
    const { event } = item;
    if (event.type === 'ready') {
      // A line of another job (an earlier attempt still being cancelled) names that job.
      if (
        event.jobId !== undefined
          ? event.jobId !== this.jobId
          : item.time < this.timings.submittedAt - CLOCK_SLACK_MS
      )
        return;
      this.current = item.execution;
      this.reported = undefined;
      this.workerError = undefined;
      this.timings.readyAt ??= Date.now();
      this.executor.recordLatency(Date.now() - item.time);
      const changed =
        this.placement.state !== 'running' ||
        (event.node !== undefined && event.node !== this.placement.nodeName);
      this.placement.state = 'running';
      if (event.node) this.placement.nodeName = event.node;
      if (changed) this.task.onPlacement({ ...this.placement });
      this.task.onEvent(event);
      return;
    }
    if (this.current === undefined || item.execution !== this.current) return;
    this.executor.recordLatency(Date.now() - item.time);
    this.task.onEvent(event);
    if (event.type === 'done') {
      this.reported = 'done';
      // Its outcome is known; the job only has its exit left to do.
      void this.endWith('succeeded', {});
    } else if (event.type === 'error') {
      this.reported = 'error';
      this.workerError = event.error;
    }
  }

  private checkWaiting(status: SlurmJobStatus): void {
    const waited = Date.now() - this.waitingSince;
    const reason = status.reason ?? 'no reason given';
    const neverStarts = this.executor.options.neverStartsAfterMs ?? 60_000;
    const maxWait = this.executor.options.maxWaitMs ?? 0;
    let message: string | undefined;
    if (status.reason && NEVER_STARTS.has(status.reason) && waited >= neverStarts) {
      message = `SLURM job ${this.jobId} cannot start: it is pending with reason ${reason}${explainReason(reason)}; cancelled after ${Math.round(waited / 1000)} s`;
    } else if (maxWait > 0 && waited >= maxWait) {
      message = `SLURM job ${this.jobId} did not start within ${Math.round(maxWait / 1000)} s (pending: ${reason}); cancelled`;
    }
    if (!message) return;
    const failure = this.failure(message, 'SLURM_JOB_NEVER_STARTED', { reason, waitedMs: waited });
    // It never ran, so there is nothing to wait for: the task fails now, the job is taken away.
    this.cancelRequested = true;
    void this.scancel();
    void this.endWith('failed', { failure });
  }

  /** The job ended in SLURM's view: read the rest of its events, then settle. */
  private async settleFromStatus(status: SlurmJobStatus): Promise<void> {
    await this.follower.readNow();
    if (this.settled) return;
    const exit = {
      code: status.exitCode ?? null,
      signal: status.signal !== undefined ? String(status.signal) : null,
      stderrTail: tail(this.submission.errorFile),
    };
    const slurmState = status.slurmState;
    const why = status.reason && status.reason !== 'None' ? `, ${status.reason}` : '';
    if (status.state === 'succeeded') return this.endWith('succeeded', { exit });
    if (status.state === 'cancelled') {
      if (this.cancelRequested) return this.endWith('cancelled', { exit });
      return this.endWith('failed', {
        exit,
        failure: this.failure(
          `SLURM job ${this.jobId} was cancelled outside Distillery (${slurmState}${why}); its metrics and last checkpoint are kept, resume to continue`,
          'SLURM_JOB_FAILED',
          { slurmState },
        ),
      });
    }
    // Failed. A worker that reported its own error said best what went wrong, unless SLURM ended it.
    if (slurmState.startsWith('FAILED') && status.signal === undefined && this.reported === 'error')
      return this.endWith('failed', { exit });
    const how = slurmState.startsWith('TIMEOUT')
      ? 'ran past its time limit'
      : slurmState.startsWith('PREEMPTED')
        ? 'was preempted'
        : slurmState.startsWith('NODE_FAIL')
          ? `lost its node${status.node ? ` ${status.node}` : ''}`
          : slurmState.startsWith('OUT_OF_MEMORY')
            ? 'ran out of memory'
            : status.signal !== undefined
              ? `was killed by signal ${status.signal}`
              : `failed with exit code ${status.exitCode ?? 'unknown'}`;
    const stderr = exit.stderrTail.trim().split('\n').slice(-6).join('\n');
    return this.endWith('failed', {
      exit,
      failure: this.failure(
        `SLURM job ${this.jobId} ${how} (${slurmState}${why}); its metrics and last checkpoint are kept, resume to continue${stderr ? `: ${stderr}` : ''}`,
        'SLURM_JOB_FAILED',
        { slurmState, exitCode: status.exitCode ?? null, signal: status.signal ?? null },
      ),
    });
  }

  /** SLURM has forgotten the job; the worker's reported error is its outcome. */
  private async settleFromEvents(): Promise<void> {
    await this.follower.readNow();
    const cancelled = this.workerError?.code === 'TASK_CANCELLED';
    await this.endWith(cancelled && this.cancelRequested ? 'cancelled' : 'failed', {});
  }

  private async endWith(
    state: ExecutionEnd['state'],
    { exit, failure }: { exit?: ExecutionEnd['exit']; failure?: ErrorInfo },
  ): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.timings.endedAt = Date.now();
    this.placement.state = state;
    this.task.onPlacement({ ...this.placement });
    this.follower.dispose();
    this.resolveEnd({
      state,
      exit: exit ?? { code: null, signal: null, stderrTail: tail(this.submission.errorFile) },
      ...(failure ? { failure } : {}),
    });
  }

  private async scancel(): Promise<void> {
    try {
      await this.executor.client.cancel(this.jobId, {
        task: { runId: this.task.runId, nodeId: this.task.request.nodeId },
      });
    } catch (error) {
      if ((error as { code?: string }).code === 'SLURM_JOB_NOT_FOUND') return;
      this.task.onLog('error', serializeError(error).message);
    }
  }

  private failure(
    message: string,
    code: ErrorInfo['code'],
    details: Record<string, unknown> = {},
  ): ErrorInfo {
    const { nodeId, taskId } = this.task.request;
    return {
      code,
      message: `Node "${nodeId}": ${message}`,
      details: { ...details, nodeId, taskId, runId: this.task.runId, jobId: this.jobId, executor: 'slurm' },
    };
  }
}

/** What a pending reason means, for the message of a job that never starts. */
function explainReason(reason: string): string {
  switch (reason) {
    case 'PartitionConfig':
      return ' (it asks for more CPUs, memory or GPUs than any node of the partition has)';
    case 'PartitionNodeLimit':
      return ' (it asks for more nodes than the partition allows)';
    case 'PartitionTimeLimit':
      return " (its --time is over the partition's limit)";
    case 'BadConstraints':
      return ' (no node has the features it asks for)';
    case 'InvalidAccount':
    case 'AccountNotAllowed':
      return ' (its account may not use this partition)';
    case 'InvalidQOS':
      return ' (its QOS is not valid here)';
    default:
      return '';
  }
}
