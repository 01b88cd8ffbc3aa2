/**
 * What the runner needs from the run records: the slice of the registry's SqliteRunStore that it
 * writes and reads (the runner is the only writer). Record shapes are the run store's own.
 */
import type {
  ArtifactRef,
  ErrorInfo,
  LogLine,
  MetricPointInfo,
  RunInfo,
  TaskInfo,
} from '../../preload/contract';
import type {
  CreateRunInput,
  CreateTaskInput,
  ExternalEffects,
  RunPatch,
  RunRecord,
  TaskPatch,
} from '../registry/run-records';

/** Where a task's output lives, for downstream tasks and reuse; models also name their version. */
export interface TaskOutput extends ArtifactRef {
  versionId?: string;
}

export interface StoredTask {
  id: string;
  outputs: Record<string, TaskOutput>;
  summary: Record<string, unknown> | null;
  figures: Record<string, number> | null;
  effects: ExternalEffects | null;
}

export interface RunStorePort {
  createRun(run: CreateRunInput): unknown;
  updateRun(id: string, patch: RunPatch): unknown;
  createTask(task: CreateTaskInput): unknown;
  updateTask(id: string, patch: TaskPatch): unknown;
  /** Throws RUN_NOT_FOUND for an unknown id. */
  getRun(id: string): RunInfo;
  getRunRecord(id: string): Pick<RunRecord, 'pipeline'>;
  getTask(id: string): StoredTask | undefined;
  getTaskInfo(id: string): TaskInfo | undefined;
  listRuns(limit?: number): RunInfo[];
  /** Runs still `queued` or `running`, with their tasks. */
  listUnsettledRuns(): RunInfo[];
  /** Records points; a point for a (metric, step) the task has replaces it. */
  appendMetrics(taskId: string, points: readonly MetricPointInfo[]): void;
  /** Adds or corrects points from the task folder's metrics file; returns how many rows changed. */
  backfillMetrics(taskId: string, points: readonly MetricPointInfo[]): number;
  /** Settles a run whose runner is gone, unless it settled meanwhile (then returns false). */
  settleAbandonedRun(
    runId: string,
    status: 'failed' | 'cancelled',
    error: ErrorInfo,
    taskError: (task: { id: string; nodeId: string }) => ErrorInfo,
  ): boolean;
  appendLog(line: LogLine): void;
  findReusableTask(fingerprint: string): StoredTask | undefined;
  /** The task's figure of each metric, from its recorded points. */
  computeFigures(taskId: string): Record<string, number>;
  /** Deletes a run's records (tasks, metrics, logs with it). */
  deleteRun(runId: string): void;
  /** SQLite's data_version: changes when another process commits. */
  dataVersion(): number;
  /** Bumped by every change to the registry's tables, by any process. */
  registryRevision(): number;
  registryCounts(): { versions: number; models: number };
  latestRows(): { run: number; metric: number; log: number };
  runsAfter(afterRow: number): Array<{ id: string; row: number }>;
  metricsAfter(
    afterRow: number,
    taskIds: readonly string[],
  ): Array<MetricPointInfo & { row: number; taskId: string }>;
  logsAfter(afterRow: number, taskIds: readonly string[]): Array<LogLine & { row: number }>;
}
