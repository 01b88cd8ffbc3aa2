/** The runner's in-memory state of active runs and their tasks. */
import type { ErrorInfo, PipelineDoc, RunInfo, TaskStatus } from '../../preload/contract';
import type { PlannedTask } from '../pipeline/plan';
import type { TaskOutput } from './run-store-port';
import type { WorkerProcess } from './worker-process';

export interface ActiveTask {
  id: string;
  planned: PlannedTask;
  status: TaskStatus;
  outputs: Record<string, TaskOutput>;
  attempt: number;
  resumeFrom?: string;
  /** The task folder, once an attempt has prepared it. */
  taskDir?: string;
  worker?: WorkerProcess;
  enqueued: boolean;
  /** Latest value of each metric the task streamed (evaluate tasks attach them to their model). */
  latestMetrics: Record<string, number>;
  /** Model registrations in flight; the task settles only after they land. They never reject. */
  pending: Array<Promise<void>>;
  /** The first registration that failed: the task fails with it even if the worker said done. */
  failure?: ErrorInfo;
}

export interface ActiveRun {
  id: string;
  doc: PipelineDoc;
  force: boolean;
  tasks: Map<string, ActiveTask>;
  cancelRequested: boolean;
  /** The run as last read from the store: what `finished` resolves to if the store fails at the end. */
  info: RunInfo;
  finished: Promise<RunInfo>;
  resolve: (run: RunInfo) => void;
}

export const SETTLED: ReadonlySet<TaskStatus> = new Set(['done', 'reused', 'failed', 'cancelled', 'skipped']);

/** How one attempt of a task ended. */
export interface TaskOutcome {
  status: TaskStatus;
  error?: ErrorInfo | undefined;
  summary?: Record<string, unknown> | undefined;
}

export function now(): string {
  return new Date().toISOString();
}
