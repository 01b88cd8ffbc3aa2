/**
 * The runs a runner is running: their tasks wait in the worker (or SLURM job) queue until their
 * inputs have settled, and each settled task moves its run on, until the run finishes, is
 * cancelled (here or through a marker file another process drops), or can no longer be recorded.
 */
import type {
  ErrorInfo,
  ExecutorName,
  LogLine,
  PipelineDoc,
  RunInfo,
  TaskInfo,
  TaskStatus,
} from '../../preload/contract';
import { onUnexpectedError } from '../base/unexpected-error';
import type { NodeCatalog } from '../nodes/catalog';
import type { ExecutorSet } from './executors/executor-set';
import { metricsFilePath, readMetricsFile } from './metrics-file';
import { ConcurrencyQueue } from './queue';
import type { RunFolders } from './run-folder';
import { now, SETTLED, type ActiveRun, type ActiveTask } from './run-state';
import type { RunStorePort } from './run-store-port';
import type { TaskEventRecorder } from './task-events';
import { TaskExecution, type TaskExecutionHost } from './task-execution';
import { parallelWidth } from './task-planning';

/** What the runs' changes are told to: the runner's events. */
export interface RunSchedulerEvents {
  run(info: RunInfo): void;
  task(info: TaskInfo): void;
  log(line: LogLine): void;
}

/** What the run scheduler is built from: the runner's stores, executors and events. */
export interface RunSchedulerOptions {
  store: RunStorePort;
  folders: RunFolders;
  recorder: TaskEventRecorder;
  executors: ExecutorSet;
  catalog: NodeCatalog;
  /** Root of run folders (`<data dir>/runs`). */
  runsDir: string;
  /** Local worker slots. */
  concurrency: number;
  /** Time between `cancel` and SIGTERM, and between SIGTERM and SIGKILL. */
  cancelGraceMs: number;
  /** Aborted when the runner is disposed. */
  signal: AbortSignal;
  events: RunSchedulerEvents;
}

/** The runner's active runs, from activation to their end. */
export class RunScheduler implements TaskExecutionHost {
  readonly runs = new Map<string, ActiveRun>();
  readonly store: RunStorePort;
  readonly folders: RunFolders;
  readonly recorder: TaskEventRecorder;
  readonly executors: ExecutorSet;
  readonly catalog: NodeCatalog;
  readonly runsDir: string;
  readonly signal: AbortSignal;
  private readonly queue: ConcurrencyQueue;
  /** SLURM jobs wait for the cluster, not for this machine's cores: they have a queue of their own. */
  private slurmQueue: ConcurrencyQueue | undefined;
  private readonly concurrency: number;
  private readonly cancelGraceMs: number;
  private readonly events: RunSchedulerEvents;
  private readonly execution: TaskExecution;

  constructor(options: RunSchedulerOptions) {
    this.store = options.store;
    this.folders = options.folders;
    this.recorder = options.recorder;
    this.executors = options.executors;
    this.catalog = options.catalog;
    this.runsDir = options.runsDir;
    this.signal = options.signal;
    this.concurrency = options.concurrency;
    this.queue = new ConcurrencyQueue(options.concurrency);
    this.cancelGraceMs = options.cancelGraceMs;
    this.events = options.events;
    this.execution = new TaskExecution(this);
  }

  /** Tasks waiting for a free worker slot (or SLURM job slot), across runs. */
  get queueLength(): number {
    return this.queue.length + (this.slurmQueue?.length ?? 0);
  }

  /** Marks a recorded run running, tells it, warms workers for it and schedules its tasks. */
  activate(
    runId: string,
    doc: PipelineDoc,
    tasks: Map<string, ActiveTask>,
    force: boolean,
    modelMeta?: Record<string, unknown>,
    forced: ReadonlySet<string> = new Set(),
    executor: ExecutorName = 'local',
  ): RunInfo {
    let resolve!: (run: RunInfo) => void;
    const finished = new Promise<RunInfo>((r) => (resolve = r));
    this.store.updateRun(runId, {
      status: 'running',
      startedAt: this.store.getRun(runId)?.startedAt ?? now(),
    });
    const info = this.store.getRun(runId);
    const run: ActiveRun = {
      id: runId,
      doc,
      force,
      forced,
      tasks,
      executor,
      cancelRequested: false,
      cancellation: new AbortController(),
      info,
      finished,
      resolve,
    };
    if (modelMeta) run.modelMeta = modelMeta;
    this.runs.set(runId, run);
    this.events.run(info);
    // Workers for the tasks that can run side by side start loading now, not when each is due.
    if (executor === 'local') this.executors.local.prewarm(Math.min(this.concurrency, parallelWidth(tasks)));
    this.schedule(run);
    return this.store.getRun(runId);
  }
  private schedule(run: ActiveRun): void {
    for (const task of run.tasks.values()) {
      if (task.status !== 'queued' || task.enqueued) continue;
      const deps = task.planned.dependsOn.map((nodeId) => run.tasks.get(nodeId)!);
      if (
        deps.some((dep) => dep.status === 'failed' || dep.status === 'cancelled' || dep.status === 'skipped')
      ) {
        const failed = deps.find(
          (dep) => dep.status !== 'done' && dep.status !== 'reused' && SETTLED.has(dep.status),
        )!;
        this.settleTask(run, task, run.cancelRequested ? 'cancelled' : 'skipped', {
          error: {
            code: 'UPSTREAM_FAILED',
            message: `Not run: upstream task "${failed.planned.nodeId}" ${failed.status}`,
            details: { nodeId: failed.planned.nodeId },
          },
        });
        continue;
      }
      if (deps.every((dep) => dep.status === 'done' || dep.status === 'reused')) {
        task.enqueued = true;
        this.queueOf(run).enqueue(task.id, () => this.execution.execute(run, task));
      }
    }
    this.maybeFinish(run);
  }
  /** The queue a run's tasks wait in: this machine's worker slots, or the SLURM job slots. */
  private queueOf(run: ActiveRun): ConcurrencyQueue {
    if (run.executor !== 'slurm') return this.queue;
    this.slurmQueue ??= new ConcurrencyQueue(this.executors.maxSlurmJobs());
    return this.slurmQueue;
  }

  /** Records a runner-side log line of a task and tells it. */
  log(run: ActiveRun, task: ActiveTask, level: LogLine['level'], message: string): void {
    const line: LogLine = { runId: run.id, taskId: task.id, level, message, time: Date.now() };
    this.store.appendLog(line);
    this.events.log(line);
  }

  /** Records a task's end, tells it, and moves its run on. */
  settleTask(
    run: ActiveRun,
    task: ActiveTask,
    status: TaskStatus,
    result: { error?: ErrorInfo | undefined; summary?: Record<string, unknown> | undefined },
  ): void {
    task.status = status;
    this.recorder.settled(task.id);
    // Points the worker wrote but never sent (it was killed mid-batch) are in its metrics file.
    if (task.attempt > 0) this.backfillMetrics(task.id, this.folders.taskDir(run.id, task.planned.nodeId));
    const patch: Parameters<RunStorePort['updateTask']>[1] = { status, finishedAt: now() };
    if (result.error) patch.error = result.error;
    if (result.summary) patch.summary = result.summary;
    if (status === 'done') patch.figures = this.store.computeFigures(task.id);
    this.store.updateTask(task.id, patch);
    if (patch.figures) {
      try {
        this.recorder.recordTrainingFigures(task, patch.figures);
      } catch (error) {
        // The figures stay on the task; the registry only misses its copy of them.
        onUnexpectedError(error);
      }
    }
    this.emitTask(task.id);
    this.schedule(run);
  }

  /**
   * settleTask for the error path: if even that fails (the store cannot be written), the error is
   * reported and the run still settles in memory, so whoever waits for it is answered.
   */
  settleTaskSafely(
    run: ActiveRun,
    task: ActiveTask,
    status: TaskStatus,
    result: { error?: ErrorInfo | undefined },
  ): void {
    try {
      this.settleTask(run, task, status, result);
    } catch (error) {
      onUnexpectedError(error);
      task.status = status;
      try {
        this.schedule(run);
      } catch (scheduleError) {
        onUnexpectedError(scheduleError);
        this.finishUnrecorded(run);
      }
    }
  }

  /** Ends a run the store can no longer record: settles what is left and answers its waiters. */
  private finishUnrecorded(run: ActiveRun): void {
    if (!this.runs.delete(run.id)) return;
    this.queueOf(run).remove((key) => [...run.tasks.values()].some((task) => task.id === key));
    for (const task of run.tasks.values()) {
      task.execution?.dispose();
      if (!SETTLED.has(task.status)) task.status = 'failed';
    }
    const info: RunInfo = { ...run.info, status: 'failed', finishedAt: now() };
    this.events.run(info);
    run.resolve(info);
  }

  /** Cancels a run of this process: queued tasks are dropped, running ones are asked to stop. */
  cancelActive(run: ActiveRun): void {
    if (run.cancelRequested) return;
    run.cancelRequested = true;
    run.cancellation.abort();
    this.queueOf(run).remove((key) => [...run.tasks.values()].some((task) => task.id === key));
    for (const task of run.tasks.values()) {
      if (task.execution) void task.execution.cancel(this.cancelGraceMs);
      else if (task.status === 'queued') this.settleTask(run, task, 'cancelled', {});
    }
  }

  private maybeFinish(run: ActiveRun): void {
    if (![...run.tasks.values()].every((task) => SETTLED.has(task.status))) return;
    if (!this.runs.has(run.id)) return;
    const statuses = [...run.tasks.values()].map((task) => task.status);
    const status = statuses.includes('failed')
      ? 'failed'
      : statuses.includes('cancelled') || run.cancelRequested
        ? 'cancelled'
        : 'done';
    const firstError = [...run.tasks.values()].find((task) => task.status === 'failed');
    let info: RunInfo;
    try {
      this.store.updateRun(run.id, {
        status,
        finishedAt: now(),
        error: firstError ? (this.store.getTaskInfo(firstError.id)?.error ?? null) : null,
      });
      info = this.store.getRun(run.id);
    } catch (error) {
      // Whoever waits for the run is answered even when its record cannot be written.
      onUnexpectedError(error);
      info = { ...run.info, status, finishedAt: now() };
    }
    this.runs.delete(run.id);
    try {
      this.folders.release(run.id);
    } catch (error) {
      onUnexpectedError(error);
    }
    this.events.run(info);
    run.resolve(info);
  }

  /** Cancels the runs another process asked to cancel through a marker file. */
  pollCancelMarkers(): void {
    for (const run of this.runs.values()) {
      if (!run.cancelRequested && this.folders.cancelRequested(run.id)) this.cancelActive(run);
    }
  }

  /**
   * Makes the task's stored metrics match its metrics file (one point per metric and step, the
   * latest execution's). A file that cannot be read is reported, never a reason to fail the task.
   */
  backfillMetrics(taskId: string, taskDir: string): void {
    try {
      this.store.backfillMetrics(taskId, readMetricsFile(metricsFilePath(taskDir)).points);
    } catch (error) {
      onUnexpectedError(error);
    }
  }

  /** Tells a task's change as its record shows it. */
  emitTask(taskId: string): void {
    const info = this.store.getTaskInfo(taskId);
    if (info) this.events.task(info);
  }
}
