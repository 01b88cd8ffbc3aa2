/**
 * The runner ↔ worker protocol. Messages travel over the child's IPC channel with
 * `serialization: 'advanced'`; every union is string-tagged and every event names its task.
 * `jobs/` imports this file only from the worker folder.
 */
import type {
  ArtifactRef,
  BackendInfo as ContractBackendInfo,
  BackendName,
  LogLine,
  MetricBatch,
  MetricPointInfo,
  TaskCheckpoint,
  TaskProgress,
  TaskSample,
} from '../../preload/contract';
import type { SerializedError } from '../base/errors';

// What the worker shares with the runner and the clients is declared once, in the contract; these
// are the names the worker's own code knows it by.
export type { BackendName } from '../../preload/contract';
/** The backend this worker got: the contract's `BackendInfo`, with the names this build knows. */
export type BackendInfo = ContractBackendInfo<BackendName>;
/** One value of one metric: the contract's `MetricPointInfo`. */
export type MetricPoint = MetricPointInfo;
/** A dataset or model handed to a task as files: the contract's `ArtifactRef`. */
export type InputRef = ArtifactRef;

export const PROTOCOL_VERSION = 2;

/** Name of the file, in each task directory, that every metric point is appended to. */
export const METRICS_FILE = 'metrics.jsonl';

/**
 * One line of the metrics file: a point, and when the worker process that wrote it started (ms
 * since the epoch). A resumed task writes the steps after its checkpoint again; for a (metric,
 * step) written more than once, the line of the latest execution is the one that counts (the
 * later line among lines of the same execution). Files from before the mark have no `execution`.
 */
export interface MetricsFileLine extends MetricPoint {
  execution?: number;
}

/**
 * Name of the file, in each task directory, that a worker with no IPC channel (a SLURM job) appends
 * its events to, one `EventsFileLine` per line, for the runner to follow (jobs/executors/).
 */
export const EVENTS_FILE = 'events.jsonl';

/**
 * Name of the file, in each task directory, that holds the `StartRequest` of a worker with no IPC
 * channel (a SLURM job): the worker reads it with `--start-file`, and a requeued job reads it again.
 */
export const START_FILE = 'start.json';

/** One line of the events file (written by worker/event-file.ts). */
export interface EventsFileLine {
  /** When the worker wrote the line (ms since the epoch). */
  time: number;
  /** When the worker process that wrote it started (ms since the epoch), as in `MetricsFileLine`. */
  execution: number;
  event: WorkerEvent;
}

export interface StartRequest {
  type: 'start';
  protocol: number;
  taskId: string;
  /** The node's type; the worker runs the op registered for it (worker/ops/index.ts). */
  nodeType: string;
  nodeId: string;
  params: Record<string, unknown>;
  inputs: Record<string, InputRef>;
  /**
   * The inputs of ports that take many links (PortSpecInfo.multiple), each list in the order of the
   * pipeline's edges; absent when the node has no such port.
   */
  inputLists?: Record<string, InputRef[]>;
  /** The worker writes every output below this directory and nowhere else. */
  taskDir: string;
  seed: number;
  /** Path of a checkpoint written by an earlier attempt of the same task. */
  resumeFrom?: string;
  /**
   * After this task the worker waits for the next `start` instead of exiting (a warm worker of the
   * local executor's pool). It exits anyway after a failed or cancelled task.
   */
  keepAlive?: boolean;
}

export interface CancelRequest {
  type: 'cancel';
  taskId: string;
}

export type WorkerRequest = StartRequest | CancelRequest;

/**
 * What a worker reports. Events that carry a contract payload (log line, metric batch, progress,
 * checkpoint, sample, artifact) carry it as the contract declares it, less `runId`, which only the
 * runner knows.
 */
export type WorkerEvent =
  | {
      type: 'ready';
      protocol: number;
      pid: number;
      backend: BackendInfo;
      versions: Record<string, string>;
      /** The SLURM job the worker runs in (`SLURM_JOB_ID`), when it runs in one. */
      jobId?: string;
      /** The machine the worker runs on (a SLURM job's `SLURMD_NODENAME`, else the host name). */
      node?: string;
    }
  | ({ type: 'log' } & Omit<LogLine, 'runId'>)
  | ({ type: 'metrics' } & Omit<MetricBatch, 'runId'>)
  | ({ type: 'progress'; taskId: string } & TaskProgress)
  | ({ type: 'checkpoint'; taskId: string } & TaskCheckpoint)
  | ({ type: 'sample' } & Omit<TaskSample, 'runId'>)
  | ({ type: 'artifact'; taskId: string; role: string } & ArtifactRef)
  | {
      type: 'done';
      taskId: string;
      summary: Record<string, unknown>;
      /** The worker stays for another task (it was asked to `keepAlive`, and has released this one). */
      staying?: boolean;
    }
  | { type: 'error'; taskId: string; error: SerializedError };

export type WorkerEventType = WorkerEvent['type'];

const REQUEST_TYPES = new Set(['start', 'cancel']);
const EVENT_TYPES = new Set([
  'ready',
  'log',
  'metrics',
  'progress',
  'checkpoint',
  'sample',
  'artifact',
  'done',
  'error',
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the tag and the fields every request needs; anything else is a protocol error. */
export function decodeRequest(message: unknown): WorkerRequest {
  if (!isRecord(message) || typeof message.type !== 'string' || !REQUEST_TYPES.has(message.type)) {
    throw new Error(`Malformed worker request: ${JSON.stringify(message)}`);
  }
  if (typeof message.taskId !== 'string') throw new Error('Worker request without taskId');
  if (message.type === 'start') {
    if (message.protocol !== PROTOCOL_VERSION) {
      throw new Error(
        `Protocol mismatch: runner speaks ${String(message.protocol)}, worker speaks ${PROTOCOL_VERSION}`,
      );
    }
    for (const key of ['nodeType', 'nodeId', 'taskDir'] as const) {
      if (typeof message[key] !== 'string') throw new Error(`start request: ${key} must be a string`);
    }
    if (typeof message.seed !== 'number') throw new Error('start request: seed must be a number');
    if (!isRecord(message.params) || !isRecord(message.inputs)) {
      throw new Error('start request: params and inputs must be objects');
    }
    if (
      message.inputLists !== undefined &&
      (!isRecord(message.inputLists) || !Object.values(message.inputLists).every(Array.isArray))
    ) {
      throw new Error('start request: inputLists must be an object of arrays');
    }
  }
  return message as unknown as WorkerRequest;
}

/** Checks an event's tag and its task id (all but `ready` carry one). */
export function decodeEvent(message: unknown): WorkerEvent {
  if (!isRecord(message) || typeof message.type !== 'string' || !EVENT_TYPES.has(message.type)) {
    throw new Error(`Malformed worker event: ${JSON.stringify(message)?.slice(0, 200)}`);
  }
  if (message.type === 'ready') {
    if (typeof message.protocol !== 'number' || !isRecord(message.backend)) {
      throw new Error('ready event without protocol or backend');
    }
  } else if (typeof message.taskId !== 'string') {
    throw new Error(`${message.type} event without taskId`);
  }
  if (message.type === 'metrics' && !Array.isArray(message.points)) {
    throw new Error('metrics event without points');
  }
  return message as unknown as WorkerEvent;
}
