/**
 * The runner: turns a pipeline into tasks, runs each in a worker subprocess (independent branches
 * in parallel, up to a concurrency limit), reuses finished tasks by fingerprint, records every
 * event, registers every model, and handles cancel, resume and crashes. It is the only writer of
 * run records.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type {
  BackendSummary,
  LogLine,
  MetricBatch,
  ModelVersionInfo,
  PipelineDoc,
  RunInfo,
  TaskInfo,
  TaskStatus,
} from '../../preload/contract';
import { DistilleryError, serializeError } from '../base/errors';
import { Emitter } from '../base/event';
import { Disposable, toDisposable } from '../base/lifecycle';
import type { NodeCatalog } from '../nodes/catalog';
import { invalidPipelineError } from '../pipeline/pipeline-file';
import { planPipeline, type PlannedTask } from '../pipeline/plan';
import { validatePipeline } from '../pipeline/validate';
import type { InputRef, WorkerEvent } from '../worker/protocol';
import { ConcurrencyQueue } from './queue';
import type { ErrorInfo, RunStorePort, TaskOutput } from './run-store-port';
import { WorkerProcess, type WorkerExit } from './worker-process';

/** What the runner needs from the model registry. */
export interface ModelRegistryPort {
  registerVersion(input: {
    name: string;
    kind: 'classifier' | 'diffusion';
    framework: string;
    backend: string | null;
    runId: string | null;
    taskId: string | null;
    role?: string | null;
    nodeType: string | null;
    artifactDir: string;
    paramCount: number;
    nonZeroParams: number;
    sizeBytes: number;
    params: Record<string, unknown>;
    meta: Record<string, unknown>;
    parents: Array<{ versionId: string; operation: string; params: Record<string, unknown> }>;
  }): Promise<ModelVersionInfo>;
  addMetrics(versionId: string, metrics: Record<string, number>, taskId: string | null): void;
}

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

interface ActiveTask {
  id: string;
  planned: PlannedTask;
  status: TaskStatus;
  outputs: Record<string, TaskOutput>;
  attempt: number;
  resumeFrom?: string;
  worker?: WorkerProcess;
  enqueued: boolean;
  /** Latest value of each metric the task streamed (evaluate tasks attach them to their model). */
  latestMetrics: Record<string, number>;
  /** Model registrations in flight; the task settles only after they land. */
  pending: Array<Promise<void>>;
}

interface ActiveRun {
  id: string;
  doc: PipelineDoc;
  force: boolean;
  tasks: Map<string, ActiveTask>;
  cancelRequested: boolean;
  finished: Promise<RunInfo>;
  resolve: (run: RunInfo) => void;
}

const SETTLED: ReadonlySet<TaskStatus> = new Set(['done', 'reused', 'failed', 'cancelled', 'skipped']);
const CANCEL_MARKER = 'cancel-requested';
const OWNER_FILE = 'runner.pid';

function now(): string {
  return new Date().toISOString();
}

export function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(2, 12);
  return `r${stamp}-${randomBytes(3).toString('hex')}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function toBackendSummary(ready: WorkerProcess['ready']): BackendSummary {
  return {
    name: ready.backend.name,
    package: ready.backend.package,
    skipped: ready.backend.skipped,
    features: ready.backend.features,
  };
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
  private readonly _onDidSample = this._register(
    new Emitter<{ runId: string; taskId: string; path: string; step: number }>(),
  );
  readonly onDidSample = this._onDidSample.event;

  private readonly runs = new Map<string, ActiveRun>();
  private readonly queue: ConcurrencyQueue;
  private readonly store: RunStorePort;
  private readonly cancelGraceMs: number;
  private lastProgressWrite = new Map<string, number>();

  constructor(private readonly options: RunnerOptions) {
    super();
    this.store = options.store;
    this.queue = new ConcurrencyQueue(options.concurrency);
    this.cancelGraceMs = options.cancelGraceMs ?? 5000;
    mkdirSync(options.runsDir, { recursive: true });
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
        op: task.op,
        fingerprint: task.fingerprint,
        params: task.params,
        taskDir: join(this.options.runsDir, runId, task.nodeId),
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
    rmSync(join(this.options.runsDir, runId, CANCEL_MARKER), { force: true });
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
    const owner = this.ownerOf(runId);
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
      writeFileSync(join(this.options.runsDir, runId, CANCEL_MARKER), String(process.pid));
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
    mkdirSync(join(this.options.runsDir, runId), { recursive: true });
    writeFileSync(join(this.options.runsDir, runId, OWNER_FILE), String(process.pid));
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
    const taskDir = join(this.options.runsDir, run.id, task.planned.nodeId);
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

    let outcome: { status: TaskStatus; error?: ErrorInfo; summary?: Record<string, unknown> } | undefined;
    const subscription = worker.onDidEmit((event) => {
      try {
        const result = this.handleEvent(run, task, worker, event);
        if (result) outcome = result;
      } catch (error) {
        outcome = { status: 'failed', error: serializeError(error) };
        void worker.kill();
      }
    });
    worker.send({
      type: 'start',
      protocol: 1,
      taskId: task.id,
      op: task.planned.op,
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
    if (!outcome) outcome = this.crashOutcome(run, exit);
    try {
      await Promise.all(task.pending);
    } catch (error) {
      outcome = { status: 'failed', error: serializeError(error) };
    }
    task.pending = [];
    this.settleTask(run, task, outcome.status, { error: outcome.error, summary: outcome.summary });
  }

  private crashOutcome(run: ActiveRun, exit: WorkerExit): { status: TaskStatus; error: ErrorInfo } {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const tail = exit.stderrTail.trim().split('\n').slice(-8).join('\n');
    if (run.cancelRequested) {
      return {
        status: 'cancelled',
        error: { code: 'TASK_CANCELLED', message: `Worker ${how} after cancel` },
      };
    }
    return {
      status: 'failed',
      error: {
        code: 'WORKER_CRASHED',
        message: `Worker ${how}${tail ? `: ${tail}` : ''}`,
        details: { exitCode: exit.code, signal: exit.signal },
      },
    };
  }

  /** Applies one worker event; returns the task's outcome for `done` and `error`. */
  private handleEvent(
    run: ActiveRun,
    task: ActiveTask,
    worker: WorkerProcess,
    event: WorkerEvent,
  ): { status: TaskStatus; error?: ErrorInfo; summary?: Record<string, unknown> } | undefined {
    if (event.type !== 'ready' && event.taskId !== task.id) return undefined;
    switch (event.type) {
      case 'metrics': {
        this.store.appendMetrics(task.id, event.points);
        for (const point of event.points) task.latestMetrics[point.name] = point.value;
        this._onDidMetrics.fire({ runId: run.id, taskId: task.id, points: event.points });
        return undefined;
      }
      case 'log': {
        const line: LogLine = {
          runId: run.id,
          taskId: task.id,
          level: event.level,
          message: event.message,
          time: event.time,
        };
        this.store.appendLog(line);
        this._onDidLog.fire(line);
        return undefined;
      }
      case 'progress': {
        const progress = { done: event.done, total: event.total, etaSeconds: event.etaSeconds };
        const last = this.lastProgressWrite.get(task.id) ?? 0;
        if (Date.now() - last > 500 || event.done >= event.total) {
          this.store.updateTask(task.id, { progress });
          this.lastProgressWrite.set(task.id, Date.now());
        }
        const info = this.store.getTaskInfo(task.id);
        if (info) this._onDidChangeTask.fire({ ...info, progress });
        return undefined;
      }
      case 'checkpoint': {
        this.store.updateTask(task.id, { checkpoint: { path: event.path, step: event.step } });
        this.emitTask(task.id);
        return undefined;
      }
      case 'sample': {
        this._onDidSample.fire({ runId: run.id, taskId: task.id, path: event.path, step: event.step });
        return undefined;
      }
      case 'artifact': {
        const output: TaskOutput = { kind: event.kind, path: event.path, meta: event.meta };
        task.outputs[event.role] = output;
        this.store.updateTask(task.id, { outputs: task.outputs });
        if (event.kind === 'model') {
          task.pending.push(
            this.registerModel(run, task, worker, event.role, event.path, event.meta).then((version) => {
              output.versionId = version.id;
              this.store.updateTask(task.id, { outputs: task.outputs });
            }),
          );
        }
        return undefined;
      }
      case 'done': {
        this.recordEvaluation(run, task);
        return { status: 'done', summary: event.summary };
      }
      case 'error': {
        const cancelled = event.error.code === 'TASK_CANCELLED';
        return { status: cancelled ? 'cancelled' : 'failed', error: event.error };
      }
      case 'ready':
        return undefined;
    }
  }

  private registerModel(
    run: ActiveRun,
    task: ActiveTask,
    worker: WorkerProcess,
    role: string,
    path: string,
    meta: Record<string, unknown>,
  ): Promise<ModelVersionInfo> {
    const num = (key: string) => (typeof meta[key] === 'number' ? meta[key] : 0);
    // Key params of the node (e.g. distill's temperature) go on every edge, even at their defaults.
    const keyParams = this.options.catalog.get(task.planned.type)?.lineageParams?.(task.planned.params) ?? [];
    const lineageParams = Object.fromEntries(keyParams.map((name) => [name, task.planned.params[name]]));
    const parents = Object.entries(task.planned.inputs)
      .map(([port, from]) => ({ port, output: run.tasks.get(from.nodeId)!.outputs[from.port] }))
      .filter(
        (entry): entry is { port: string; output: TaskOutput } =>
          entry.output?.kind === 'model' && !!entry.output.versionId,
      )
      .map(({ port, output }) => ({
        versionId: output.versionId!,
        operation: task.planned.type,
        params: { ...lineageParams, ...task.planned.explicitParams, port },
      }));
    return this.options.registry.registerVersion({
      name: `${run.doc.name}/${task.planned.nodeId}`,
      kind: meta.kind === 'diffusion' ? 'diffusion' : 'classifier',
      framework: 'tfjs-layers',
      backend: worker.ready.backend.name,
      runId: run.id,
      taskId: task.id,
      role,
      nodeType: task.planned.type,
      artifactDir: path,
      paramCount: num('paramCount'),
      nonZeroParams: num('nonZeroParams'),
      sizeBytes: num('sizeBytes'),
      params: task.planned.params,
      meta,
      parents,
    });
  }

  /** The metrics an evaluate-category task streamed are attached to the model version it scored. */
  private recordEvaluation(run: ActiveRun, task: ActiveTask): void {
    if (task.planned.category !== 'evaluate') return;
    const from = task.planned.inputs.model;
    const versionId = from && run.tasks.get(from.nodeId)?.outputs[from.port]?.versionId;
    const metrics = Object.fromEntries(
      Object.entries(task.latestMetrics).filter(([, value]) => Number.isFinite(value)),
    );
    if (versionId && Object.keys(metrics).length > 0)
      this.options.registry.addMetrics(versionId, metrics, task.id);
  }

  private inputsOf(run: ActiveRun, task: ActiveTask): Record<string, InputRef> {
    const inputs: Record<string, InputRef> = {};
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
    this.lastProgressWrite.delete(task.id);
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
    rmSync(join(this.options.runsDir, run.id, OWNER_FILE), { force: true });
    rmSync(join(this.options.runsDir, run.id, CANCEL_MARKER), { force: true });
    const info = this.store.getRun(run.id);
    this._onDidChangeRun.fire(info);
    run.resolve(info);
  }

  private ownerOf(runId: string): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.options.runsDir, runId, OWNER_FILE), 'utf8'));
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  private pollCancelMarkers(): void {
    for (const run of this.runs.values()) {
      if (!run.cancelRequested && existsSync(join(this.options.runsDir, run.id, CANCEL_MARKER)))
        this.cancelActive(run);
    }
  }

  /** Runs left `running` by a process that died are marked failed (or cancelled) so they can resume. */
  private recoverInterruptedRuns(): void {
    for (const info of this.store.listRuns(1000)) {
      if (info.status !== 'running' && info.status !== 'queued') continue;
      const owner = this.ownerOf(info.id);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) continue;
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
    rmSync(join(this.options.runsDir, info.id, OWNER_FILE), { force: true });
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
