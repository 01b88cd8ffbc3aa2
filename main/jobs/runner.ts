/**
 * The runner: turns a pipeline into tasks, runs each in a worker subprocess (independent branches
 * in parallel, up to a concurrency limit), reuses finished tasks by fingerprint, records every
 * event, registers every model, and handles cancel, resume and crashes. It is the only writer of
 * run records.
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type {
  ArtifactRef,
  ErrorInfo,
  LogLine,
  MetricBatch,
  PipelineDoc,
  RunInfo,
  TaskInfo,
  TaskSample,
  TaskStatus,
} from '../../preload/contract';
import { DistilleryError, serializeError } from '../base/errors';
import { Emitter } from '../base/event';
import { AbortOnDispose, Disposable, toDisposable } from '../base/lifecycle';
import { onUnexpectedError } from '../base/unexpected-error';
import type { NodeCatalog } from '../nodes/catalog';
import { invalidPipelineError } from '../pipeline/pipeline-file';
import { planPipeline } from '../pipeline/plan';
import { validatePipeline } from '../pipeline/validate';
import { PROTOCOL_VERSION } from '../worker/protocol';
import { metricsFilePath, readMetricsFile } from './metrics-file';
import { ConcurrencyQueue } from './queue';
import { RunFolders } from './run-folder';
import { now, SETTLED, type ActiveRun, type ActiveTask, type TaskOutcome } from './run-state';
import type { RunStorePort } from './run-store-port';
import { TaskEventRecorder, toBackendSummary, type ModelRegistryPort } from './task-events';
import { WorkerProcess } from './worker-process';

export type { ModelRegistryPort } from './task-events';

export interface RunnerOptions {
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
  private readonly disposal = this._register(new AbortOnDispose());

  private readonly runs = new Map<string, ActiveRun>();
  private readonly queue: ConcurrencyQueue;
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
    this.recorder = new TaskEventRecorder(this.store, options.registry, options.catalog, {
      metrics: (batch) => this._onDidMetrics.fire(batch),
      log: (line) => this._onDidLog.fire(line),
      task: (info) => this._onDidChangeTask.fire(info),
      sample: (sample) => this._onDidSample.fire(sample),
    });
    this.settleAbandonedRuns();
    // Another process (`distillery cancel RUN`) asks to cancel by dropping a marker file.
    const timer = setInterval(() => this.pollCancelMarkers(), 300);
    timer.unref();
    this._register(toDisposable(() => clearInterval(timer)));
    this._register(
      toDisposable(() => {
        for (const run of this.runs.values()) for (const task of run.tasks.values()) task.worker?.dispose();
      }),
    );
  }

  /** Tasks waiting for a free worker slot, across runs. */
  get queueLength(): number {
    return this.queue.length;
  }

  /** Pid of the worker running a task, while it runs. */
  workerPid(taskId: string): number | undefined {
    for (const run of this.runs.values())
      for (const task of run.tasks.values()) if (task.id === taskId) return task.worker?.pid;
    return undefined;
  }

  isActive(runId: string): boolean {
    return this.runs.has(runId);
  }

  /** Validates, plans and starts a run. Resolves once the run is recorded (not finished). */
  start(doc: unknown, options: { force?: boolean; pipelineFile?: string | null } = {}): RunInfo {
    const { issues, pipeline } = validatePipeline(
      doc,
      this.options.catalog,
      options.pipelineFile ?? undefined,
    );
    if (!pipeline) throw invalidPipelineError(issues, options.pipelineFile ?? undefined);
    const planned = planPipeline(pipeline);
    const runId = newRunId();
    // The run folder (with its owner file) exists before any record of the run does: a run that is
    // recorded as queued or running always names its owner, and a folder that cannot be written
    // refuses the run before anything is recorded.
    this.folders.claim(runId);
    try {
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
    return this.activate(runId, pipeline.doc, tasks, options.force ?? false);
  }

  /** Continues a cancelled or failed run: finished tasks stay, the rest restart from their last checkpoint. */
  resume(runId: string): RunInfo {
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
    return this.activate(runId, doc, tasks, false);
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

  private activate(runId: string, doc: PipelineDoc, tasks: Map<string, ActiveTask>, force: boolean): RunInfo {
    let resolve!: (run: RunInfo) => void;
    const finished = new Promise<RunInfo>((r) => (resolve = r));
    this.store.updateRun(runId, {
      status: 'running',
      startedAt: this.store.getRun(runId)?.startedAt ?? now(),
    });
    const info = this.store.getRun(runId);
    const run: ActiveRun = { id: runId, doc, force, tasks, cancelRequested: false, info, finished, resolve };
    this.runs.set(runId, run);
    this._onDidChangeRun.fire(info);
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
        this.queue.enqueue(task.id, () => this.execute(run, task));
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
      task.worker?.dispose();
      task.worker = undefined;
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
    if (!run.force && task.attempt === 0 && !task.resumeFrom) {
      const reusable = this.store.findReusableTask(task.planned.fingerprint);
      if (reusable && Object.values(reusable.outputs).every((output) => existsSync(output.path))) {
        task.outputs = reusable.outputs;
        this.store.updateTask(task.id, {
          inputs,
          outputs: reusable.outputs,
          reusedFrom: reusable.id,
          summary: reusable.summary,
          startedAt: now(),
        });
        this.settleTask(run, task, 'reused', {});
        return;
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
    });
    this.emitTask(task.id);

    let worker: WorkerProcess;
    try {
      worker = await WorkerProcess.start({
        entry: this.options.workerEntry,
        signal: this.disposal.signal,
        env: {
          ...this.options.workerEnv,
          ...(this.options.backend ? { DISTILLERY_BACKEND: this.options.backend } : {}),
        },
      });
    } catch (error) {
      this.settleTask(run, task, 'failed', { error: taskError(task, error) });
      return;
    }
    task.worker = worker;
    const backend = toBackendSummary(worker.ready);
    this.store.updateTask(task.id, { backend });
    const runInfo = this.store.getRun(run.id);
    if (runInfo && !runInfo.backend)
      this.store.updateRun(run.id, { backend, versions: worker.ready.versions });
    if (run.cancelRequested) {
      await worker.kill();
      worker.dispose();
      this.settleTask(run, task, 'cancelled', {});
      return;
    }

    let outcome: TaskOutcome | undefined;
    const subscription = worker.onDidEmit((event) => {
      try {
        const result = this.recorder.handle(run, task, worker, event);
        if (result) outcome = result;
      } catch (error) {
        outcome = { status: 'failed', error: taskError(task, error) };
        void worker.kill();
      }
    });
    worker.send({
      type: 'start',
      protocol: PROTOCOL_VERSION,
      taskId: task.id,
      nodeType: task.planned.type,
      nodeId: task.planned.nodeId,
      params: task.planned.params,
      inputs,
      taskDir,
      seed: task.planned.seed,
      ...(task.resumeFrom ? { resumeFrom: task.resumeFrom } : {}),
    });
    const exit = await worker.waitForExit();
    subscription.dispose();
    worker.dispose();
    task.worker = undefined;
    if (!outcome) outcome = this.recorder.crashOutcome(run, task, exit);
    // Registrations catch their own errors (into task.failure), so this never rejects.
    await Promise.all(task.pending);
    task.pending = [];
    if (task.failure && outcome.status === 'done') outcome = { status: 'failed', error: task.failure };
    this.settleTask(run, task, outcome.status, { error: outcome.error, summary: outcome.summary });
  }

  private inputsOf(run: ActiveRun, task: ActiveTask): Record<string, ArtifactRef> {
    const inputs: Record<string, ArtifactRef> = {};
    for (const [port, from] of Object.entries(task.planned.inputs)) {
      const output = run.tasks.get(from.nodeId)!.outputs[from.port];
      if (!output) {
        throw new DistilleryError(
          'TASK_FAILED',
          `Node "${from.nodeId}" finished without producing "${from.port}"`,
          { nodeId: from.nodeId, port: from.port },
        );
      }
      inputs[port] = {
        kind: output.kind,
        path: output.path,
        meta: { ...output.meta, ...(output.versionId ? { versionId: output.versionId } : {}) },
      };
    }
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
    this.store.updateTask(task.id, patch);
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
    this.queue.remove((key) => [...run.tasks.values()].some((task) => task.id === key));
    for (const task of run.tasks.values()) {
      task.worker?.dispose();
      if (!SETTLED.has(task.status)) task.status = 'failed';
    }
    const info: RunInfo = { ...run.info, status: 'failed', finishedAt: now() };
    this._onDidChangeRun.fire(info);
    run.resolve(info);
  }

  private cancelActive(run: ActiveRun): void {
    if (run.cancelRequested) return;
    run.cancelRequested = true;
    this.queue.remove((key) => [...run.tasks.values()].some((task) => task.id === key));
    for (const task of run.tasks.values()) {
      if (task.worker) void task.worker.cancel(task.id, this.cancelGraceMs);
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
