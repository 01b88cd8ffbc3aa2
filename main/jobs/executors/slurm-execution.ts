/**
 * One task's SLURM batch job, from submission to its end: the events its worker appends to the
 * task folder, the job's state as squeue and sacct report it, and the outcome its task settles
 * with (SLURM's state named when the job was killed, preempted, out of time or cancelled
 * elsewhere; a bounded wait for a pending reason that never clears).
 */
import { readFileSync } from 'node:fs';
import type { ErrorInfo } from '../../../preload/contract';
import { serializeError, type SerializedError } from '../../base/errors';
import { Disposable } from '../../base/lifecycle';
import { EventFileFollower, type FollowedEvent } from './event-follower';
import type { SlurmClient, SlurmJobStatus } from './slurm-client';
import type { SlurmSubmission } from './slurm-types';
import {
  isFinalState,
  type Execution,
  type ExecutionEnd,
  type ExecutionPlacement,
  type TaskSubmission,
} from './types';

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

/** How a job's execution waits: for a job that does not start, and for its worker's events. */
export interface SlurmExecutionOptions {
  /** How long a job may wait for a reason that never clears by itself before its task fails (ms, default 60000). */
  neverStartsAfterMs?: number;
  /** How long a job may wait in the queue at all before its task fails (ms; 0, the default: no limit). */
  maxWaitMs?: number;
  /** How often the events file is read besides when fs.watch says it changed (ms, default 250). */
  eventsPollMs?: number;
}

/** What a job's execution needs of its executor: its settings, its client, and where latencies go. */
export interface SlurmExecutionHost {
  readonly options: SlurmExecutionOptions;
  readonly client: SlurmClient;
  /** Cancels jobs before returning (best effort). */
  cancelNow(jobIds: readonly string[]): void;
  /** Records how long an event took from the worker's write to here. */
  recordLatency(ms: number): void;
}

/** One task's batch job, from submission to its end. */
export class SlurmExecution extends Disposable implements Execution {
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
    private readonly executor: SlurmExecutionHost,
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
