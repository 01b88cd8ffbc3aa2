/**
 * What the runner needs from the run records. The registry's SqliteRunStore implements it; the
 * runner is the only writer.
 */
import type {
  BackendSummary,
  LogLine,
  MetricPointInfo,
  PipelineDoc,
  RunInfo,
  RunStatus,
  TaskInfo,
  TaskStatus,
} from '../../preload/contract';

/** Where a task's output lives, for downstream tasks and reuse. */
export interface TaskOutput {
  kind: 'dataset' | 'model';
  path: string;
  meta: Record<string, unknown>;
  /** Registry version id, for model outputs. */
  versionId?: string;
}

export interface ErrorInfo {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface RunPatch {
  status?: RunStatus;
  startedAt?: string | null;
  finishedAt?: string | null;
  backend?: BackendSummary | null;
  versions?: Record<string, string>;
  error?: ErrorInfo | null;
}

export interface TaskPatch {
  status?: TaskStatus;
  attempt?: number;
  reusedFrom?: string | null;
  backend?: BackendSummary | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  summary?: Record<string, unknown> | null;
  error?: ErrorInfo | null;
  progress?: TaskInfo['progress'];
  checkpoint?: TaskInfo['checkpoint'];
  inputs?: Record<string, unknown>;
  outputs?: Record<string, TaskOutput>;
}

export interface NewTask {
  id: string;
  runId: string;
  nodeId: string;
  nodeType: string;
  nodeVersion: number;
  op: string;
  fingerprint: string;
  params: Record<string, unknown>;
  taskDir: string;
}

export interface StoredTask {
  id: string;
  outputs: Record<string, TaskOutput>;
  summary: Record<string, unknown> | null;
}

/** The slice of the run store (registry/run-store.ts) that the runner writes and reads. */
export interface RunStorePort {
  createRun(run: {
    id: string;
    name: string;
    seed: number;
    pipeline: PipelineDoc;
    pipelineFile: string | null;
  }): unknown;
  updateRun(id: string, patch: RunPatch): unknown;
  createTask(task: NewTask): unknown;
  updateTask(id: string, patch: TaskPatch): unknown;
  /** Throws RUN_NOT_FOUND for an unknown id. */
  getRun(id: string): RunInfo;
  getRunRecord(id: string): { pipeline: PipelineDoc };
  getTask(id: string): StoredTask | undefined;
  getTaskInfo(id: string): TaskInfo | undefined;
  listRuns(limit?: number): RunInfo[];
  appendMetrics(taskId: string, points: readonly MetricPointInfo[]): void;
  appendLog(line: LogLine): void;
  findReusableTask(fingerprint: string): StoredTask | undefined;
}
