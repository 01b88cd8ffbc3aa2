/**
 * The runner: turns a pipeline into tasks, runs each in a worker subprocess (independent branches
 * in parallel, up to a concurrency limit), reuses finished tasks by fingerprint, records every
 * event, registers every model, and handles cancel, resume and crashes. It is the only writer of
 * run records.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
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
import type { NodeCatalog } from '../nodes/catalog';
import { invalidPipelineError } from '../pipeline/pipeline-file';
import { planPipeline } from '../pipeline/plan';
import { validatePipeline } from '../pipeline/validate';
import { PROTOCOL_VERSION } from '../worker/protocol';
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
    this.folders = new RunFolders(options.runsDir);
    this.recorder = new TaskEventRecorder(this.store, options.registry, options.catalog, {
      metrics: (batch) => this._onDidMetrics.fire(batch),
      log: (line) => this._onDidLog.fire(line),
      task: (info) => this._onDidChangeTask.fire(info),
      sample: (sample) => this._onDidSample.fire(sample),
    });
    this.recoverInterruptedRuns();
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
    this.store.createRun({
      id: runId,
      name: pipeline.doc.name,
      seed: pipeline.doc.seed,
      pipeline: pipeline.doc,
      pipelineFile: options.pipelineFile ?? null,
    });
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
        taskDir: join(this.folders.dir(runId), task.nodeId),
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
    const byNode = new Map(info.tasks.map((task) => [task.nodeId, task]));
    const tasks = new Map<string, ActiveTask>();
    for (const planned of planPipeline(pipeline)) {
      const record = byNode.get(planned.nodeId);
      if (!record)
        throw new DistilleryError(
          'RUN_NOT_RESUMABLE',
          `Run "${runId}" has no task for node "${planned.nodeId}"`,
        );
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
    this.markAbandoned(info, 'cancelled');
    return this.store.getRun(runId);
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
    const run: ActiveRun = { id: runId, doc, force, tasks, cancelRequested: false, finished, resolve };
    this.runs.set(runId, run);
    this.folders.claim(runId);
    this.store.updateRun(runId, {
      status: 'running',
      startedAt: this.store.getRun(runId)?.startedAt ?? now(),
    });
    this.emitRun(runId);
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

  private async execute(run: ActiveRun, task: ActiveTask): Promise<void> {
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
    task.attempt += 1;
    task.status = 'running';
    const taskDir = join(this.folders.dir(run.id), task.planned.nodeId);
    mkdirSync(taskDir, { recursive: true });
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
      this.settleTask(run, task, 'failed', { error: serializeError(error) });
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
        outcome = { status: 'failed', error: serializeError(error) };
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
    if (!outcome) outcome = this.recorder.crashOutcome(run, exit);
    try {
      await Promise.all(task.pending);
    } catch (error) {
      outcome = { status: 'failed', error: serializeError(error) };
    }
    task.pending = [];
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
    const patch: Parameters<RunStorePort['updateTask']>[1] = { status, finishedAt: now() };
    if (result.error) patch.error = result.error;
    if (result.summary) patch.summary = result.summary;
    this.store.updateTask(task.id, patch);
    this.emitTask(task.id);
    this.schedule(run);
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
    this.runs.delete(run.id);
    const statuses = [...run.tasks.values()].map((task) => task.status);
    const status = statuses.includes('failed')
      ? 'failed'
      : statuses.includes('cancelled') || run.cancelRequested
        ? 'cancelled'
        : 'done';
    const firstError = [...run.tasks.values()].find((task) => task.status === 'failed');
    this.store.updateRun(run.id, {
      status,
      finishedAt: now(),
      error: firstError ? (this.store.getTaskInfo(firstError.id)?.error ?? null) : null,
    });
    this.folders.release(run.id);
    const info = this.store.getRun(run.id);
    this._onDidChangeRun.fire(info);
    run.resolve(info);
  }

  private pollCancelMarkers(): void {
    for (const run of this.runs.values()) {
      if (!run.cancelRequested && this.folders.cancelRequested(run.id)) this.cancelActive(run);
    }
  }

  /** Runs left `running` by a process that died are marked failed (or cancelled) so they can resume. */
  private recoverInterruptedRuns(): void {
    for (const info of this.store.listRuns(1000)) {
      if (info.status !== 'running' && info.status !== 'queued') continue;
      if (this.folders.ownedElsewhere(info.id)) continue;
      this.markAbandoned(info, 'failed');
    }
  }

  private markAbandoned(info: RunInfo, status: 'failed' | 'cancelled'): void {
    const error: ErrorInfo =
      status === 'cancelled'
        ? { code: 'TASK_CANCELLED', message: 'Cancelled after the process running it had exited' }
        : { code: 'WORKER_CRASHED', message: 'The process running this run exited before it finished' };
    for (const task of info.tasks) {
      if (task.status === 'queued' || task.status === 'running')
        this.store.updateTask(task.id, { status, error, finishedAt: now() });
    }
    this.store.updateRun(info.id, { status, error, finishedAt: now() });
    this.folders.release(info.id);
    this.emitRun(info.id);
  }

  private emitRun(runId: string): void {
    this._onDidChangeRun.fire(this.store.getRun(runId));
  }

  private emitTask(taskId: string): void {
    const info = this.store.getTaskInfo(taskId);
    if (info) this._onDidChangeTask.fire(info);
  }
}
