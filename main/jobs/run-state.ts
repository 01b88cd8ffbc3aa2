/** The runner's in-memory state of active runs and their tasks. */
import type { ErrorInfo, ExecutorName, PipelineDoc, RunInfo, TaskStatus } from '../../preload/contract';
import type { PlannedTask } from '../pipeline/plan';
import type { TaskOutput } from './run-store-port';
import type { Execution } from './executors/types';

export interface ActiveTask {
  id: string;
  planned: PlannedTask;
  status: TaskStatus;
  outputs: Record<string, TaskOutput>;
  attempt: number;
  resumeFrom?: string;
  /** The task folder, once an attempt has prepared it. */
  taskDir?: string;
  /** Where its current attempt runs (a local worker, a SLURM job), while it runs. */
  execution?: Execution;
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
  /** Nodes run again whatever finished result they have (`forceNodes` and their descendants). */
  forced: ReadonlySet<string>;
  tasks: Map<string, ActiveTask>;
  /** Where its tasks run. */
  executor: ExecutorName;
  cancelRequested: boolean;
  /** Aborted on cancel: stops workers that are still starting. */
  cancellation: AbortController;
  /** The run as last read from the store: what `finished` resolves to if the store fails at the end. */
  info: RunInfo;
  finished: Promise<RunInfo>;
  resolve: (run: RunInfo) => void;
  /** Merged into the meta of every model version the run registers (a sweep's trial). */
  modelMeta?: Record<string, unknown>;
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
