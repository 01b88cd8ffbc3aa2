/**
 * The runner: turns a pipeline into tasks, runs each in a worker subprocess (independent branches
 * in parallel, up to a concurrency limit), reuses finished tasks by fingerprint, records every
 * event, registers every model, and handles cancel, resume and crashes. It is the only writer of
 * run records.
 */
import { existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type {
  ArtifactRef,
  ErrorInfo,
  ExecutorName,
  LogLine,
  MetricBatch,
  PipelineDoc,
  RegistryChange,
  RunInfo,
  TaskInfo,
  TaskSample,
  TaskStatus,
} from '../../preload/contract';
import { DistilleryError, serializeError } from '../base/errors';
import { Emitter } from '../base/event';
import { AbortOnDispose, Disposable, toDisposable } from '../base/lifecycle';
import { onUnexpectedError } from '../base/unexpected-error';
import { EXPORTS_FOLDER, withExportFolders } from '../export/out-dir';
import type { NodeCatalog } from '../nodes/catalog';
import { invalidPipelineError } from '../pipeline/pipeline-file';
import { planPipeline } from '../pipeline/plan';
import { validatePipeline } from '../pipeline/validate';
import { PROTOCOL_VERSION, type StartRequest } from '../worker/protocol';
import { ExecutorSet, type RunnerExecutorOptions } from './executors/executor-set';
import type { Execution, ExecutionPlacement, Executor } from './executors/types';
import { EXTERNAL_POLL_MS, ExternalChangeWatcher } from './external-changes';
import { externalEffectsChanged, externalPaths, recordExternalEffects } from './external-effects';
import { metricsFilePath, readMetricsFile } from './metrics-file';
import { ConcurrencyQueue } from './queue';
import { RunFolders } from './run-folder';
import { now, SETTLED, type ActiveRun, type ActiveTask, type TaskOutcome } from './run-state';
import type { RunStorePort } from './run-store-port';
import { TaskEventRecorder, toBackendSummary, type ModelRegistryPort } from './task-events';
import type { ReadyEvent } from './worker-process';
import { placeCheckpoint, saltFingerprints, type RunStartPoint } from './start-from';

export type { ModelRegistryPort } from './task-events';
export type { RunStartPoint } from './start-from';

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

/** What `deleteRun` removed, and the model versions of the run it kept. */
export interface DeletedRun {
  deleted: string;
  deletedModels: string[];
  keptModels: string[];
}

/** What deleting a run's models needs from the registry. */
export interface RunModelsPort {
  /** Versions registered by the run, newest first. */
  versionsOfRun(runId: string): string[];
  /** Deletes a version; throws MODEL_HAS_DESCENDANTS while others derive from it. */
  delete(ref: string): string[];
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

  private readonly runs = new Map<string, ActiveRun>();
  private readonly queue: ConcurrencyQueue;
  /** SLURM jobs wait for the cluster, not for this machine's cores: they have a queue of their own. */
  private slurmQueue: ConcurrencyQueue | undefined;
  private readonly executors: ExecutorSet;
  private readonly store: RunStorePort;
  private readonly cancelGraceMs: number;
  private readonly folders: RunFolders;
  private readonly recorder: TaskEventRecorder;

  constructor(private readonly options: RunnerOptions) {
    super();
    this.store = options.store;
    this.queue = new ConcurrencyQueue(options.concurrency);
    this.cancelGraceMs = options.cancelGraceMs ?? 5000;
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
    const timer = setInterval(() => this.pollCancelMarkers(), 300);
    timer.unref();
    this._register(toDisposable(() => clearInterval(timer)));
    this._register(
      toDisposable(() => {
        for (const run of this.runs.values())
          for (const task of run.tasks.values()) task.execution?.dispose();
      }),
    );
  }

  /** Tasks waiting for a free worker slot (or SLURM job slot), across runs. */
  get queueLength(): number {
    return this.queue.length + (this.slurmQueue?.length ?? 0);
  }

  /** Pid of the local worker running a task, while it runs. */
  workerPid(taskId: string): number | undefined {
    for (const run of this.runs.values())
      for (const task of run.tasks.values()) if (task.id === taskId) return task.execution?.pid;
    return undefined;
  }

  /** The local executor's warm pool and the SLURM executor (once used), for status and tests. */
  get executorSet(): ExecutorSet {
    return this.executors;
  }

  isActive(runId: string): boolean {
    return this.runs.has(runId);
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
    const tasks = new Map<string, ActiveTask>();
    for (const task of planned) {
      const id = `${runId}-${task.nodeId}`;
      this.store.createTask({
        id,
        runId,
        nodeId: task.nodeId,
        nodeType: task.type,
        nodeVersion: task.version,
        // Every node type's op is keyed by the type itself (worker/ops/index.ts).
        op: task.type,
        fingerprint: task.fingerprint,
        params: task.params,
        taskDir: this.folders.taskDir(runId, task.nodeId),
      });
      tasks.set(task.nodeId, {
        id,
        planned: task,
        status: 'queued',
        outputs: {},
        attempt: 0,
        enqueued: false,
        latestMetrics: {},
        pending: [],
      });
    }
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
    if (this.runs.has(runId)) {
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
        this.backfillMetrics(record.id, record.taskDir);
        this.store.updateTask(record.id, { status: 'queued', error: null, finishedAt: null });
        this.emitTask(task.id);
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
    if (this.runs.has(runId) || info.status === 'queued' || info.status === 'running') {
      throw new DistilleryError(
        'RUN_ACTIVE',
        `Run "${runId}" is ${info.status}; cancel it before deleting it`,
        {
          received: info.status,
          expected: 'done, failed or cancelled',
        },
      );
    }
    const deletedModels: string[] = [];
    const keptModels: string[] = [];
    if (options.deleteModels && options.models) {
      for (const versionId of options.models.versionsOfRun(runId)) {
        try {
          deletedModels.push(...options.models.delete(versionId));
        } catch (error) {
          if ((error as { code?: string }).code !== 'MODEL_HAS_DESCENDANTS') throw error;
          keptModels.push(versionId);
        }
      }
    }
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
    const run = this.runs.get(runId);
    if (run) {
      this.cancelActive(run);
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
    for (const run of this.runs.values()) {
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
    const run = this.runs.get(runId);
    return run ? run.finished : this.store.getRun(runId);
  }

  // -------------------------------------------------------------------------------------------

  private activate(
    runId: string,
    doc: PipelineDoc,
    tasks: Map<string, ActiveTask>,
    force: boolean,
    modelMeta?: Record<string, unknown>,
    forced: ReadonlySet<string> = new Set(),
    executor: ExecutorName = 'local',
  ): RunInfo {
    this.ownRuns.add(runId);
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
    this._onDidChangeRun.fire(info);
    // Workers for the tasks that can run side by side start loading now, not when each is due.
    if (executor === 'local')
      this.executors.local.prewarm(Math.min(this.options.concurrency, parallelWidth(tasks)));
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
        this.queueOf(run).enqueue(task.id, () => this.execute(run, task));
      }
    }
    this.maybeFinish(run);
  }

  /**
   * Runs one task to its end. Whatever goes wrong on the way (a folder it cannot write, a record it
   * cannot store, a model it cannot register) fails this task with a coded error naming its node;
   * nothing escapes to the queue, which would drop it and leave the task running for ever.
   */
  private async execute(run: ActiveRun, task: ActiveTask): Promise<void> {
    try {
      await this.executeAttempt(run, task);
    } catch (error) {
      task.execution?.dispose();
      task.execution = undefined;
      // A disposed runner has closed its store and has nobody left to tell.
      if (this.disposal.signal.aborted) return;
      if (!SETTLED.has(task.status))
        this.settleTaskSafely(run, task, 'failed', { error: taskError(task, error) });
      else onUnexpectedError(error);
    }
  }

  private async executeAttempt(run: ActiveRun, task: ActiveTask): Promise<void> {
    if (run.cancelRequested) {
      this.settleTask(run, task, 'cancelled', {});
      return;
    }
    const inputs = this.inputsOf(run, task);
    const external = this.externalPathsOf(task);
    if (!run.force && !run.forced.has(task.planned.nodeId) && task.attempt === 0 && !task.resumeFrom) {
      const reusable = this.store.findReusableTask(task.planned.fingerprint);
      if (reusable && Object.values(reusable.outputs).every((output) => existsSync(output.path))) {
        // A task whose effect lies outside the run folder is reused only while what it wrote
        // there is still what it wrote: another run may have overwritten its export folder.
        const changed = external ? await externalEffectsChanged(reusable.effects, external) : null;
        if (changed === null) {
          task.outputs = reusable.outputs;
          this.store.updateTask(task.id, {
            inputs,
            outputs: reusable.outputs,
            reusedFrom: reusable.id,
            summary: reusable.summary,
            figures: reusable.figures,
            effects: reusable.effects,
            startedAt: now(),
          });
          this.settleTask(run, task, 'reused', {});
          return;
        }
        this.log(run, task, 'info', `Not reusing task ${reusable.id}: ${changed}; running it again`);
      }
    }
    const taskDir = this.folders.prepareTaskDir(run.id, task.planned.nodeId, {
      nodeId: task.planned.nodeId,
      taskId: task.id,
    });
    task.taskDir = taskDir;
    task.attempt += 1;
    task.status = 'running';
    this.store.updateTask(task.id, {
      status: 'running',
      attempt: task.attempt,
      inputs,
      startedAt: now(),
      error: null,
      progress: null,
      executor: run.executor,
      jobId: null,
      nodeName: null,
      warm: null,
      executorState: null,
    });
    this.emitTask(task.id);

    let executor: Executor;
    let resources: ReturnType<ExecutorSet['resources']> | undefined;
    try {
      executor = this.executors.get(run.executor);
      if (run.executor === 'slurm') resources = this.executors.resources(task.planned.nodeId, run.doc);
    } catch (error) {
      this.settleTask(run, task, 'failed', { error: taskError(task, error) });
      return;
    }
    const inputLists = this.inputListsOf(run, task);
    const request: StartRequest = {
      type: 'start',
      protocol: PROTOCOL_VERSION,
      taskId: task.id,
      nodeType: task.planned.type,
      nodeId: task.planned.nodeId,
      params: this.paramsOf(task),
      inputs,
      ...(Object.keys(inputLists).length > 0 ? { inputLists } : {}),
      taskDir,
      seed: task.planned.seed,
      ...(task.resumeFrom ? { resumeFrom: task.resumeFrom } : {}),
    };
    let outcome: TaskOutcome | undefined;
    let ready: ReadyEvent | undefined;
    let execution: Execution | undefined;
    try {
      execution = await executor.submit({
        runId: run.id,
        request,
        ...(resources ? { resources } : {}),
        // Cancelling the run stops a worker that is still loading its backend at once.
        signal: AbortSignal.any([this.disposal.signal, run.cancellation.signal]),
        onEvent: (event) => {
          if (event.type === 'ready') {
            // A new execution (the first, or a requeued job's next): what an earlier one said is void.
            ready = event;
            outcome = undefined;
            this.recordReady(run, task, event);
            return;
          }
          if (!ready) return;
          try {
            const result = this.recorder.handle(run, task, { ready }, event);
            if (result) outcome = result;
          } catch (error) {
            outcome = { status: 'failed', error: taskError(task, error) };
            void execution?.kill();
          }
        },
        onPlacement: (placement) => this.recordPlacement(task, placement),
        onLog: (level, message) => this.log(run, task, level, message),
      });
    } catch (error) {
      // A worker stopped before its `ready` because the run was cancelled (Ctrl+C, `cancel`) did
      // not fail: the task is cancelled and resumes like any other.
      if (run.cancelRequested) {
        this.settleTask(run, task, 'cancelled', {
          error: {
            code: 'TASK_CANCELLED',
            message: `Node "${task.planned.nodeId}": cancelled before its worker was ready`,
            details: { nodeId: task.planned.nodeId, taskId: task.id },
          },
        });
      } else this.settleTask(run, task, 'failed', { error: taskError(task, error) });
      return;
    }
    task.execution = execution;
    if (run.cancelRequested) {
      await execution.kill();
      await execution.finished;
      execution.dispose();
      task.execution = undefined;
      this.settleTask(run, task, 'cancelled', {});
      return;
    }
    const end = await execution.finished;
    execution.dispose();
    task.execution = undefined;
    // The executor knows better than the worker when SLURM ended the job (killed, out of time,
    // cancelled outside Distillery, never started); a task that reported done is done.
    if (end.failure && outcome?.status !== 'done') outcome = { status: 'failed', error: end.failure };
    if (!outcome) outcome = this.recorder.crashOutcome(run, task, end.exit);
    // Registrations catch their own errors (into task.failure), so this never rejects.
    await Promise.all(task.pending);
    task.pending = [];
    if (task.failure && outcome.status === 'done') outcome = { status: 'failed', error: task.failure };
    if (outcome.status === 'done' && external) {
      try {
        this.store.updateTask(task.id, { effects: await recordExternalEffects(external) });
      } catch (error) {
        // Unrecorded, the task is simply never reused; its outcome stands.
        onUnexpectedError(error);
      }
    }
    this.settleTask(run, task, outcome.status, { error: outcome.error, summary: outcome.summary });
  }

  /** The external paths of a task whose node type declares external effects; undefined otherwise. */
  private externalPathsOf(task: ActiveTask): string[] | undefined {
    const names = this.options.catalog.get(task.planned.type)?.effects?.external;
    return names ? externalPaths(names, this.paramsOf(task)) : undefined;
  }

  /**
   * The params the worker gets: a relative external path (an export's `outDir`) names a folder
   * below `<data dir>/exports` (runsDir is `<data dir>/runs`). The fingerprint keeps the path as
   * written, which names the same folder in every run of one data directory.
   */
  private paramsOf(task: ActiveTask): Record<string, unknown> {
    const names = this.options.catalog.get(task.planned.type)?.effects?.external;
    const exportsRoot = join(dirname(this.options.runsDir), EXPORTS_FOLDER);
    return names ? withExportFolders(task.planned.params, names, exportsRoot) : task.planned.params;
  }

  /** A worker said ready: the backend it got is the task's (and the run's, if it has none yet). */
  private recordReady(run: ActiveRun, task: ActiveTask, ready: ReadyEvent): void {
    const backend = toBackendSummary(ready);
    this.store.updateTask(task.id, { backend });
    const runInfo = this.store.getRun(run.id);
    if (runInfo && !runInfo.backend) this.store.updateRun(run.id, { backend, versions: ready.versions });
  }

  /** Where the task runs and how its execution stands, as its record shows it. */
  private recordPlacement(task: ActiveTask, placement: ExecutionPlacement): void {
    // A runner being disposed stops its executions; there is nobody left to tell.
    if (this.disposal.signal.aborted) return;
    try {
      this.store.updateTask(task.id, {
        executor: placement.executor,
        jobId: placement.jobId,
        nodeName: placement.nodeName,
        warm: placement.warm,
        executorState: placement.state,
      });
      this.emitTask(task.id);
    } catch (error) {
      // Where a task runs is shown, not relied on: a record that cannot be written does not fail it.
      onUnexpectedError(error);
    }
  }

  /** The queue a run's tasks wait in: this machine's worker slots, or the SLURM job slots. */
  private queueOf(run: ActiveRun): ConcurrencyQueue {
    if (run.executor !== 'slurm') return this.queue;
    this.slurmQueue ??= new ConcurrencyQueue(this.executors.maxSlurmJobs());
    return this.slurmQueue;
  }

  private log(run: ActiveRun, task: ActiveTask, level: LogLine['level'], message: string): void {
    const line: LogLine = { runId: run.id, taskId: task.id, level, message, time: Date.now() };
    this.store.appendLog(line);
    this._onDidLog.fire(line);
  }

  /** The inputs of the task's many-link ports, each list in edge order. */
  private inputListsOf(run: ActiveRun, task: ActiveTask): Record<string, ArtifactRef[]> {
    const lists: Record<string, ArtifactRef[]> = {};
    for (const [port, links] of Object.entries(task.planned.inputLists)) {
      lists[port] = links.map((from) => this.inputRef(run, from));
    }
    return lists;
  }

  private inputRef(run: ActiveRun, from: { nodeId: string; port: string }): ArtifactRef {
    const output = run.tasks.get(from.nodeId)!.outputs[from.port];
    if (!output) {
      throw new DistilleryError(
        'TASK_FAILED',
        `Node "${from.nodeId}" finished without producing "${from.port}"`,
        { nodeId: from.nodeId, port: from.port },
      );
    }
    return {
      kind: output.kind,
      path: output.path,
      meta: { ...output.meta, ...(output.versionId ? { versionId: output.versionId } : {}) },
    };
  }

  private inputsOf(run: ActiveRun, task: ActiveTask): Record<string, ArtifactRef> {
    const inputs: Record<string, ArtifactRef> = {};
    for (const [port, from] of Object.entries(task.planned.inputs)) inputs[port] = this.inputRef(run, from);
    return inputs;
  }

  private settleTask(
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
  private settleTaskSafely(
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
    this._onDidChangeRun.fire(info);
    run.resolve(info);
  }

  private cancelActive(run: ActiveRun): void {
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
    this._onDidChangeRun.fire(info);
    run.resolve(info);
  }

  private pollCancelMarkers(): void {
    for (const run of this.runs.values()) {
      if (!run.cancelRequested && this.folders.cancelRequested(run.id)) this.cancelActive(run);
    }
  }

  private settleIfAbandoned(info: RunInfo): void {
    if (info.status !== 'running' && info.status !== 'queued') return;
    if (this.runs.has(info.id) || this.folders.ownedElsewhere(info.id)) return;
    this.markAbandoned(info, 'failed', {
      code: 'RUN_INTERRUPTED',
      message: `Run "${info.id}" was interrupted: the process running it exited before it finished; resume it to continue from its checkpoints`,
      details: { runId: info.id },
    });
  }

  private markAbandoned(info: RunInfo, status: 'failed' | 'cancelled', error: ErrorInfo): void {
    const unsettled = info.tasks.filter((task) => task.status === 'queued' || task.status === 'running');
    // Settled in one transaction that re-reads the run: its runner may have finished it just now.
    const settled = this.store.settleAbandonedRun(info.id, status, error, (task) => ({
      code: error.code,
      message: `Node "${task.nodeId}": ${error.message}`,
      details: { ...error.details, nodeId: task.nodeId, taskId: task.id },
    }));
    if (!settled) return;
    for (const task of unsettled) {
      this.backfillMetrics(task.id, task.taskDir);
      this.emitTask(task.id);
    }
    // Its runner is gone, but SLURM jobs it submitted may still run: they would write into a run
    // that a resume is about to continue.
    const jobs = unsettled.flatMap((task) => (task.executor === 'slurm' && task.jobId ? [task.jobId] : []));
    if (jobs.length > 0) {
      try {
        this.executors.slurm().cancelJobs(jobs);
      } catch (error) {
        onUnexpectedError(error);
      }
    }
    this.folders.release(info.id);
    this.emitRun(info.id);
  }

  /**
   * Makes the task's stored metrics match its metrics file (one point per metric and step, the
   * latest execution's). A file that cannot be read is reported, never a reason to fail the task.
   */
  private backfillMetrics(taskId: string, taskDir: string): void {
    try {
      this.store.backfillMetrics(taskId, readMetricsFile(metricsFilePath(taskDir)).points);
    } catch (error) {
      onUnexpectedError(error);
    }
  }

  private emitRun(runId: string): void {
    this._onDidChangeRun.fire(this.store.getRun(runId));
  }

  private emitTask(taskId: string): void {
    const info = this.store.getTaskInfo(taskId);
    if (info) this._onDidChangeTask.fire(info);
  }
}

/**
 * The nodes `forceNodes` names and every node downstream of them. An unknown node id is refused
 * with UNKNOWN_NODE, naming it.
 */
export function forcedNodes(
  planned: ReadonlyArray<{ nodeId: string; dependsOn: readonly string[] }>,
  forceNodes: readonly string[],
): Set<string> {
  const known = new Set(planned.map((task) => task.nodeId));
  for (const nodeId of forceNodes) {
    if (!known.has(nodeId)) {
      throw new DistilleryError(
        'UNKNOWN_NODE',
        `forceNodes names node "${nodeId}", which the pipeline lacks`,
        {
          nodeId,
          param: 'forceNodes',
          expected: [...known].join(', '),
          received: nodeId,
        },
      );
    }
  }
  const forced = new Set(forceNodes);
  // Plan order is a topological order: a node's upstream nodes come before it.
  for (const task of planned)
    if (task.dependsOn.some((nodeId) => forced.has(nodeId))) forced.add(task.nodeId);
  return forced;
}

/**
 * How many tasks can run side by side: the most tasks at one depth of the graph, which is what
 * warm workers are started ahead for.
 */
function parallelWidth(tasks: ReadonlyMap<string, ActiveTask>): number {
  const depth = new Map<string, number>();
  const perDepth = new Map<number, number>();
  // Plan order is a topological order.
  for (const [nodeId, task] of tasks) {
    const level = Math.max(-1, ...task.planned.dependsOn.map((upstream) => depth.get(upstream) ?? -1)) + 1;
    depth.set(nodeId, level);
    if (task.status === 'queued') perDepth.set(level, (perDepth.get(level) ?? 0) + 1);
  }
  return Math.max(0, ...perDepth.values());
}

/** A runner-side failure of a task as its record keeps it: coded, naming the task and its node. */
function taskError(task: ActiveTask, error: unknown): ErrorInfo {
  const cause = serializeError(error);
  const prefix = `Node "${task.planned.nodeId}"`;
  return {
    code: cause.code,
    message: cause.message.startsWith(prefix) ? cause.message : `${prefix}: ${cause.message}`,
    details: { ...cause.details, nodeId: task.planned.nodeId, taskId: task.id },
  };
}
