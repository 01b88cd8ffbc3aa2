/**
 * The runner: turns a pipeline into tasks, runs each in a worker subprocess (independent branches
 * in parallel, up to a concurrency limit), reuses finished tasks by fingerprint, records every
 * event, registers every model, and handles cancel, resume and crashes. It is the only writer of
 * run records.
 */
import { rmSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type {
  ErrorInfo,
  ExecutorName,
  LogLine,
  MetricBatch,
  RegistryChange,
  RunInfo,
  TaskInfo,
  TaskSample,
} from '../../preload/contract';
import { DistilleryError } from '../base/errors';
import { Emitter } from '../base/event';
import { AbortOnDispose, Disposable, toDisposable } from '../base/lifecycle';
import type { NodeCatalog } from '../nodes/catalog';
import { invalidPipelineError } from '../pipeline/pipeline-file';
import { planPipeline } from '../pipeline/plan';
import { validatePipeline } from '../pipeline/validate';
import { markAbandoned, settleIfAbandoned, type AbandonedRunsHost } from './abandoned-runs';
import { ExecutorSet, type RunnerExecutorOptions } from './executors/executor-set';
import { EXTERNAL_POLL_MS, ExternalChangeWatcher } from './external-changes';
import { RunFolders } from './run-folder';
import { deleteRunModels, type DeletedRun, type RunModelsPort } from './run-deletion';
import { RunScheduler } from './run-scheduler';
import { SETTLED, type ActiveTask } from './run-state';
import type { RunStorePort } from './run-store-port';
import { TaskEventRecorder, type ModelRegistryPort } from './task-events';
import { createRunTasks, forcedNodes } from './task-planning';
import { placeCheckpoint, saltFingerprints, type RunStartPoint } from './start-from';

export type { ModelRegistryPort } from './task-events';
export type { RunStartPoint } from './start-from';
export type { DeletedRun, RunModelsPort } from './run-deletion';

/** What a sweep's trial asks of its run beyond an ordinary one (jobs/sweeps.ts). */
export interface TrialRunOptions {
  /** One task continues from this checkpoint instead of from scratch (a PBT pause or exploit). */
  startFrom?: RunStartPoint;
  /** Merged into the meta of every model version the run registers (the sweep and trial). */
  modelMeta?: Record<string, unknown>;
}

export interface RunnerOptions extends RunnerExecutorOptions {
  store: RunStorePort;
  registry: ModelRegistryPort;
  catalog: NodeCatalog;
  /** Root of run folders: `<runsDir>/<runId>/<nodeId>/`. */
  runsDir: string;
  workerEntry: string;
  concurrency: number;
  /** Forced backend for every worker (`DISTILLERY_BACKEND`); undefined = auto. */
  backend?: string;
  /** Time between `cancel` and SIGTERM, and between SIGTERM and SIGKILL. */
  cancelGraceMs?: number;
  /** Extra environment for workers (tests use it to make workers misbehave). */
  workerEnv?: NodeJS.ProcessEnv;
  /**
   * How often to look for runs and registry changes that other processes write to the same data
   * directory (0: never); default EXTERNAL_POLL_MS.
   */
  externalPollMs?: number;
}

/** What `start` takes besides the document. */
export interface StartOptions {
  /** Run every task again instead of reusing finished ones. */
  force?: boolean;
  /** Run these nodes and every node downstream of them again; the others may be reused. */
  forceNodes?: readonly string[];
  pipelineFile?: string | null;
  /** Where the run's tasks run, over the runner's choice and the pipeline's `executor` block. */
  executor?: ExecutorName;
}

export function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(2, 12);
  return `r${stamp}-${randomBytes(3).toString('hex')}`;
}

export class Runner extends Disposable {
  private readonly _onDidChangeRun = this._register(new Emitter<RunInfo>());
  readonly onDidChangeRun = this._onDidChangeRun.event;
  private readonly _onDidChangeTask = this._register(new Emitter<TaskInfo>());
  readonly onDidChangeTask = this._onDidChangeTask.event;
  private readonly _onDidMetrics = this._register(new Emitter<MetricBatch>());
  readonly onDidMetrics = this._onDidMetrics.event;
  private readonly _onDidLog = this._register(new Emitter<LogLine>());
  readonly onDidLog = this._onDidLog.event;
  private readonly _onDidSample = this._register(new Emitter<TaskSample>());
  readonly onDidSample = this._onDidSample.event;
  /** The registry changed, in this process or another one using the data directory. */
  private readonly _onDidChangeRegistry = this._register(new Emitter<RegistryChange>());
  readonly onDidChangeRegistry = this._onDidChangeRegistry.event;
  /** Runs this runner has run: another process's writes to them are not news. */
  private readonly ownRuns = new Set<string>();
  private readonly disposal = this._register(new AbortOnDispose());

  private readonly executors: ExecutorSet;
  private readonly store: RunStorePort;
  private readonly folders: RunFolders;
  private readonly recorder: TaskEventRecorder;
  private readonly scheduler: RunScheduler;
  private readonly abandoned: AbandonedRunsHost;

  constructor(private readonly options: RunnerOptions) {
    super();
    this.store = options.store;
    this.folders = this._register(new RunFolders(options.runsDir));
    this.executors = this._register(
      new ExecutorSet({
        ...(options.executor ? { executor: options.executor } : {}),
        ...(options.warmWorkers !== undefined ? { warmWorkers: options.warmWorkers } : {}),
        ...(options.warmIdleMs !== undefined ? { warmIdleMs: options.warmIdleMs } : {}),
        ...(options.slurm ? { slurm: options.slurm } : {}),
        dataDir: dirname(options.runsDir),
        workerEntry: options.workerEntry,
        workerEnv: {
          ...options.workerEnv,
          ...(options.backend ? { DISTILLERY_BACKEND: options.backend } : {}),
        },
      }),
    );
    this.recorder = new TaskEventRecorder(this.store, options.registry, options.catalog, {
      metrics: (batch) => this._onDidMetrics.fire(batch),
      log: (line) => this._onDidLog.fire(line),
      task: (info) => this._onDidChangeTask.fire(info),
      sample: (sample) => this._onDidSample.fire(sample),
    });
    this.scheduler = new RunScheduler({
      store: this.store,
      folders: this.folders,
      recorder: this.recorder,
      executors: this.executors,
      catalog: options.catalog,
      runsDir: options.runsDir,
      concurrency: options.concurrency,
      cancelGraceMs: options.cancelGraceMs ?? 5000,
      signal: this.disposal.signal,
      events: {
        run: (info) => this._onDidChangeRun.fire(info),
        task: (info) => this._onDidChangeTask.fire(info),
        log: (line) => this._onDidLog.fire(line),
      },
    });
    this.abandoned = {
      store: this.store,
      folders: this.folders,
      executors: this.executors,
      isActive: (runId) => this.scheduler.runs.has(runId),
      backfillMetrics: (taskId, taskDir) => this.scheduler.backfillMetrics(taskId, taskDir),
      emitTask: (taskId) => this.scheduler.emitTask(taskId),
      emitRun: (runId) => this._onDidChangeRun.fire(this.store.getRun(runId)),
    };
    this.settleAbandonedRuns();
    this._register(
      new ExternalChangeWatcher(
        this.store,
        (runId) => this.ownRuns.has(runId),
        {
          run: (info) => this._onDidChangeRun.fire(info),
          task: (info) => this._onDidChangeTask.fire(info),
          metrics: (batch) => this._onDidMetrics.fire(batch),
          log: (line) => this._onDidLog.fire(line),
          registry: (change) => this._onDidChangeRegistry.fire(change),
        },
        options.externalPollMs ?? EXTERNAL_POLL_MS,
      ),
    );
    // Another process (`distillery cancel RUN`) asks to cancel by dropping a marker file.
    const timer = setInterval(() => this.scheduler.pollCancelMarkers(), 300);
    timer.unref();
    this._register(toDisposable(() => clearInterval(timer)));
    this._register(
      toDisposable(() => {
        for (const run of this.scheduler.runs.values())
          for (const task of run.tasks.values()) task.execution?.dispose();
      }),
    );
  }

  /** Tasks waiting for a free worker slot (or SLURM job slot), across runs. */
  get queueLength(): number {
    return this.scheduler.queueLength;
  }

  /** Pid of the local worker running a task, while it runs. */
  workerPid(taskId: string): number | undefined {
    for (const run of this.scheduler.runs.values())
      for (const task of run.tasks.values()) if (task.id === taskId) return task.execution?.pid;
    return undefined;
  }

  /** The local executor's warm pool and the SLURM executor (once used), for status and tests. */
  get executorSet(): ExecutorSet {
    return this.executors;
  }

  isActive(runId: string): boolean {
    return this.scheduler.runs.has(runId);
  }

  /** Validates, plans and starts a run. Resolves once the run is recorded (not finished). */
  start(doc: unknown, options: StartOptions & TrialRunOptions = {}): RunInfo {
    const { issues, pipeline } = validatePipeline(
      doc,
      this.options.catalog,
      options.pipelineFile ?? undefined,
    );
    if (!pipeline) throw invalidPipelineError(issues, options.pipelineFile ?? undefined);
    const executor = this.executors.choose(options.executor, pipeline.doc);
    const planned = options.startFrom
      ? saltFingerprints(planPipeline(pipeline), options.startFrom)
      : planPipeline(pipeline);
    const forced = forcedNodes(planned, options.forceNodes ?? []);
    const runId = newRunId();
    // The run folder (with its owner file) exists before any record of the run does: a run that is
    // recorded as queued or running always names its owner, and a folder that cannot be written
    // refuses the run before anything is recorded.
    this.folders.claim(runId);
    let startCheckpoint: ReturnType<typeof placeCheckpoint> | undefined;
    try {
      // Copied before anything is recorded: a checkpoint that cannot be copied refuses the run.
      if (options.startFrom)
        startCheckpoint = placeCheckpoint(
          options.startFrom,
          this.folders.taskDir(runId, options.startFrom.nodeId),
        );
      this.store.createRun({
        id: runId,
        name: pipeline.doc.name,
        seed: pipeline.doc.seed,
        pipeline: pipeline.doc,
        pipelineFile: options.pipelineFile ?? null,
      });
    } catch (error) {
      this.folders.release(runId);
      throw error;
    }
    const tasks = createRunTasks(this.store, this.folders, runId, planned);
    if (options.startFrom && startCheckpoint) {
      // Recorded as the task's own checkpoint, so that a resume after a crash starts from it too.
      const task = tasks.get(options.startFrom.nodeId)!;
      task.resumeFrom = startCheckpoint.path;
      this.store.updateTask(task.id, { checkpoint: startCheckpoint });
    }
    return this.activate(
      runId,
      pipeline.doc,
      tasks,
      options.force ?? false,
      options.modelMeta,
      forced,
      executor,
    );
  }

  /** Continues a cancelled or failed run: finished tasks stay, the rest restart from their last checkpoint. */
  resume(
    runId: string,
    options: Pick<TrialRunOptions, 'modelMeta'> & { executor?: ExecutorName } = {},
  ): RunInfo {
    if (this.scheduler.runs.has(runId)) {
      throw new DistilleryError('RUN_NOT_RESUMABLE', `Run "${runId}" is still running`, { received: runId });
    }
    // A run whose runner died is settled as interrupted first, so it resumes like a failed one.
    this.settleIfAbandoned(this.store.getRun(runId));
    const info = this.store.getRun(runId);
    const doc = this.store.getRunRecord(runId).pipeline;
    if (info.status !== 'cancelled' && info.status !== 'failed') {
      throw new DistilleryError(
        'RUN_NOT_RESUMABLE',
        `Run "${runId}" is ${info.status}; only cancelled or failed runs resume`,
        {
          expected: 'cancelled or failed',
          received: info.status,
        },
      );
    }
    const { issues, pipeline } = validatePipeline(doc, this.options.catalog);
    if (!pipeline) throw invalidPipelineError(issues);
    // Where it ran before, unless told otherwise: the last task that ran names the executor.
    const previous = info.tasks.reduce<ExecutorName | undefined>(
      (found, task) => task.executor ?? found,
      undefined,
    );
    const executor = this.executors.choose(options.executor, doc, previous);
    this.folders.claim(runId);
    const byNode = new Map(info.tasks.map((task) => [task.nodeId, task]));
    const tasks = new Map<string, ActiveTask>();
    for (const planned of planPipeline(pipeline)) {
      const record = byNode.get(planned.nodeId);
      if (!record) {
        this.folders.release(runId);
        throw new DistilleryError(
          'RUN_NOT_RESUMABLE',
          `Run "${runId}" has no task for node "${planned.nodeId}"`,
        );
      }
      const settledOk = record.status === 'done' || record.status === 'reused';
      const task: ActiveTask = {
        id: record.id,
        planned,
        status: settledOk ? record.status : 'queued',
        outputs: settledOk ? (this.store.getTask(record.id)?.outputs ?? {}) : {},
        attempt: record.attempt,
        enqueued: false,
        latestMetrics: {},
        pending: [],
      };
      if (!settledOk) {
        if (record.checkpoint && existsSync(record.checkpoint.path)) task.resumeFrom = record.checkpoint.path;
        // What the interrupted attempt wrote to its metrics file but never reported is recorded
        // before the next attempt starts re-recording the steps after its checkpoint.
        this.scheduler.backfillMetrics(record.id, record.taskDir);
        this.store.updateTask(record.id, { status: 'queued', error: null, finishedAt: null });
        this.scheduler.emitTask(task.id);
      }
      tasks.set(planned.nodeId, task);
    }
    this.store.updateRun(runId, { status: 'queued', error: null, finishedAt: null });
    this.folders.clearCancel(runId);
    return this.activate(runId, doc, tasks, false, options.modelMeta, new Set(), executor);
  }

  /**
   * Deletes a settled run: its records, metrics and logs, and its folder. The model versions it
   * registered stay unless `deleteModels`; then each is deleted unless others derive from it (it is
   * kept and named in `keptModels`). Refused with RUN_ACTIVE while the run is queued or running.
   */
  deleteRun(runId: string, options: { deleteModels?: boolean; models?: RunModelsPort } = {}): DeletedRun {
    this.settleIfAbandoned(this.store.getRun(runId));
    const info = this.store.getRun(runId);
    if (this.scheduler.runs.has(runId) || info.status === 'queued' || info.status === 'running') {
      throw new DistilleryError(
        'RUN_ACTIVE',
        `Run "${runId}" is ${info.status}; cancel it before deleting it`,
        {
          received: info.status,
          expected: 'done, failed or cancelled',
        },
      );
    }
    const { deletedModels, keptModels } =
      options.deleteModels && options.models
        ? deleteRunModels(options.models, runId)
        : { deletedModels: [], keptModels: [] };
    this.store.deleteRun(runId);
    this.ownRuns.delete(runId);
    rmSync(this.folders.dir(runId), { recursive: true, force: true });
    return { deleted: runId, deletedModels, keptModels };
  }

  /**
   * Cancels a run. In this process: queued tasks are dropped, running ones get cancel → SIGTERM →
   * SIGKILL and keep their last checkpoint. A run owned by another live process is asked through a
   * marker file; a run whose owner died is marked cancelled directly.
   */
  cancel(runId: string): RunInfo {
    const run = this.scheduler.runs.get(runId);
    if (run) {
      this.scheduler.cancelActive(run);
      return this.store.getRun(runId);
    }
    const info = this.store.getRun(runId);
    if (info.status !== 'queued' && info.status !== 'running') {
      throw new DistilleryError('RUN_ALREADY_FINISHED', `Run "${runId}" is already ${info.status}`, {
        received: info.status,
      });
    }
    if (this.folders.ownedElsewhere(runId)) {
      this.folders.requestCancel(runId);
      return info;
    }
    this.markAbandoned(info, 'cancelled', {
      code: 'TASK_CANCELLED',
      message: 'Cancelled after the process running it had exited',
    });
    return this.store.getRun(runId);
  }

  /**
   * Settles every run left `queued` or `running` by a runner that is no longer alive (killed,
   * crashed, its machine rebooted) as failed with RUN_INTERRUPTED, so it can be resumed; runs of a
   * live runner, in this process or another, are left alone. Called when the data directory is
   * opened and before runs are listed.
   */
  settleAbandonedRuns(): void {
    for (const info of this.store.listUnsettledRuns()) this.settleIfAbandoned(info);
  }

  /**
   * Also records `error` (reported by the process guard: it had no caller) in the log of every
   * active run, on its running tasks, or on its first unfinished one while none runs.
   */
  recordUnexpectedError(error: unknown): void {
    const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
    for (const run of this.scheduler.runs.values()) {
      const unsettled = [...run.tasks.values()].filter((task) => !SETTLED.has(task.status));
      const running = unsettled.filter((task) => task.status === 'running');
      for (const task of running.length > 0 ? running : unsettled.slice(0, 1)) {
        const line: LogLine = {
          runId: run.id,
          taskId: task.id,
          level: 'error',
          message: `Unexpected error in the runner process (the run goes on): ${text}`,
          time: Date.now(),
        };
        this.store.appendLog(line);
        this._onDidLog.fire(line);
      }
    }
  }

  /** Resolves when the run settles (done, failed or cancelled). */
  async waitForRun(runId: string): Promise<RunInfo> {
    const run = this.scheduler.runs.get(runId);
    return run ? run.finished : this.store.getRun(runId);
  }
  // -------------------------------------------------------------------------------------------

  /** Starts a recorded run's tasks (see RunScheduler.activate); this runner owns it from now on. */
  private activate(...args: Parameters<RunScheduler['activate']>): RunInfo {
    this.ownRuns.add(args[0]);
    return this.scheduler.activate(...args);
  }

  private settleIfAbandoned(info: RunInfo): void {
    settleIfAbandoned(this.abandoned, info);
  }

  private markAbandoned(info: RunInfo, status: 'failed' | 'cancelled', error: ErrorInfo): void {
    markAbandoned(this.abandoned, info, status, error);
  }
}
