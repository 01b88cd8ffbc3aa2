/**
 * The runner ↔ worker protocol. Messages travel over the child's IPC channel with
 * `serialization: 'advanced'`; every union is string-tagged and every event names its task.
 * `jobs/` imports this file only from the worker folder.
 */
import type { SerializedError } from '../base/errors';

export const PROTOCOL_VERSION = 1;

/** Name of the file, in each task directory, that every metric point is appended to. */
export const METRICS_FILE = 'metrics.jsonl';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** Which tfjs backend a worker runs on and why it did not get a faster one. */
export interface BackendInfo {
  name: BackendName;
  /** Package that provides it, e.g. `@tensorflow/tfjs-backend-wasm`. */
  package: string;
  /** Human-readable reasons the faster backends were skipped, in preference order. */
  skipped: Array<{ name: BackendName; reason: string }>;
  /** Extra facts: SIMD, threads, whether the wasm kernel fixes are installed. */
  features: Record<string, boolean | number | string>;
}

/** A dataset or model produced by an upstream task, handed to a downstream one as files. */
export interface InputRef {
  kind: 'dataset' | 'model';
  /** Directory holding the artifact (see worker/data/dataset-file.ts, worker/models/model-file.ts). */
  path: string;
  meta: Record<string, unknown>;
}

export interface StartRequest {
  type: 'start';
  protocol: number;
  taskId: string;
  /** Op name from the node spec; see worker/ops/index.ts. */
  op: string;
  nodeId: string;
  params: Record<string, unknown>;
  inputs: Record<string, InputRef>;
  /** The worker writes every output below this directory and nowhere else. */
  taskDir: string;
  seed: number;
  /** Path of a checkpoint written by an earlier attempt of the same task. */
  resumeFrom?: string;
}

export interface CancelRequest {
  type: 'cancel';
  taskId: string;
}

export type WorkerRequest = StartRequest | CancelRequest;

export interface MetricPoint {
  /** Global optimisation step (or evaluation index for ops without steps). */
  step: number;
  epoch?: number;
  name: string;
  value: number;
  /** Milliseconds since the epoch. */
  time: number;
}

export type WorkerEvent =
  | { type: 'ready'; protocol: number; pid: number; backend: BackendInfo; versions: Record<string, string> }
  | { type: 'log'; taskId: string; level: 'info' | 'warn' | 'error'; message: string; time: number }
  | { type: 'metrics'; taskId: string; points: MetricPoint[] }
  | { type: 'progress'; taskId: string; done: number; total: number; etaSeconds: number | null }
  | { type: 'checkpoint'; taskId: string; path: string; step: number }
  | { type: 'sample'; taskId: string; path: string; step: number }
  | {
      type: 'artifact';
      taskId: string;
      role: string;
      kind: 'dataset' | 'model';
      path: string;
      meta: Record<string, unknown>;
    }
  | { type: 'done'; taskId: string; summary: Record<string, unknown> }
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
    for (const key of ['op', 'nodeId', 'taskDir'] as const) {
      if (typeof message[key] !== 'string') throw new Error(`start request: ${key} must be a string`);
    }
    if (typeof message.seed !== 'number') throw new Error('start request: seed must be a number');
    if (!isRecord(message.params) || !isRecord(message.inputs)) {
      throw new Error('start request: params and inputs must be objects');
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
