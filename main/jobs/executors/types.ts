/**
 * What every executor (where a task's worker runs: a local child process, a SLURM batch job)
 * reports about a task, in the statuses of NNI's training services.
 */

/** The states a task's execution goes through, whatever runs it. */
export const EXECUTOR_STATES = ['waiting', 'running', 'succeeded', 'failed', 'cancelled'] as const;

/**
 * `waiting`: accepted, not started (a job pending in the queue, or requeued); `running`: the worker
 * runs; `succeeded` / `failed` / `cancelled`: it ended, and will not run again unless resubmitted.
 */
export type ExecutorState = (typeof EXECUTOR_STATES)[number];

/** Whether an execution in `state` has ended. */
export function isFinalState(state: ExecutorState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}
