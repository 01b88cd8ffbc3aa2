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
import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DistilleryError } from '../../base/errors';
import { Disposable, toDisposable } from '../../base/lifecycle';
import { onUnexpectedError } from '../../base/unexpected-error';
import { EVENTS_FILE, START_FILE } from '../../worker/protocol';
import { SlurmClient } from './slurm-client';
import { SlurmExecution, type SlurmExecutionOptions, type SlurmJobTimings } from './slurm-execution';
import type { Execution, Executor, ExecutorQueue, TaskSubmission } from './types';

/** How the SLURM executor submits and watches jobs. */
export interface SlurmExecutorOptions extends SlurmExecutionOptions {
  /** The worker entry the job runs (a `.ts` file runs through tsx). */
  workerEntry: string;
  /** Variables every job's worker gets (the backend choice, test switches). */
  workerEnv?: Readonly<Record<string, string>>;
  /** Runs SLURM's commands; one with this process's environment by default. */
  client?: SlurmClient;
  /** How often squeue is asked (ms, default 1000). */
  pollIntervalMs?: number;
}

/** tsx's ESM loader, resolved from this package, so that a `.ts` worker entry runs on the node. */
function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
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
