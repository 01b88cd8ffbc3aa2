/**
 * What other processes wrote to the run records: the rows a follower of their writes starts from
 * and reads after, and the registry's revision and counts.
 */
import type { LogLine, MetricPointInfo, RegistryChange } from '../../preload/contract';
import type { Database } from './db';
import type { MetricRow } from './run-records';

/** One metric point or log line another process recorded, with the row it was read from. */
export interface RecordedPoint extends MetricPointInfo {
  row: number;
  taskId: string;
}

/** Reads the run, metric and log rows recorded after a given row, and the registry's revision. */
export class SqliteRunFeed {
  private readonly statements;

  constructor(private readonly db: Database) {
    this.statements = {
      maxRunRow: db.prepare<[], { row: number | null }>('SELECT max(rowid) AS row FROM runs'),
      maxMetricRow: db.prepare<[], { row: number | null }>('SELECT max(rowid) AS row FROM metrics'),
      maxLogRow: db.prepare<[], { row: number | null }>('SELECT max(id) AS row FROM logs'),
      runsAfter: db.prepare<[number], { id: string; row: number }>(
        `SELECT id, rowid AS row FROM runs WHERE rowid > ? OR status IN ('queued', 'running')`,
      ),
      metricsAfter: db.prepare<[number, string], MetricRow & { row: number; task_id: string }>(
        `SELECT rowid AS row, task_id, step, epoch, name, value, time FROM metrics
         WHERE rowid > ? AND task_id IN (SELECT value FROM json_each(?)) ORDER BY rowid`,
      ),
      logsAfter: db.prepare<
        [number, string],
        {
          row: number;
          run_id: string;
          task_id: string;
          time: number;
          level: LogLine['level'];
          message: string;
        }
      >(
        `SELECT l.id AS row, t.run_id, l.task_id, l.time, l.level, l.message FROM logs l JOIN tasks t ON t.id = l.task_id
         WHERE l.id > ? AND l.task_id IN (SELECT value FROM json_each(?)) ORDER BY l.id`,
      ),
      registryRevision: db.prepare<[], { value: number }>(
        `SELECT value FROM revisions WHERE name = 'registry'`,
      ),
      registryCounts: db.prepare<[], RegistryChange>(
        `SELECT (SELECT count(*) FROM model_versions) AS versions, (SELECT count(*) FROM models) AS models`,
      ),
    };
  }

  /** SQLite's `data_version`: it changes when another connection (process) commits. */
  dataVersion(): number {
    return Number(this.db.pragma('data_version', { simple: true }));
  }

  /** The registry's revision: bumped by every change to models, versions, aliases, metrics, lineage. */
  registryRevision(): number {
    return this.statements.registryRevision.get()?.value ?? 0;
  }

  /** How many model versions and models the registry holds. */
  registryCounts(): RegistryChange {
    return this.statements.registryCounts.get() ?? { versions: 0, models: 0 };
  }

  /** The highest row of runs, metrics and logs: where a follower of other processes' writes starts. */
  latestRows(): { run: number; metric: number; log: number } {
    return {
      run: this.statements.maxRunRow.get()?.row ?? 0,
      metric: this.statements.maxMetricRow.get()?.row ?? 0,
      log: this.statements.maxLogRow.get()?.row ?? 0,
    };
  }

  /** Runs created after row `afterRow`, and runs still queued or running, with their rows. */
  runsAfter(afterRow: number): Array<{ id: string; row: number }> {
    return this.statements.runsAfter.all(afterRow);
  }

  /** Metric points after row `afterRow` of the given tasks, in the order they were recorded. */
  metricsAfter(afterRow: number, taskIds: readonly string[]): RecordedPoint[] {
    if (taskIds.length === 0) return [];
    return this.statements.metricsAfter.all(afterRow, JSON.stringify(taskIds)).map((row) => {
      const point: RecordedPoint = {
        row: row.row,
        taskId: row.task_id,
        step: row.step,
        name: row.name,
        value: row.value ?? Number.NaN,
        time: row.time,
      };
      if (row.epoch !== null) point.epoch = row.epoch;
      return point;
    });
  }

  /** Log lines after row `afterRow` of the given tasks. */
  logsAfter(afterRow: number, taskIds: readonly string[]): Array<LogLine & { row: number }> {
    if (taskIds.length === 0) return [];
    return this.statements.logsAfter.all(afterRow, JSON.stringify(taskIds)).map((row) => ({
      row: row.row,
      runId: row.run_id,
      taskId: row.task_id,
      level: row.level,
      message: row.message,
      time: row.time,
    }));
  }
}
