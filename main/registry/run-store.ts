/**
 * Run and task records, their metrics and logs, in SQLite. The runner is the only writer;
 * everything else reads `RunInfo` / `TaskInfo` DTOs (mapping in run-records.ts).
 */
import type {
  ErrorInfo,
  LogLine,
  MetricPointInfo,
  RegistryChange,
  RunInfo,
  RunStatus,
  RunSummaries,
  TaskInfo,
  TaskStatus,
} from '../../preload/contract';
import type BetterSqlite3 from 'better-sqlite3';
import { DistilleryError, errors } from '../base/errors';
import type { Database } from './db';
import { TASK_FIGURES_SQL } from './migrations';
import {
  type RunRecord,
  type TaskRecord,
  type CreateRunInput,
  type RunPatch,
  type CreateTaskInput,
  type TaskPatch,
  type RunRow,
  type TaskRow,
  type MetricRow,
  type SqlValue,
  json,
  jsonOrNull,
  RUN_COLUMNS,
  TASK_COLUMNS,
  runFromRow,
  taskFromRow,
  toTaskInfo,
  toRunInfo,
  type MetricQuery,
} from './run-records';

import { normalizeRunMetadata, type RunMetadataPatch } from './run-metadata';
import { SqliteRunFeed, type RecordedPoint } from './run-feed';
import { SqliteRunSummaries, type SummaryOptions } from './run-summaries';

export * from './run-records';

/** Run and task records in SQLite, with their metrics and logs. */
export class SqliteRunStore {
  private readonly statements;
  private readonly updateCache = new Map<string, BetterSqlite3.Statement<SqlValue[]>>();
  private readonly feed: SqliteRunFeed;
  private readonly summaryReader: SqliteRunSummaries;

  constructor(private readonly db: Database) {
    this.feed = new SqliteRunFeed(db);
    this.summaryReader = new SqliteRunSummaries(db);
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
      unsettledRuns: db.prepare<[], RunRow>(
        `SELECT * FROM runs WHERE status IN ('queued', 'running') ORDER BY created_at DESC, rowid DESC`,
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
      // One row per (task, metric, step): a later point for the same step (a resumed task
      // re-recording the steps after its checkpoint) replaces the earlier one.
      upsertMetric: db.prepare<[string, number, number | null, string, number | null, number]>(
        `INSERT INTO metrics (task_id, step, epoch, name, value, time) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (task_id, name, step) DO UPDATE
           SET epoch = excluded.epoch, value = excluded.value, time = excluded.time`,
      ),
      // The same, but leaves a row that already holds the point alone, so a back-fill of a task
      // whose points all arrived writes nothing.
      backfillMetric: db.prepare<[string, number, number | null, string, number | null, number]>(
        `INSERT INTO metrics (task_id, step, epoch, name, value, time) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (task_id, name, step) DO UPDATE
           SET epoch = excluded.epoch, value = excluded.value, time = excluded.time
           WHERE metrics.epoch IS NOT excluded.epoch OR metrics.value IS NOT excluded.value
             OR metrics.time IS NOT excluded.time`,
      ),
      runStatus: db.prepare<[string], { status: RunStatus }>('SELECT status FROM runs WHERE id = ?'),
      metrics: db.prepare<[{ taskId: string; sinceStep: number | null; names: string | null }], MetricRow>(
        `SELECT step, epoch, name, value, time FROM metrics
         WHERE task_id = @taskId AND (@sinceStep IS NULL OR step > @sinceStep)
           AND (@names IS NULL OR name IN (SELECT value FROM json_each(@names)))
         ORDER BY step, rowid`,
      ),
      insertLog: db.prepare<[string, number, string, string]>(
        'INSERT INTO logs (task_id, time, level, message) VALUES (?, ?, ?, ?)',
      ),
      sourceRuns: db.prepare<[string], { id: string; run_id: string }>(
        'SELECT id, run_id FROM tasks WHERE id IN (SELECT value FROM json_each(?))',
      ),
      figures: db.prepare<[{ task: string }], { figures: string | null }>(
        `SELECT (${TASK_FIGURES_SQL}) AS figures`,
      ),
      deleteRun: db.prepare<[string]>('DELETE FROM runs WHERE id = ?'),
      taskSource: db.prepare<[string], { status: TaskStatus; reused_from: string | null }>(
        'SELECT status, reused_from FROM tasks WHERE id = ?',
      ),
      hasMetrics: db.prepare<[string], { found: number }>(
        'SELECT EXISTS (SELECT 1 FROM metrics WHERE task_id = ?) AS found',
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
    return this.withTasks(this.statements.listRuns.all(Math.max(0, Math.floor(limit))).map(runFromRow));
  }

  /** Runs still `queued` or `running` (their runner may be gone), newest first, with their tasks. */
  listUnsettledRuns(): RunInfo[] {
    return this.withTasks(this.statements.unsettledRuns.all().map(runFromRow));
  }

  private withTasks(runs: RunRecord[]): RunInfo[] {
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

  /**
   * Records a batch of points in one transaction. A point for a (metric, step) the task already has
   * replaces it: the points of a resumed attempt win over those of the attempt it continues.
   */
  appendMetrics(taskId: string, points: readonly MetricPointInfo[]): void {
    if (points.length === 0) return;
    const upsert = this.statements.upsertMetric;
    this.db.transaction(() => {
      for (const point of points) {
        upsert.run(taskId, point.step, point.epoch ?? null, point.name, point.value, point.time);
      }
    })();
  }

  /**
   * Makes the task's stored points equal `points` (one per metric and step, as read back from the
   * task folder's metrics file) wherever they differ or are missing; returns how many rows it
   * inserted or changed. Points the store has and `points` lacks are kept.
   */
  backfillMetrics(taskId: string, points: readonly MetricPointInfo[]): number {
    if (points.length === 0) return 0;
    const backfill = this.statements.backfillMetric;
    let changed = 0;
    this.db.transaction(() => {
      for (const point of points) {
        changed += backfill.run(
          taskId,
          point.step,
          point.epoch ?? null,
          point.name,
          Number.isNaN(point.value) ? null : point.value,
          point.time,
        ).changes;
      }
    })();
    return changed;
  }

  /**
   * Settles a run whose runner is gone: if it is still queued or running, it becomes `status` with
   * `error`, and each of its queued or running tasks `status` with `taskError(task)`, in one
   * transaction. Returns false (and changes nothing) when the run has settled meanwhile, e.g.
   * because its runner finished it after the caller looked.
   */
  settleAbandonedRun(
    runId: string,
    status: 'failed' | 'cancelled',
    error: ErrorInfo,
    taskError: (task: TaskRecord) => ErrorInfo = () => error,
  ): boolean {
    return this.db
      .transaction(() => {
        const row = this.statements.runStatus.get(runId);
        if (!row || (row.status !== 'queued' && row.status !== 'running')) return false;
        const finishedAt = new Date().toISOString();
        for (const task of this.tasksOfRun(runId)) {
          if (task.status === 'queued' || task.status === 'running')
            this.updateTask(task.id, { status, error: taskError(task), finishedAt });
        }
        this.updateRun(runId, { status, error, finishedAt });
        return true;
      })
      .immediate();
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

  /**
   * The task whose metric points stand for this one: a reused task that recorded none has its
   * source's (followed through a chain of reuses).
   */
  metricsSourceOf(taskId: string): string {
    let current = taskId;
    for (let hops = 0; hops < 100; hops++) {
      const row = this.statements.taskSource.get(current);
      if (!row || row.status !== 'reused' || !row.reused_from) return current;
      if (this.statements.hasMetrics.get(current)?.found) return current;
      current = row.reused_from;
    }
    return current;
  }

  /** The task's figures computed from its recorded metrics (see TASK_FIGURES_SQL). */
  computeFigures(taskId: string): Record<string, number> {
    const text = this.statements.figures.get({ task: taskId })?.figures ?? null;
    const parsed = text ? (JSON.parse(text) as Record<string, number | null>) : {};
    return Object.fromEntries(
      Object.entries(parsed).filter((entry): entry is [string, number] => typeof entry[1] === 'number'),
    );
  }

  /** Sets a run's label, tags or note (checked by normalizeRunMetadata); returns the run. */
  updateRunMetadata(runId: string, patch: RunMetadataPatch): RunInfo {
    const normalized = normalizeRunMetadata(patch);
    this.updateRun(runId, normalized);
    return this.getRun(runId);
  }

  /**
   * Deletes a run's records: the run, its tasks, their metrics and logs (foreign-key cascade).
   * Tasks of other runs that reused its tasks keep their outputs and figures and lose the link.
   */
  deleteRun(runId: string): void {
    if (this.statements.deleteRun.run(runId).changes === 0) throw errors.runNotFound(runId);
  }
  /**
   * The runs table's rows, newest first: each run's counts, params (`node.param`) and figures
   * (`node.metric`), with the params every listed run shares split out so that 10,000 rows of the
   * same pipeline carry only what differs.
   */
  summaries(options: SummaryOptions = {}): RunSummaries {
    return this.summaryReader.summaries(options);
  }

  /** SQLite's `data_version`: it changes when another connection (process) commits. */
  dataVersion(): number {
    return this.feed.dataVersion();
  }

  /** The registry's revision: bumped by every change to models, versions, aliases, metrics, lineage. */
  registryRevision(): number {
    return this.feed.registryRevision();
  }

  /** How many model versions and models the registry holds. */
  registryCounts(): RegistryChange {
    return this.feed.registryCounts();
  }

  /** The highest row of runs, metrics and logs: where a follower of other processes' writes starts. */
  latestRows(): { run: number; metric: number; log: number } {
    return this.feed.latestRows();
  }

  /** Runs created after row `afterRow`, and runs still queued or running, with their rows. */
  runsAfter(afterRow: number): Array<{ id: string; row: number }> {
    return this.feed.runsAfter(afterRow);
  }

  /** Metric points after row `afterRow` of the given tasks, in the order they were recorded. */
  metricsAfter(afterRow: number, taskIds: readonly string[]): RecordedPoint[] {
    return this.feed.metricsAfter(afterRow, taskIds);
  }

  /** Log lines after row `afterRow` of the given tasks. */
  logsAfter(afterRow: number, taskIds: readonly string[]): Array<LogLine & { row: number }> {
    return this.feed.logsAfter(afterRow, taskIds);
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
    const sourceRun = new Map<string, string>();
    const reusedIds = tasks.flatMap((task) => (task.reusedFrom ? [task.reusedFrom] : []));
    if (reusedIds.length > 0)
      for (const row of this.statements.sourceRuns.all(JSON.stringify(reusedIds)))
        sourceRun.set(row.id, row.run_id);
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
      return toTaskInfo(
        task,
        { ...(reused ?? {}), ...(own ?? {}) },
        task.reusedFrom ? (sourceRun.get(task.reusedFrom) ?? null) : null,
      );
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
