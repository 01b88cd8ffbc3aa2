/**
 * Run and task records as the run store keeps them: record types, their rows, and the one place
 * each where rows map to records (JSON columns parsed) and records to the contract's DTOs.
 */
import type {
  ArtifactRef,
  BackendInfo,
  ErrorInfo,
  ExecutorName,
  ExecutorState,
  PipelineDoc,
  RunInfo,
  RunStatus,
  TaskCheckpoint,
  TaskInfo,
  TaskProgress,
  TaskStatus,
} from '../../preload/contract';

export interface RunRecord {
  id: string;
  name: string;
  status: RunStatus;
  seed: number;
  pipeline: PipelineDoc;
  pipelineFile: string | null;
  backend: BackendInfo | null;
  versions: Record<string, string>;
  error: ErrorInfo | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  label: string | null;
  tags: string[];
  note: string;
}

/** One file a task with external effects wrote, as recorded when it finished. */
export interface ExternalFile {
  /** Absolute path. */
  path: string;
  sha256: string;
  size: number;
}

/**
 * What a task with external effects wrote outside its task folder: every file under each path its
 * params named. `complete` is false when there were too many files or bytes to record, and such a
 * task is never reused.
 */
export interface ExternalEffects {
  paths: string[];
  files: ExternalFile[];
  complete: boolean;
}

export interface TaskRecord {
  id: string;
  runId: string;
  nodeId: string;
  nodeType: string;
  nodeVersion: number;
  op: string;
  fingerprint: string;
  status: TaskStatus;
  params: Record<string, unknown>;
  /** What the worker was given, by input port. */
  inputs: Record<string, ArtifactRef>;
  /** What the worker produced, by output port. */
  outputs: Record<string, ArtifactRef>;
  summary: Record<string, unknown> | null;
  error: ErrorInfo | null;
  reusedFrom: string | null;
  backend: BackendInfo | null;
  attempt: number;
  progress: TaskProgress | null;
  checkpoint: TaskCheckpoint | null;
  taskDir: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The task's figure of each metric (TASK_FIGURES_SQL), once it has settled. */
  figures: Record<string, number> | null;
  /** What it wrote outside its task folder, for node types with external effects. */
  effects: ExternalEffects | null;
  /** Where its latest attempt ran (TaskInfo's fields of the same names). */
  executor: ExecutorName | null;
  jobId: string | null;
  nodeName: string | null;
  warm: boolean | null;
  executorState: ExecutorState | null;
}

export interface CreateRunInput {
  id: string;
  name: string;
  seed: number;
  pipeline: PipelineDoc;
  pipelineFile: string | null;
  status?: RunStatus;
  versions?: Record<string, string>;
  backend?: BackendInfo | null;
  createdAt?: string;
}

export type RunPatch = Partial<
  Pick<
    RunRecord,
    | 'name'
    | 'status'
    | 'backend'
    | 'versions'
    | 'error'
    | 'startedAt'
    | 'finishedAt'
    | 'label'
    | 'tags'
    | 'note'
  >
>;

export interface CreateTaskInput {
  id: string;
  runId: string;
  nodeId: string;
  nodeType: string;
  nodeVersion: number;
  op: string;
  fingerprint: string;
  params: Record<string, unknown>;
  taskDir: string;
  status?: TaskStatus;
  inputs?: Record<string, ArtifactRef>;
  outputs?: Record<string, ArtifactRef>;
  reusedFrom?: string | null;
  attempt?: number;
  createdAt?: string;
}

export type TaskPatch = Partial<
  Pick<
    TaskRecord,
    | 'status'
    | 'params'
    | 'inputs'
    | 'outputs'
    | 'summary'
    | 'error'
    | 'reusedFrom'
    | 'backend'
    | 'attempt'
    | 'progress'
    | 'checkpoint'
    | 'taskDir'
    | 'startedAt'
    | 'finishedAt'
    | 'figures'
    | 'effects'
    | 'executor'
    | 'jobId'
    | 'nodeName'
    | 'warm'
    | 'executorState'
  >
>;

export interface RunRow {
  id: string;
  name: string;
  status: RunStatus;
  seed: number;
  pipeline_json: string;
  pipeline_file: string | null;
  backend_json: string | null;
  versions_json: string;
  error_json: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  label: string | null;
  tags_json: string;
  note: string;
}

export interface TaskRow {
  id: string;
  run_id: string;
  node_id: string;
  node_type: string;
  node_version: number;
  op: string;
  fingerprint: string;
  status: TaskStatus;
  params_json: string;
  inputs_json: string;
  outputs_json: string;
  summary_json: string | null;
  error_json: string | null;
  reused_from: string | null;
  backend_json: string | null;
  attempt: number;
  progress_json: string | null;
  checkpoint_json: string | null;
  task_dir: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  figures_json: string | null;
  effects_json: string | null;
  executor: ExecutorName | null;
  job_id: string | null;
  node_name: string | null;
  worker_warm: number | null;
  executor_state: ExecutorState | null;
}

export interface MetricRow {
  step: number;
  epoch: number | null;
  name: string;
  value: number | null;
  time: number;
}

export type SqlValue = string | number | null;

export function json(value: unknown): string {
  return JSON.stringify(value);
}

export function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

export function parse<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function parseOrNull<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** Record field → column and encoder, for the patch updates. */
export const RUN_COLUMNS: {
  [K in keyof RunPatch]-?: [column: string, encode: (value: RunPatch[K]) => SqlValue];
} = {
  name: ['name', (v) => v ?? null],
  status: ['status', (v) => v ?? null],
  backend: ['backend_json', jsonOrNull],
  versions: ['versions_json', (v) => json(v ?? {})],
  error: ['error_json', jsonOrNull],
  startedAt: ['started_at', (v) => v ?? null],
  finishedAt: ['finished_at', (v) => v ?? null],
  label: ['label', (v) => v ?? null],
  tags: ['tags_json', (v) => json(v ?? [])],
  note: ['note', (v) => v ?? ''],
};

export const TASK_COLUMNS: {
  [K in keyof TaskPatch]-?: [column: string, encode: (value: TaskPatch[K]) => SqlValue];
} = {
  status: ['status', (v) => v ?? null],
  params: ['params_json', (v) => json(v ?? {})],
  inputs: ['inputs_json', (v) => json(v ?? {})],
  outputs: ['outputs_json', (v) => json(v ?? {})],
  summary: ['summary_json', jsonOrNull],
  error: ['error_json', jsonOrNull],
  reusedFrom: ['reused_from', (v) => v ?? null],
  backend: ['backend_json', jsonOrNull],
  attempt: ['attempt', (v) => v ?? 0],
  progress: ['progress_json', jsonOrNull],
  checkpoint: ['checkpoint_json', jsonOrNull],
  taskDir: ['task_dir', (v) => v ?? null],
  startedAt: ['started_at', (v) => v ?? null],
  finishedAt: ['finished_at', (v) => v ?? null],
  figures: ['figures_json', jsonOrNull],
  effects: ['effects_json', jsonOrNull],
  executor: ['executor', (v) => v ?? null],
  jobId: ['job_id', (v) => v ?? null],
  nodeName: ['node_name', (v) => v ?? null],
  warm: ['worker_warm', (v) => (v === null || v === undefined ? null : v ? 1 : 0)],
  executorState: ['executor_state', (v) => v ?? null],
};

export function runFromRow(row: RunRow): RunRecord {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    seed: row.seed,
    pipeline: parse<PipelineDoc>(row.pipeline_json),
    pipelineFile: row.pipeline_file,
    backend: parseOrNull<BackendInfo>(row.backend_json),
    versions: parse<Record<string, string>>(row.versions_json),
    error: parseOrNull<ErrorInfo>(row.error_json),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    label: row.label,
    tags: parse<string[]>(row.tags_json),
    note: row.note,
  };
}

export function taskFromRow(row: TaskRow): TaskRecord {
  return {
    id: row.id,
    runId: row.run_id,
    nodeId: row.node_id,
    nodeType: row.node_type,
    nodeVersion: row.node_version,
    op: row.op,
    fingerprint: row.fingerprint,
    status: row.status,
    params: parse<Record<string, unknown>>(row.params_json),
    inputs: parse<Record<string, ArtifactRef>>(row.inputs_json),
    outputs: parse<Record<string, ArtifactRef>>(row.outputs_json),
    summary: parseOrNull<Record<string, unknown>>(row.summary_json),
    error: parseOrNull<ErrorInfo>(row.error_json),
    reusedFrom: row.reused_from,
    backend: parseOrNull<BackendInfo>(row.backend_json),
    attempt: row.attempt,
    progress: parseOrNull<TaskProgress>(row.progress_json),
    checkpoint: parseOrNull<TaskCheckpoint>(row.checkpoint_json),
    taskDir: row.task_dir,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    figures: parseOrNull<Record<string, number>>(row.figures_json),
    effects: parseOrNull<ExternalEffects>(row.effects_json),
    executor: row.executor,
    jobId: row.job_id,
    nodeName: row.node_name,
    warm: row.worker_warm === null ? null : row.worker_warm === 1,
    executorState: row.executor_state,
  };
}

/**
 * The DTO of a task; `models` maps output port → registered version id, `reusedFromRun` is the run
 * of the task it reused.
 */
export function toTaskInfo(
  task: TaskRecord,
  models: Record<string, string> = {},
  reusedFromRun: string | null = null,
): TaskInfo {
  return {
    id: task.id,
    runId: task.runId,
    nodeId: task.nodeId,
    nodeType: task.nodeType,
    op: task.op,
    fingerprint: task.fingerprint,
    status: task.status,
    reusedFrom: task.reusedFrom,
    reusedFromRun,
    attempt: task.attempt,
    progress: task.progress,
    backend: task.backend,
    startedAt: task.startedAt,
    finishedAt: task.finishedAt,
    summary: task.summary,
    error: task.error,
    checkpoint: task.checkpoint,
    models,
    taskDir: task.taskDir,
    executor: task.executor,
    jobId: task.jobId,
    nodeName: task.nodeName,
    warm: task.warm,
    executorState: task.executorState,
  };
}

export function toRunInfo(run: RunRecord, tasks: TaskInfo[]): RunInfo {
  return {
    id: run.id,
    name: run.name,
    status: run.status,
    seed: run.seed,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    backend: run.backend,
    versions: run.versions,
    pipelineFile: run.pipelineFile,
    pipeline: run.pipeline,
    error: run.error,
    tasks,
    label: run.label,
    tags: run.tags,
    note: run.note,
  };
}

export interface MetricQuery {
  names?: string[];
  /** Only points with a step strictly greater than this. */
  sinceStep?: number;
}
