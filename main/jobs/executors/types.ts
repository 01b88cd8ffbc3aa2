/**
 * The Executor interface: where a task's worker runs, between the runner and a local child process
 * or a SLURM batch job. Modelled on NNI's training services: `submit` a task, follow its `status`
 * (the placement and its state), `cancel` it, read its `logs`, and receive its `events` (what the
 * worker reports, in order). The runner talks to an Executor and does not know which one.
 */
import type { ErrorInfo, ExecutorName, ExecutorState, SlurmResourcesInfo } from '../../../preload/contract';
import type { IDisposable } from '../../base/lifecycle';
import type { StartRequest, WorkerEvent } from '../../worker/protocol';

export type { ExecutorName, ExecutorState } from '../../../preload/contract';

/** The states a task's execution goes through, whatever runs it. */
export const EXECUTOR_STATES = [
  'waiting',
  'running',
  'succeeded',
  'failed',
  'cancelled',
] as const satisfies readonly ExecutorState[];

/** The executors there are, as `--executor` and a pipeline's `executor.type` name them. */
export const EXECUTOR_NAMES = ['local', 'slurm'] as const satisfies readonly ExecutorName[];

/** Whether an execution in `state` has ended. */
export function isFinalState(state: ExecutorState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

/** Where and how a task's execution stands: what its task record shows. */
export interface ExecutionPlacement {
  executor: ExecutorName;
  /** SLURM's job id, or the local worker's process id; null until there is one. */
  jobId: string | null;
  /** The machine the worker runs on; null until known. */
  nodeName: string | null;
  /** Local: whether the worker was already running (from the pool); null for SLURM. */
  warm: boolean | null;
  state: ExecutorState;
}

/** How a worker process ended, where that is known. */
export interface ExecutionExit {
  code: number | null;
  signal: string | null;
  /** Last lines the worker wrote to stderr (locally) or to its job's error file, for crash reports. */
  stderrTail: string;
}

/** How an execution ended. */
export interface ExecutionEnd {
  state: 'succeeded' | 'failed' | 'cancelled';
  exit: ExecutionExit;
  /**
   * Why the task failed, when the executor knows better than the worker's own report: a job killed,
   * cancelled outside Distillery, out of time, or one that never started. The runner records it
   * unless the worker reported `done`.
   */
  failure?: ErrorInfo;
}

/** A task handed to an executor. */
export interface TaskSubmission {
  runId: string;
  /** What the worker runs (its task id, node, folder, params and inputs). */
  request: StartRequest;
  /** What a SLURM job asks of the cluster (defaults, pipeline block and node entry merged). */
  resources?: SlurmResourcesInfo;
  /** Aborted when the task should not start after all (the run cancelled, the runner disposed). */
  signal: AbortSignal;
  /**
   * Every event the worker reports, in order, `ready` first. A SLURM job that is requeued runs
   * again: its new execution starts with a new `ready`.
   */
  onEvent: (event: WorkerEvent) => void;
  /** Each change of where the task runs and how its execution stands. */
  onPlacement: (placement: ExecutionPlacement) => void;
  /** What the executor itself has to say about the task (a job submitted, pending, requeued). */
  onLog: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** One task's execution, from submission to its end. */
export interface Execution extends IDisposable {
  readonly placement: ExecutionPlacement;
  /** The local worker's process id; undefined for a SLURM job. */
  readonly pid: number | undefined;
  /** Resolves once the execution has ended (never rejects). */
  readonly finished: Promise<ExecutionEnd>;
  /**
   * Asks the task to stop: it checkpoints and exits (locally `cancel`, then SIGTERM after `graceMs`,
   * then SIGKILL; on SLURM `scancel`, whose SIGTERM the worker takes the same way). Resolves when
   * the request has been made.
   */
  cancel(graceMs: number): Promise<void>;
  /** Stops it now, without a checkpoint. */
  kill(): Promise<void>;
  /** The worker's own output: its stderr (locally) or its job's output files (SLURM). */
  logs(): Promise<string>;
}

/** Counts of an executor's work, for the status bar. */
export interface ExecutorQueue {
  waiting: number;
  running: number;
}

/** Where tasks run. */
export interface Executor extends IDisposable {
  readonly name: ExecutorName;
  /**
   * Starts a task. Resolves once it is accepted (locally: a ready worker has it; on SLURM: sbatch
   * took the job); rejects with a coded error naming the task when it cannot be.
   */
  submit(task: TaskSubmission): Promise<Execution>;
  /** This executor's tasks waiting and running now. */
  queue(): ExecutorQueue;
}
