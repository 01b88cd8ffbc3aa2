/**
 * Runs whose runner is gone (killed, crashed, its machine rebooted): they are settled, their
 * unsettled tasks with them, so that they can be resumed, and the SLURM jobs they left are cancelled.
 */
import type { ErrorInfo, RunInfo } from '../../preload/contract';
import { onUnexpectedError } from '../base/unexpected-error';
import type { ExecutorSet } from './executors/executor-set';
import type { RunFolders } from './run-folder';
import type { RunStorePort } from './run-store-port';

/** What settling an abandoned run needs of the runner. */
export interface AbandonedRunsHost {
  store: RunStorePort;
  folders: RunFolders;
  executors: ExecutorSet;
  /** Whether this runner runs the run. */
  isActive(runId: string): boolean;
  backfillMetrics(taskId: string, taskDir: string): void;
  emitTask(taskId: string): void;
  emitRun(runId: string): void;
}

/** Settles a run left `queued` or `running` by a runner that is no longer alive as interrupted. */
export function settleIfAbandoned(host: AbandonedRunsHost, info: RunInfo): void {
  if (info.status !== 'running' && info.status !== 'queued') return;
  if (host.isActive(info.id) || host.folders.ownedElsewhere(info.id)) return;
  markAbandoned(host, info, 'failed', {
    code: 'RUN_INTERRUPTED',
    message: `Run "${info.id}" was interrupted: the process running it exited before it finished; resume it to continue from its checkpoints`,
    details: { runId: info.id },
  });
}

/** Settles a run whose runner is gone, and its unsettled tasks, with `status` and `error`. */
export function markAbandoned(
  host: AbandonedRunsHost,
  info: RunInfo,
  status: 'failed' | 'cancelled',
  error: ErrorInfo,
): void {
  const unsettled = info.tasks.filter((task) => task.status === 'queued' || task.status === 'running');
  // Settled in one transaction that re-reads the run: its runner may have finished it just now.
  const settled = host.store.settleAbandonedRun(info.id, status, error, (task) => ({
    code: error.code,
    message: `Node "${task.nodeId}": ${error.message}`,
    details: { ...error.details, nodeId: task.nodeId, taskId: task.id },
  }));
  if (!settled) return;
  for (const task of unsettled) {
    host.backfillMetrics(task.id, task.taskDir);
    host.emitTask(task.id);
  }
  // Its runner is gone, but SLURM jobs it submitted may still run: they would write into a run
  // that a resume is about to continue.
  const jobs = unsettled.flatMap((task) => (task.executor === 'slurm' && task.jobId ? [task.jobId] : []));
  if (jobs.length > 0) {
    try {
      host.executors.slurm().cancelJobs(jobs);
    } catch (error) {
      onUnexpectedError(error);
    }
  }
  host.folders.release(info.id);
  host.emitRun(info.id);
}
