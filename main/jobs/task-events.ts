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
  MetricSplit,
  ModelVersionInfo,
  TaskInfo,
  TaskSample,
} from '../../preload/contract';
import { serializeError } from '../base/errors';
import type { NodeCatalog } from '../nodes/catalog';
import type { RegisterVersionInput } from '../registry/model-registry';
import { storageNotWritable } from '../registry/storage-errors';
import type { WorkerEvent } from '../worker/protocol';
import { metricSplit } from './metric-splits';
import type { ActiveRun, ActiveTask, TaskOutcome } from './run-state';
import type { RunStorePort, TaskOutput } from './run-store-port';
import type { ExecutionExit } from './executors/types';
import type { ReadyEvent } from './worker-process';

/** What the runner needs from the model registry. */
export interface ModelRegistryPort {
  registerVersion(input: RegisterVersionInput): Promise<ModelVersionInfo>;
  addMetrics(
    versionId: string,
    metrics: Record<string, number>,
    taskId: string | null,
    origin?: {
      split?: MetricSplit | null | ((name: string) => MetricSplit | null);
      origin?: 'evaluation' | 'training';
    },
  ): void;
}

/** Where recorded events go out (the runner's emitters). */
export interface TaskEventSink {
  metrics(batch: MetricBatch): void;
  log(line: LogLine): void;
  task(info: TaskInfo): void;
  sample(sample: TaskSample): void;
}

/** The backend a worker reported, copied field by field so that only these fields reach the records. */
export function toBackendSummary(ready: ReadyEvent): BackendInfo {
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

  crashOutcome(run: ActiveRun, task: ActiveTask, exit: ExecutionExit): TaskOutcome {
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
    worker: { ready: ReadyEvent },
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
    worker: { ready: ReadyEvent },
    role: string,
    path: string,
    meta: Record<string, unknown>,
  ): Promise<ModelVersionInfo> {
    const num = (key: string) => (typeof meta[key] === 'number' ? meta[key] : 0);
    // Key params of the node (e.g. distill's temperature) go on every edge, even at their defaults.
    const keyParams = this.catalog.get(task.planned.type)?.lineageParams?.(task.planned.params) ?? [];
    const lineageParams = Object.fromEntries(keyParams.map((name) => [name, task.planned.params[name]]));
    const linked: Array<{ port: string; from: { nodeId: string; port: string }; link?: number }> = [
      ...Object.entries(task.planned.inputs).map(([port, from]) => ({ port, from })),
      ...Object.entries(task.planned.inputLists).flatMap(([port, links]) =>
        links.map((from, link) => ({ port, from, link })),
      ),
    ];
    const parents = linked
      .map(({ port, from, link }) => ({ port, link, output: run.tasks.get(from.nodeId)!.outputs[from.port] }))
      .filter(
        (entry): entry is { port: string; link: number | undefined; output: TaskOutput } =>
          entry.output?.kind === 'model' && !!entry.output.versionId,
      )
      .map(({ port, link, output }) => ({
        versionId: output.versionId!,
        operation: task.planned.type,
        params: {
          ...lineageParams,
          ...task.planned.explicitParams,
          port,
          ...(link !== undefined ? { link } : {}),
        },
      }));
    // A merge says how each parent entered it (its weight, scale or coefficient): one edge per
    // parent with those params, in place of the plain edge of the same version.
    for (const parent of mergeParents(meta)) {
      const plain = parents.findIndex((entry) => entry.versionId === parent.versionId);
      const edge = {
        versionId: parent.versionId,
        operation: task.planned.type,
        params: { ...lineageParams, ...parent.params, port: parent.port, link: parent.link },
      };
      if (plain >= 0) parents[plain] = edge;
      else parents.push(edge);
    }
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
      meta: run.modelMeta ? { ...meta, ...run.modelMeta } : meta,
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
      this.registry.addMetrics(versionId, metrics, task.id, {
        split: (name) => metricSplit(task.planned.params, name),
      });
  }

  /**
   * A finished task's own figures (train and validation metrics, and those a node with a `split`
   * param measured there) are recorded on every model version it registered, labelled by split.
   * Evaluate tasks' metrics are evaluations of the version they scored instead (recordEvaluation).
   */
  recordTrainingFigures(task: ActiveTask, figures: Record<string, number>): void {
    if (task.planned.category === 'evaluate') return;
    const declared = this.catalog.get(task.planned.type)?.metrics;
    const kept = Object.fromEntries(
      Object.entries(figures).filter(
        ([name, value]) =>
          Number.isFinite(value) &&
          (!declared || declared.includes(name)) &&
          metricSplit(task.planned.params, name) !== null,
      ),
    );
    if (Object.keys(kept).length === 0) return;
    const versions = new Set(
      Object.values(task.outputs).flatMap((output) => (output.versionId ? [output.versionId] : [])),
    );
    for (const versionId of versions) {
      this.registry.addMetrics(versionId, kept, task.id, {
        split: (name) => metricSplit(task.planned.params, name),
        origin: 'training',
      });
    }
  }

  private emitTask(taskId: string): void {
    const info = this.store.getTaskInfo(taskId);
    if (info) this.emit.task(info);
  }
}

/** The `merge.parents` of a merged model's meta (worker/ops/merge.ts): each input link that has a version. */
function mergeParents(
  meta: Record<string, unknown>,
): Array<{ port: string; link: number; versionId: string; params: Record<string, unknown> }> {
  const merge = meta.merge;
  if (typeof merge !== 'object' || merge === null) return [];
  const parents = (merge as { parents?: unknown }).parents;
  if (!Array.isArray(parents)) return [];
  return parents.flatMap((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return [];
    const { port, link, versionId, params } = entry as Record<string, unknown>;
    if (typeof versionId !== 'string' || typeof port !== 'string') return [];
    return [
      {
        port,
        link: typeof link === 'number' ? link : 0,
        versionId,
        params: typeof params === 'object' && params !== null ? (params as Record<string, unknown>) : {},
      },
    ];
  });
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
