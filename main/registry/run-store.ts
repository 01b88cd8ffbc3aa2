/**
 * Run and task records, their metrics and logs. The runner is the only writer; everything else
 * reads `RunInfo` / `TaskInfo` DTOs. Rows map to records (and JSON columns are parsed) in one
 * place each: `runFromRow`, `taskFromRow`, and the column tables used by the updates.
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
import type BetterSqlite3 from 'better-sqlite3';
import { DistilleryError, errors } from '../base/errors';
import type { Database } from './db';

export interface ErrorInfo {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** A dataset or model handed to (input) or produced by (output) a task, as files. */
export interface TaskArtifactRef {
  kind: 'dataset' | 'model';
  path: string;
  meta: Record<string, unknown>;
}

export interface TaskProgress {
  done: number;
  total: number;
  etaSeconds: number | null;
}

export interface TaskCheckpoint {
  path: string;
  step: number;
}

export interface RunRecord {
  id: string;
  name: string;
  status: RunStatus;
  seed: number;
  pipeline: PipelineDoc;
  pipelineFile: string | null;
  backend: BackendSummary | null;
  versions: Record<string, string>;
  error: ErrorInfo | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
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
  inputs: Record<string, TaskArtifactRef>;
  /** What the worker produced, by output port. */
  outputs: Record<string, TaskArtifactRef>;
  summary: Record<string, unknown> | null;
  error: ErrorInfo | null;
  reusedFrom: string | null;
  backend: BackendSummary | null;
  attempt: number;
  progress: TaskProgress | null;
  checkpoint: TaskCheckpoint | null;
  taskDir: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface CreateRunInput {
  id: string;
  name: string;
  seed: number;
  pipeline: PipelineDoc;
  pipelineFile: string | null;
  status?: RunStatus;
  versions?: Record<string, string>;
  backend?: BackendSummary | null;
  createdAt?: string;
}

export type RunPatch = Partial<
  Pick<RunRecord, 'name' | 'status' | 'backend' | 'versions' | 'error' | 'startedAt' | 'finishedAt'>
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
  inputs?: Record<string, TaskArtifactRef>;
  outputs?: Record<string, TaskArtifactRef>;
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
  >
>;

interface RunRow {
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
}

interface TaskRow {
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
}

interface MetricRow {
  step: number;
  epoch: number | null;
  name: string;
  value: number | null;
  time: number;
}

type SqlValue = string | number | null;

function json(value: unknown): string {
  return JSON.stringify(value);
}

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

function parse<T>(text: string): T {
  return JSON.parse(text) as T;
}

function parseOrNull<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** Record field → column and encoder, for the patch updates. */
const RUN_COLUMNS: { [K in keyof RunPatch]-?: [column: string, encode: (value: RunPatch[K]) => SqlValue] } = {
  name: ['name', (v) => v ?? null],
  status: ['status', (v) => v ?? null],
  backend: ['backend_json', jsonOrNull],
  versions: ['versions_json', (v) => json(v ?? {})],
  error: ['error_json', jsonOrNull],
  startedAt: ['started_at', (v) => v ?? null],
  finishedAt: ['finished_at', (v) => v ?? null],
};

const TASK_COLUMNS: {
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
};

function runFromRow(row: RunRow): RunRecord {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    seed: row.seed,
    pipeline: parse<PipelineDoc>(row.pipeline_json),
    pipelineFile: row.pipeline_file,
    backend: parseOrNull<BackendSummary>(row.backend_json),
    versions: parse<Record<string, string>>(row.versions_json),
    error: parseOrNull<ErrorInfo>(row.error_json),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function taskFromRow(row: TaskRow): TaskRecord {
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
    inputs: parse<Record<string, TaskArtifactRef>>(row.inputs_json),
    outputs: parse<Record<string, TaskArtifactRef>>(row.outputs_json),
    summary: parseOrNull<Record<string, unknown>>(row.summary_json),
    error: parseOrNull<ErrorInfo>(row.error_json),
    reusedFrom: row.reused_from,
    backend: parseOrNull<BackendSummary>(row.backend_json),
    attempt: row.attempt,
    progress: parseOrNull<TaskProgress>(row.progress_json),
    checkpoint: parseOrNull<TaskCheckpoint>(row.checkpoint_json),
    taskDir: row.task_dir,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** The DTO of a task; `models` maps output port → registered version id. */
export function toTaskInfo(task: TaskRecord, models: Record<string, string> = {}): TaskInfo {
  return {
    id: task.id,
    runId: task.runId,
    nodeId: task.nodeId,
    nodeType: task.nodeType,
    op: task.op,
    fingerprint: task.fingerprint,
    status: task.status,
    reusedFrom: task.reusedFrom,
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
    error: run.error,
    tasks,
  };
}

export interface MetricQuery {
  names?: string[];
  /** Only points with a step strictly greater than this. */
  sinceStep?: number;
}

export class SqliteRunStore {
  private readonly statements;
  private readonly updateCache = new Map<string, BetterSqlite3.Statement<SqlValue[]>>();

  constructor(private readonly db: Database) {
    this.statements = {
      insertRun: db.prepare(
        `INSERT INTO runs (id, name, status, seed, pipeline_json, pipeline_file, backend_json, versions_json,
           error_json, created_at, started_at, finished_at)
         VALUES (@id, @name, @status, @seed, @pipeline_json, @pipeline_file, @backend_json, @versions_json,
           NULL, @created_at, NULL, NULL)`,
      ),
      runById: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE id = ?'),
      listRuns: db.prepare<[number], RunRow>(
        'SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?',
      ),
      insertTask: db.prepare(
        `INSERT INTO tasks (id, run_id, node_id, node_type, node_version, op, fingerprint, status, params_json,
           inputs_json, outputs_json, reused_from, attempt, task_dir, created_at)
         VALUES (@id, @run_id, @node_id, @node_type, @node_version, @op, @fingerprint, @status, @params_json,
           @inputs_json, @outputs_json, @reused_from, @attempt, @task_dir, @created_at)`,
      ),
      taskById: db.prepare<[string], TaskRow>('SELECT * FROM tasks WHERE id = ?'),
      tasksOfRun: db.prepare<[string], TaskRow>('SELECT * FROM tasks WHERE run_id = ? ORDER BY rowid'),
      tasksOfRuns: db.prepare<[string], TaskRow>(
        'SELECT * FROM tasks WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY rowid',
      ),
      reusable: db.prepare<[string], TaskRow>(
        `SELECT * FROM tasks WHERE fingerprint = ? AND status = 'done'
         ORDER BY finished_at DESC, rowid DESC LIMIT 1`,
      ),
      // A reused task shows the versions its original registered.
      modelsOfTasks: db.prepare<[string], { task_id: string; role: string | null; id: string }>(
        `SELECT task_id, role, id FROM model_versions
         WHERE task_id IN (SELECT value FROM json_each(?)) ORDER BY rowid`,
      ),
      insertMetric: db.prepare<[string, number, number | null, string, number | null, number]>(
        'INSERT INTO metrics (task_id, step, epoch, name, value, time) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      metrics: db.prepare<[{ taskId: string; sinceStep: number | null; names: string | null }], MetricRow>(
        `SELECT step, epoch, name, value, time FROM metrics
         WHERE task_id = @taskId AND (@sinceStep IS NULL OR step > @sinceStep)
           AND (@names IS NULL OR name IN (SELECT value FROM json_each(@names)))
         ORDER BY step, rowid`,
      ),
      insertLog: db.prepare<[string, number, string, string]>(
        'INSERT INTO logs (task_id, time, level, message) VALUES (?, ?, ?, ?)',
      ),
      logs: db.prepare<
        [string],
        { run_id: string; task_id: string; time: number; level: LogLine['level']; message: string }
      >(
        `SELECT t.run_id, l.task_id, l.time, l.level, l.message FROM logs l JOIN tasks t ON t.id = l.task_id
         WHERE l.task_id = ? ORDER BY l.id`,
      ),
    };
  }

  createRun(input: CreateRunInput): RunRecord {
    this.statements.insertRun.run({
      id: input.id,
      name: input.name,
      status: input.status ?? 'queued',
      seed: input.seed,
      pipeline_json: json(input.pipeline),
      pipeline_file: input.pipelineFile,
      backend_json: jsonOrNull(input.backend),
      versions_json: json(input.versions ?? {}),
      created_at: input.createdAt ?? new Date().toISOString(),
    });
    return this.getRunRecord(input.id);
  }

  updateRun(id: string, patch: RunPatch): RunRecord {
    const changes = this.update('runs', RUN_COLUMNS, id, patch);
    if (changes === 0) throw errors.runNotFound(id);
    return this.getRunRecord(id);
  }

  /** The run's record without its tasks; RUN_NOT_FOUND when there is none. */
  getRunRecord(id: string): RunRecord {
    const row = this.statements.runById.get(id);
    if (!row) throw errors.runNotFound(id);
    return runFromRow(row);
  }

  /** The run's DTO with its tasks in creation order; RUN_NOT_FOUND when there is none. */
  getRun(id: string): RunInfo {
    const run = this.getRunRecord(id);
    return toRunInfo(run, this.taskInfos(this.statements.tasksOfRun.all(id).map(taskFromRow)));
  }

  /** Newest runs first, with their tasks. */
  listRuns(limit = 100): RunInfo[] {
    const runs = this.statements.listRuns.all(Math.max(0, Math.floor(limit))).map(runFromRow);
    if (runs.length === 0) return [];
    const tasks = this.taskInfos(
      this.statements.tasksOfRuns.all(JSON.stringify(runs.map((run) => run.id))).map(taskFromRow),
    );
    const byRun = new Map<string, TaskInfo[]>();
    for (const task of tasks) {
      const list = byRun.get(task.runId) ?? [];
      list.push(task);
      byRun.set(task.runId, list);
    }
    return runs.map((run) => toRunInfo(run, byRun.get(run.id) ?? []));
  }

  createTask(input: CreateTaskInput): TaskRecord {
    this.statements.insertTask.run({
      id: input.id,
      run_id: input.runId,
      node_id: input.nodeId,
      node_type: input.nodeType,
      node_version: input.nodeVersion,
      op: input.op,
      fingerprint: input.fingerprint,
      status: input.status ?? 'queued',
      params_json: json(input.params),
      inputs_json: json(input.inputs ?? {}),
      outputs_json: json(input.outputs ?? {}),
      reused_from: input.reusedFrom ?? null,
      attempt: input.attempt ?? 0,
      task_dir: input.taskDir,
      created_at: input.createdAt ?? new Date().toISOString(),
    });
    return this.requireTask(input.id);
  }

  updateTask(id: string, patch: TaskPatch): TaskRecord {
    const changes = this.update('tasks', TASK_COLUMNS, id, patch);
    if (changes === 0) throw taskNotFound(id);
    return this.requireTask(id);
  }

  getTask(id: string): TaskRecord | undefined {
    const row = this.statements.taskById.get(id);
    return row ? taskFromRow(row) : undefined;
  }

  /** The task's DTO (with the model versions it registered); undefined when there is none. */
  getTaskInfo(id: string): TaskInfo | undefined {
    const task = this.getTask(id);
    return task ? this.taskInfos([task])[0] : undefined;
  }

  tasksOfRun(runId: string): TaskRecord[] {
    return this.statements.tasksOfRun.all(runId).map(taskFromRow);
  }

  /** The latest finished (`done`, not `reused`) task with this fingerprint. */
  findReusableTask(fingerprint: string): TaskRecord | undefined {
    const row = this.statements.reusable.get(fingerprint);
    return row ? taskFromRow(row) : undefined;
  }

  /** Appends a batch of points in one transaction. */
  appendMetrics(taskId: string, points: readonly MetricPointInfo[]): void {
    if (points.length === 0) return;
    const insert = this.statements.insertMetric;
    this.db.transaction(() => {
      for (const point of points) {
        insert.run(taskId, point.step, point.epoch ?? null, point.name, point.value, point.time);
      }
    })();
  }

  /** Points ordered by step (then arrival); NaN values (stored as NULL) read back as NaN. */
  getMetrics(taskId: string, query: MetricQuery = {}): MetricPointInfo[] {
    const names = query.names === undefined ? null : JSON.stringify(query.names);
    return this.statements.metrics.all({ taskId, sinceStep: query.sinceStep ?? null, names }).map((row) => {
      const point: MetricPointInfo = {
        step: row.step,
        name: row.name,
        value: row.value ?? Number.NaN,
        time: row.time,
      };
      if (row.epoch !== null) point.epoch = row.epoch;
      return point;
    });
  }

  /** Appends a log line; its run is the task's (the `runId` field is not stored twice). */
  appendLog(line: LogLine): void {
    this.statements.insertLog.run(line.taskId, line.time, line.level, line.message);
  }

  /** Appends many log lines in one transaction. */
  appendLogs(lines: readonly LogLine[]): void {
    if (lines.length === 0) return;
    this.db.transaction(() => {
      for (const line of lines) this.appendLog(line);
    })();
  }

  getLogs(taskId: string): LogLine[] {
    return this.statements.logs.all(taskId).map((row) => ({
      runId: row.run_id,
      taskId: row.task_id,
      level: row.level,
      message: row.message,
      time: row.time,
    }));
  }

  private requireTask(id: string): TaskRecord {
    const task = this.getTask(id);
    if (!task) throw taskNotFound(id);
    return task;
  }

  private taskInfos(tasks: TaskRecord[]): TaskInfo[] {
    if (tasks.length === 0) return [];
    const sources = new Set<string>();
    for (const task of tasks) {
      sources.add(task.id);
      if (task.reusedFrom) sources.add(task.reusedFrom);
    }
    const models = new Map<string, Record<string, string>>();
    for (const row of this.statements.modelsOfTasks.all(JSON.stringify([...sources]))) {
      const byRole = models.get(row.task_id) ?? {};
      // Rows come oldest first: a later registration of the same port (a retry) wins.
      byRole[row.role ?? 'model'] = row.id;
      models.set(row.task_id, byRole);
    }
    return tasks.map((task) => {
      const own = models.get(task.id);
      const reused = task.reusedFrom ? models.get(task.reusedFrom) : undefined;
      return toTaskInfo(task, { ...(reused ?? {}), ...(own ?? {}) });
    });
  }

  private update<P extends object>(
    table: 'runs' | 'tasks',
    columns: { [K in keyof P]-?: [string, (value: P[K]) => SqlValue] },
    id: string,
    patch: P,
  ): number {
    const fields = (Object.keys(patch) as Array<keyof P>).filter(
      (field) => patch[field] !== undefined && Object.prototype.hasOwnProperty.call(columns, field),
    );
    if (fields.length === 0) return this.db.prepare(`SELECT 1 FROM ${table} WHERE id = ?`).get(id) ? 1 : 0;
    const names = fields.map((field) => columns[field][0]);
    const sql = `UPDATE ${table} SET ${names.map((name) => `${name} = ?`).join(', ')} WHERE id = ?`;
    let statement = this.updateCache.get(sql);
    if (!statement) {
      statement = this.db.prepare<SqlValue[]>(sql);
      this.updateCache.set(sql, statement);
    }
    const values = fields.map((field) => columns[field][1](patch[field]));
    return statement.run(...values, id).changes;
  }
}

function taskNotFound(id: string): DistilleryError {
  return new DistilleryError('INTERNAL', `No task with id "${id}"`, { received: id });
}
