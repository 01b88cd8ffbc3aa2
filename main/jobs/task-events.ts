/**
 * Records what a worker reports while it runs a task: metrics and logs into the run store and out
 * as events, progress (written at most twice a second), checkpoints, and model artifacts into the
 * registry with their lineage. Also turns a worker's exit without an answer into an outcome.
 */
import { isAbsolute, relative } from 'node:path';
import type {
  BackendInfo,
  ErrorInfo,
  LogLine,
  MetricBatch,
  ModelVersionInfo,
  TaskInfo,
  TaskSample,
} from '../../preload/contract';
import { serializeError } from '../base/errors';
import type { NodeCatalog } from '../nodes/catalog';
import type { RegisterVersionInput } from '../registry/model-registry';
import { storageNotWritable } from '../registry/storage-errors';
import type { WorkerEvent } from '../worker/protocol';
import type { ActiveRun, ActiveTask, TaskOutcome } from './run-state';
import type { RunStorePort, TaskOutput } from './run-store-port';
import type { WorkerExit, WorkerProcess } from './worker-process';

/** What the runner needs from the model registry. */
export interface ModelRegistryPort {
  registerVersion(input: RegisterVersionInput): Promise<ModelVersionInfo>;
  addMetrics(versionId: string, metrics: Record<string, number>, taskId: string | null): void;
}

/** Where recorded events go out (the runner's emitters). */
export interface TaskEventSink {
  metrics(batch: MetricBatch): void;
  log(line: LogLine): void;
  task(info: TaskInfo): void;
  sample(sample: TaskSample): void;
}

/** The backend a worker reported, copied field by field so that only these fields reach the records. */
export function toBackendSummary(ready: WorkerProcess['ready']): BackendInfo {
  return {
    name: ready.backend.name,
    package: ready.backend.package,
    skipped: ready.backend.skipped,
    features: ready.backend.features,
  };
}

export class TaskEventRecorder {
  private readonly lastProgressWrite = new Map<string, number>();

  constructor(
    private readonly store: RunStorePort,
    private readonly registry: ModelRegistryPort,
    private readonly catalog: NodeCatalog,
    private readonly emit: TaskEventSink,
  ) {}

  /** Forgets per-task state once a task has settled. */
  settled(taskId: string): void {
    this.lastProgressWrite.delete(taskId);
  }

  crashOutcome(run: ActiveRun, task: ActiveTask, exit: WorkerExit): TaskOutcome {
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
        details: { exitCode: exit.code, signal: exit.signal, nodeId: task.planned.nodeId, taskId: task.id },
      },
    };
  }

  /** Applies one worker event; returns the task's outcome for `done` and `error`. */
  handle(
    run: ActiveRun,
    task: ActiveTask,
    worker: WorkerProcess,
    event: WorkerEvent,
  ): TaskOutcome | undefined {
    if (event.type !== 'ready' && event.taskId !== task.id) return undefined;
    switch (event.type) {
      case 'metrics': {
        this.store.appendMetrics(task.id, event.points);
        for (const point of event.points) task.latestMetrics[point.name] = point.value;
        this.emit.metrics({ runId: run.id, taskId: task.id, points: event.points });
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
        this.emit.log(line);
        return undefined;
      }
      case 'progress': {
        const progress = { done: event.done, total: event.total, etaSeconds: event.etaSeconds };
        // Workers send a few progress reports a second; the record is rewritten at most twice.
        const last = this.lastProgressWrite.get(task.id) ?? 0;
        if (Date.now() - last > 500 || event.done >= event.total) {
          this.store.updateTask(task.id, { progress });
          this.lastProgressWrite.set(task.id, Date.now());
        }
        const info = this.store.getTaskInfo(task.id);
        if (info) this.emit.task({ ...info, progress });
        return undefined;
      }
      case 'checkpoint': {
        this.store.updateTask(task.id, { checkpoint: { path: event.path, step: event.step } });
        this.emitTask(task.id);
        return undefined;
      }
      case 'sample': {
        this.emit.sample({ runId: run.id, taskId: task.id, path: event.path, step: event.step });
        return undefined;
      }
      case 'artifact': {
        const output: TaskOutput = { kind: event.kind, path: event.path, meta: event.meta };
        task.outputs[event.role] = output;
        this.store.updateTask(task.id, { outputs: task.outputs });
        if (event.kind === 'model') {
          const role = event.role;
          // Handled here, at once: a registration that fails (a name the registry refuses, an
          // artifact store it cannot write) fails this task, never the process.
          const registration = Promise.resolve()
            .then(() => this.registerModel(run, task, worker, role, event.path, event.meta))
            .then((version) => {
              output.versionId = version.id;
              this.store.updateTask(task.id, { outputs: task.outputs });
            })
            .catch((error: unknown) => {
              task.failure ??= registrationError(run, task, role, error);
            });
          task.pending.push(registration);
        }
        return undefined;
      }
      case 'done': {
        this.recordEvaluation(run, task);
        return { status: 'done', summary: event.summary };
      }
      case 'error': {
        const cancelled = event.error.code === 'TASK_CANCELLED';
        return { status: cancelled ? 'cancelled' : 'failed', error: workerError(task, event.error) };
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
    const keyParams = this.catalog.get(task.planned.type)?.lineageParams?.(task.planned.params) ?? [];
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
    return this.registry.registerVersion({
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
    if (versionId && Object.keys(metrics).length > 0) this.registry.addMetrics(versionId, metrics, task.id);
  }

  private emitTask(taskId: string): void {
    const info = this.store.getTaskInfo(taskId);
    if (info) this.emit.task(info);
  }
}

/** The error of a model registration that failed, naming the task, its node and the output. */
function registrationError(run: ActiveRun, task: ActiveTask, role: string, error: unknown): ErrorInfo {
  const cause = serializeError(error);
  const name = `${run.doc.name}/${task.planned.nodeId}`;
  return {
    code: cause.code,
    message: `Node "${task.planned.nodeId}": its model (output "${role}") could not be registered as "${name}": ${cause.message}`,
    details: { ...cause.details, nodeId: task.planned.nodeId, taskId: task.id, port: role },
  };
}

/** Node's file-system messages: `EACCES: permission denied, open '/path'`. */
const FS_REFUSAL = /^(EACCES|EPERM|EROFS): [^,]*, \w+ '([^']+)'/;

/**
 * A worker's error as the task records it: with the task's node, and a file-system refusal inside
 * its task folder (which reaches the runner as an uncoded message) turned into STORAGE_NOT_WRITABLE
 * naming the path. Only there: the worker writes nowhere else, and a refusal to read an input is
 * not a folder to make writable.
 */
function workerError(task: ActiveTask, error: ErrorInfo): ErrorInfo {
  const place = { nodeId: task.planned.nodeId, taskId: task.id };
  const refusal = error.code === 'INTERNAL' ? FS_REFUSAL.exec(error.message) : null;
  const inside = refusal && task.taskDir !== undefined ? relative(task.taskDir, refusal[2]!) : undefined;
  if (refusal && inside !== undefined && !inside.startsWith('..') && !isAbsolute(inside)) {
    const coded = storageNotWritable(refusal[2]!, `a file of node "${task.planned.nodeId}"`, {
      code: refusal[1],
    });
    return {
      ...serializeError(coded),
      ...(error.stack ? { stack: error.stack } : {}),
      details: { ...coded.details, ...place },
    };
  }
  return { ...error, details: { ...place, ...error.details } };
}
