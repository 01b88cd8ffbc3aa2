/**
 * Reading model versions: a reference (id, `name:version`, `name@alias`, bare name) to its row, and
 * rows to `ModelVersionInfo` DTOs with their aliases and metrics.
 */
import type { MetricSplit, ModelVersionInfo, VersionMetricInfo } from '../../preload/contract';
import { errors } from '../base/errors';
import type { Database } from './db';
import { parseModelRef, VERSION_ID } from './model-refs';

/** What a version is a model of. */
export type ModelKind = ModelVersionInfo['kind'];

/** A model_versions row with its model's name. */
export interface VersionRow {
  id: string;
  model_id: string;
  name: string;
  version: number;
  kind: ModelKind;
  framework: string;
  backend: string | null;
  run_id: string | null;
  task_id: string | null;
  role: string | null;
  node_type: string | null;
  param_count: number;
  non_zero_params: number;
  size_bytes: number;
  params_json: string;
  meta_json: string;
  created_at: string;
}

const VERSION_SELECT = `
  SELECT mv.id, mv.model_id, m.name, mv.version, mv.kind, mv.framework, mv.backend, mv.run_id,
         mv.task_id, mv.role, mv.node_type, mv.param_count, mv.non_zero_params, mv.size_bytes,
         mv.params_json, mv.meta_json, mv.created_at
  FROM model_versions mv JOIN models m ON m.id = mv.model_id`;

/** A JSON object column; anything else reads as an empty object. */
export function parseObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** `name:version`, as messages name a version. */
export function describeVersion(row: VersionRow): string {
  return `${row.name}:${row.version}`;
}

/** Finds version rows and turns them into DTOs. */
export class SqliteVersionReader {
  private readonly statements;

  constructor(db: Database) {
    this.statements = {
      byId: db.prepare<[string], VersionRow>(`${VERSION_SELECT} WHERE mv.id = ?`),
      byNameVersion: db.prepare<[string, number], VersionRow>(
        `${VERSION_SELECT} WHERE m.name = ? AND mv.version = ?`,
      ),
      byAlias: db.prepare<[string, string], VersionRow>(
        `${VERSION_SELECT} JOIN aliases a ON a.version_id = mv.id AND a.model_id = m.id WHERE m.name = ? AND a.alias = ?`,
      ),
      latest: db.prepare<[string], VersionRow>(
        `${VERSION_SELECT} WHERE m.name = ? ORDER BY mv.version DESC LIMIT 1`,
      ),
      listAll: db.prepare<[], VersionRow>(`${VERSION_SELECT} ORDER BY mv.rowid DESC`),
      listByName: db.prepare<[string], VersionRow>(
        `${VERSION_SELECT} WHERE m.name = ? ORDER BY mv.rowid DESC`,
      ),
      byIds: db.prepare<[string], VersionRow>(
        `${VERSION_SELECT} WHERE mv.id IN (SELECT value FROM json_each(?)) ORDER BY mv.rowid`,
      ),
      aliasesOf: db.prepare<[string], { version_id: string; alias: string }>(
        `SELECT version_id, alias FROM aliases WHERE version_id IN (SELECT value FROM json_each(?)) ORDER BY alias`,
      ),
      latestMetricsOf: db.prepare<[string], { version_id: string; name: string; value: number | null }>(
        `SELECT version_id, name, value FROM version_metrics WHERE id IN (
           SELECT max(id) FROM version_metrics
           WHERE version_id IN (SELECT value FROM json_each(?)) AND origin = 'evaluation'
           GROUP BY version_id, name)
         ORDER BY name`,
      ),
      metricRecordsOf: db.prepare<
        [string],
        {
          version_id: string;
          name: string;
          value: number | null;
          split: MetricSplit | null;
          task_id: string | null;
          run_id: string | null;
          recorded_at: string;
        }
      >(
        `SELECT vm.version_id, vm.name, vm.value, vm.split, vm.task_id, t.run_id, vm.recorded_at
         FROM version_metrics vm LEFT JOIN tasks t ON t.id = vm.task_id
         WHERE vm.id IN (
           SELECT max(id) FROM version_metrics WHERE version_id IN (SELECT value FROM json_each(?))
           GROUP BY version_id, name, split, task_id)
         ORDER BY vm.id`,
      ),
    };
  }

  /** The row of the version with this id, if any. */
  byId(id: string): VersionRow | undefined {
    return this.statements.byId.get(id);
  }

  /** The rows of the versions with these ids (a JSON array), oldest first. */
  byIds(idsJson: string): VersionRow[] {
    return this.statements.byIds.all(idsJson);
  }

  /** A version by id; MODEL_NOT_FOUND when there is none. */
  get(id: string): ModelVersionInfo {
    const row = this.statements.byId.get(id);
    if (!row) throw errors.modelNotFound(id);
    return this.toInfos([row])[0] as ModelVersionInfo;
  }

  /** Versions, newest first; `name` keeps one model's. */
  list(filter: { name?: string } = {}): ModelVersionInfo[] {
    const rows =
      filter.name === undefined ? this.statements.listAll.all() : this.statements.listByName.all(filter.name);
    return this.toInfos(rows);
  }

  /** The row a reference names; MODEL_NOT_FOUND when there is none. */
  resolveRow(ref: string): VersionRow {
    if (VERSION_ID.test(ref)) {
      const row = this.statements.byId.get(ref);
      if (row) return row;
    }
    const parsed = parseModelRef(ref);
    let row: VersionRow | undefined;
    switch (parsed.type) {
      case 'latest':
        row = this.statements.latest.get(parsed.name);
        break;
      case 'version':
        row = this.statements.byNameVersion.get(parsed.name, parsed.version);
        break;
      case 'alias':
        row = this.statements.byAlias.get(parsed.name, parsed.alias);
        break;
    }
    if (!row) throw errors.modelNotFound(ref);
    return row;
  }

  /** The DTOs of `rows`, with their aliases, latest evaluation metrics and metric records. */
  toInfos(rows: VersionRow[]): ModelVersionInfo[] {
    if (rows.length === 0) return [];
    const ids = JSON.stringify(rows.map((row) => row.id));
    const aliases = new Map<string, string[]>();
    for (const { version_id, alias } of this.statements.aliasesOf.all(ids)) {
      const list = aliases.get(version_id) ?? [];
      list.push(alias);
      aliases.set(version_id, list);
    }
    const records = new Map<string, VersionMetricInfo[]>();
    for (const row of this.statements.metricRecordsOf.all(ids)) {
      const list = records.get(row.version_id) ?? [];
      list.push({
        name: row.name,
        value: row.value ?? Number.NaN,
        split: row.split,
        taskId: row.task_id,
        runId: row.run_id,
        recordedAt: row.recorded_at,
      });
      records.set(row.version_id, list);
    }
    const metrics = new Map<string, Record<string, number>>();
    for (const { version_id, name, value } of this.statements.latestMetricsOf.all(ids)) {
      const record = metrics.get(version_id) ?? {};
      // SQLite stores NaN as NULL; a diverged loss reads back as NaN.
      record[name] = value ?? Number.NaN;
      metrics.set(version_id, record);
    }
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      version: row.version,
      kind: row.kind,
      framework: row.framework,
      aliases: aliases.get(row.id) ?? [],
      createdAt: row.created_at,
      runId: row.run_id,
      taskId: row.task_id,
      nodeType: row.node_type,
      backend: row.backend,
      paramCount: row.param_count,
      nonZeroParams: row.non_zero_params,
      sizeBytes: row.size_bytes,
      params: parseObject(row.params_json),
      metrics: metrics.get(row.id) ?? {},
      metricRecords: records.get(row.id) ?? [],
      meta: parseObject(row.meta_json),
    }));
  }
}
