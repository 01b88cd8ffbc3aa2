/**
 * The model registry: models, their numbered versions, lineage between versions, aliases and
 * metrics in SQLite; the versions' files in a content-addressed `FsArtifactStore`.
 *
 * Crash safety comes from ordering: every blob is stored (and fsynced) before the one transaction
 * that inserts the rows naming it. A process killed at any point leaves either no row, or a
 * complete row whose blobs exist; unreferenced blobs and temp files are left for `gc`.
 */
import {
  MODEL_DESCRIPTION_MAX_LENGTH,
  type LineageEdge,
  type LineageDataset,
  type LineageGraph,
  type MetricSplit,
  type ModelVersionInfo,
  type RegisteredModelInfo,
  type VersionMetricInfo,
} from '../../preload/contract';
import { DistilleryError, errors } from '../base/errors';
import type { ArtifactManifest, FsArtifactStore, GcOptions, GcResult } from './artifact-store';
import type { Database } from './db';
import { newId, parseModelRef, validateAlias, validateModelName, VERSION_ID } from './model-refs';

export type ModelKind = ModelVersionInfo['kind'];

/** How metric values recorded for a version came about (see migration 3). */
export interface MetricOrigin {
  /** The split they were measured on, when known. */
  split?: MetricSplit | null;
  /** `evaluation` (default): an evaluate task scored the version; `training`: the task that made it. */
  origin?: 'evaluation' | 'training';
}

interface RegisteredRow {
  name: string;
  kind: ModelKind;
  description: string;
  created_at: string;
  version_count: number;
  latest_version: number | null;
  latest_id: string | null;
  updated_at: string | null;
  node_type: string | null;
}

export interface RegisterVersionInput {
  /** Model name: letters, digits, `_ . -`, segments joined by `/` (e.g. `mnist-mlp/fit`). */
  name: string;
  kind: ModelKind;
  framework: string;
  backend: string | null;
  runId: string | null;
  taskId: string | null;
  /** Output port of the task that produced it; `TaskInfo.models` is keyed by it (default `model`). */
  role?: string | null;
  nodeType: string | null;
  /** Directory whose regular files (recursively) are the version's artifact files. */
  artifactDir: string;
  paramCount: number;
  nonZeroParams: number;
  sizeBytes: number;
  params: Record<string, unknown>;
  meta: Record<string, unknown>;
  /** Versions this one was made from, and how. */
  parents: Array<{ versionId: string; operation: string; params: Record<string, unknown> }>;
  metrics?: Record<string, number>;
}

/** Unreferenced blobs younger than this survive `gc()`: another process may be about to commit them. */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

interface VersionRow {
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

interface LineageRow {
  child_id: string;
  parent_id: string;
  operation: string;
  params_json: string;
  task_id: string | null;
}

const VERSION_SELECT = `
  SELECT mv.id, mv.model_id, m.name, mv.version, mv.kind, mv.framework, mv.backend, mv.run_id,
         mv.task_id, mv.role, mv.node_type, mv.param_count, mv.non_zero_params, mv.size_bytes,
         mv.params_json, mv.meta_json, mv.created_at
  FROM model_versions mv JOIN models m ON m.id = mv.model_id`;

function parseObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function describeVersion(row: VersionRow): string {
  return `${row.name}:${row.version}`;
}

export class SqliteModelRegistry {
  private readonly statements;

  constructor(
    private readonly db: Database,
    readonly store: FsArtifactStore,
  ) {
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
      registered: db.prepare<[], RegisteredRow>(
        `SELECT m.name, m.kind, m.description, m.created_at,
           (SELECT count(*) FROM model_versions v WHERE v.model_id = m.id) AS version_count,
           latest.version AS latest_version, latest.id AS latest_id, latest.created_at AS updated_at,
           latest.node_type AS node_type
         FROM models m LEFT JOIN model_versions latest ON latest.id = (
           SELECT v.id FROM model_versions v WHERE v.model_id = m.id ORDER BY v.version DESC LIMIT 1)
         WHERE latest.id IS NOT NULL ORDER BY m.name`,
      ),
      registeredAliases: db.prepare<[], { name: string; alias: string; version: number }>(
        `SELECT m.name, a.alias, v.version FROM aliases a JOIN models m ON m.id = a.model_id
         JOIN model_versions v ON v.id = a.version_id ORDER BY a.alias`,
      ),
      describeModel: db.prepare<[string, string]>('UPDATE models SET description = ? WHERE name = ?'),
      taskInputs: db.prepare<[string], { id: string; inputs_json: string }>(
        'SELECT id, inputs_json FROM tasks WHERE id IN (SELECT value FROM json_each(?))',
      ),
      versionsOfRun: db.prepare<[string], { id: string }>(
        'SELECT id FROM model_versions WHERE run_id = ? ORDER BY rowid DESC',
      ),
      modelByName: db.prepare<[string], { id: string; kind: ModelKind; next_version: number }>(
        'SELECT id, kind, next_version FROM models WHERE name = ?',
      ),
      insertModel: db.prepare<[string, string, string, string]>(
        'INSERT INTO models (id, name, kind, next_version, created_at) VALUES (?, ?, ?, 1, ?)',
      ),
      setModelKind: db.prepare<[string, string]>('UPDATE models SET kind = ? WHERE id = ?'),
      bumpVersion: db.prepare<[number, string]>('UPDATE models SET next_version = ? WHERE id = ?'),
      countVersions: db.prepare<[string], { count: number }>(
        'SELECT count(*) AS count FROM model_versions WHERE model_id = ?',
      ),
      insertVersion: db.prepare(
        `INSERT INTO model_versions (id, model_id, version, kind, framework, backend, run_id, task_id, role,
           node_type, param_count, non_zero_params, size_bytes, params_json, meta_json, created_at)
         VALUES (@id, @model_id, @version, @kind, @framework, @backend, @run_id, @task_id, @role,
           @node_type, @param_count, @non_zero_params, @size_bytes, @params_json, @meta_json, @created_at)`,
      ),
      insertArtifact: db.prepare<[string, number, string]>(
        'INSERT OR IGNORE INTO artifacts (sha256, size, created_at) VALUES (?, ?, ?)',
      ),
      insertVersionArtifact: db.prepare<[string, string, string]>(
        'INSERT INTO version_artifacts (version_id, path, sha256) VALUES (?, ?, ?)',
      ),
      insertLineage: db.prepare<[string, string, string, string, string | null]>(
        'INSERT INTO lineage (child_id, parent_id, operation, params_json, task_id) VALUES (?, ?, ?, ?, ?)',
      ),
      insertMetric: db.prepare<[string, string, number, string | null, string, string | null, string]>(
        `INSERT INTO version_metrics (version_id, name, value, task_id, recorded_at, split, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      lineageFrom: db.prepare<[string, string], { id: string }>(
        `WITH RECURSIVE
           ancestor(id) AS (SELECT ? UNION SELECT l.parent_id FROM lineage l JOIN ancestor a ON l.child_id = a.id),
           descendant(id) AS (SELECT ? UNION SELECT l.child_id FROM lineage l JOIN descendant d ON l.parent_id = d.id)
         SELECT id FROM ancestor UNION SELECT id FROM descendant`,
      ),
      descendantsOf: db.prepare<[string, string], { id: string }>(
        `WITH RECURSIVE descendant(id) AS (
           SELECT ? UNION SELECT l.child_id FROM lineage l JOIN descendant d ON l.parent_id = d.id)
         SELECT descendant.id FROM descendant JOIN model_versions mv ON mv.id = descendant.id
         WHERE descendant.id <> ? ORDER BY mv.rowid`,
      ),
      edgesWithin: db.prepare<[{ ids: string }], LineageRow>(
        `SELECT child_id, parent_id, operation, params_json, task_id FROM lineage
         WHERE child_id IN (SELECT value FROM json_each(@ids)) AND parent_id IN (SELECT value FROM json_each(@ids))
         ORDER BY child_id, parent_id`,
      ),
      childrenOf: db.prepare<[string], { child_id: string }>(
        'SELECT child_id FROM lineage WHERE parent_id = ?',
      ),
      upsertAlias: db.prepare<[string, string, string, string]>(
        `INSERT INTO aliases (model_id, alias, version_id, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (model_id, alias) DO UPDATE SET version_id = excluded.version_id, created_at = excluded.created_at`,
      ),
      deleteAlias: db.prepare<[string, string, string]>(
        'DELETE FROM aliases WHERE model_id = ? AND alias = ? AND version_id = ?',
      ),
      deleteChildEdges: db.prepare<[string]>('DELETE FROM lineage WHERE parent_id = ?'),
      deleteVersion: db.prepare<[string]>('DELETE FROM model_versions WHERE id = ?'),
      manifestOf: db.prepare<[string], { path: string; sha256: string; size: number }>(
        `SELECT va.path, va.sha256, a.size FROM version_artifacts va JOIN artifacts a ON a.sha256 = va.sha256
         WHERE va.version_id = ?`,
      ),
      referenced: db.prepare<[], { sha256: string }>('SELECT DISTINCT sha256 FROM version_artifacts'),
      deleteOrphanArtifacts: db.prepare(
        'DELETE FROM artifacts WHERE sha256 NOT IN (SELECT sha256 FROM version_artifacts)',
      ),
    };
  }

  /**
   * Stores `artifactDir`'s files, then records a new version (numbered per model) with its
   * artifacts, lineage and metrics in one transaction.
   */
  async registerVersion(input: RegisterVersionInput): Promise<ModelVersionInfo> {
    validateModelName(input.name);
    if (input.kind !== 'classifier' && input.kind !== 'diffusion') {
      throw new DistilleryError('MODEL_INVALID', `Unknown model kind ${JSON.stringify(input.kind)}`, {
        param: 'kind',
        expected: 'classifier or diffusion',
        received: input.kind,
      });
    }
    for (const field of ['paramCount', 'nonZeroParams', 'sizeBytes'] as const) {
      const value = input[field];
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new DistilleryError('MODEL_INVALID', `${field} must be a non-negative integer, got ${value}`, {
          param: field,
          expected: 'a non-negative integer',
          received: value,
        });
      }
    }
    const parents = [...new Map(input.parents.map((parent) => [parent.versionId, parent])).values()];
    // Checked before storing files so a bad parent costs no disk writes; the foreign keys check
    // again inside the transaction in case one is deleted meanwhile.
    for (const parent of parents) this.get(parent.versionId);

    const manifest = await this.store.putDirectory(input.artifactDir);
    if (manifest.length === 0) {
      throw new DistilleryError('MODEL_INVALID', `Model directory ${input.artifactDir} holds no files`, {
        file: input.artifactDir,
      });
    }

    const id = newId('mv_');
    const now = new Date().toISOString();
    this.db
      .transaction(() => {
        const s = this.statements;
        let model = s.modelByName.get(input.name);
        if (!model) {
          const modelId = newId('m_');
          s.insertModel.run(modelId, input.name, input.kind, now);
          model = { id: modelId, kind: input.kind, next_version: 1 };
        } else if (model.kind !== input.kind) {
          if ((s.countVersions.get(model.id)?.count ?? 0) > 0) {
            throw new DistilleryError(
              'MODEL_INVALID',
              `Model "${input.name}" holds ${model.kind} versions; a ${input.kind} needs another name`,
              { param: 'kind', expected: model.kind, received: input.kind },
            );
          }
          s.setModelKind.run(input.kind, model.id);
        }
        const version = model.next_version;
        s.bumpVersion.run(version + 1, model.id);
        s.insertVersion.run({
          id,
          model_id: model.id,
          version,
          kind: input.kind,
          framework: input.framework,
          backend: input.backend,
          run_id: input.runId,
          task_id: input.taskId,
          role: input.role ?? null,
          node_type: input.nodeType,
          param_count: input.paramCount,
          non_zero_params: input.nonZeroParams,
          size_bytes: input.sizeBytes,
          params_json: JSON.stringify(input.params),
          meta_json: JSON.stringify(input.meta),
          created_at: now,
        });
        for (const entry of manifest) {
          // Cheap last check that no concurrent gc took a blob between storing and committing.
          if (!this.store.has(entry.sha256)) {
            throw new DistilleryError('ARTIFACT_CORRUPT', `Blob of "${entry.path}" vanished before commit`, {
              file: entry.path,
              sha256: entry.sha256,
            });
          }
          s.insertArtifact.run(entry.sha256, entry.size, now);
          s.insertVersionArtifact.run(id, entry.path, entry.sha256);
        }
        for (const parent of parents) {
          s.insertLineage.run(
            id,
            parent.versionId,
            parent.operation,
            JSON.stringify(parent.params),
            input.taskId,
          );
        }
        for (const [name, value] of Object.entries(input.metrics ?? {})) {
          s.insertMetric.run(id, name, value, input.taskId, now, null, 'evaluation');
        }
      })
      .immediate();
    return this.get(id);
  }

  /** A version by id, `name:version`, `name@alias` or bare name (its latest version). */
  resolve(ref: string): ModelVersionInfo {
    return this.toInfos([this.resolveRow(ref)])[0] as ModelVersionInfo;
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

  /**
   * Every ancestor and descendant of the version (transitively) and the edges between them.
   * Other parents of a descendant (e.g. the second input of a merge) are not followed.
   */
  lineage(ref: string): LineageGraph {
    const root = this.resolveRow(ref);
    const ids = this.statements.lineageFrom.all(root.id, root.id).map((row) => row.id);
    const json = JSON.stringify(ids);
    const nodes = this.toInfos(this.statements.byIds.all(json));
    const edges: LineageEdge[] = this.statements.edgesWithin.all({ ids: json }).map((row) => ({
      parentId: row.parent_id,
      childId: row.child_id,
      operation: row.operation,
      params: parseObject(row.params_json),
      taskId: row.task_id,
    }));
    return { root: root.id, nodes, edges, datasets: this.datasetsOf(nodes) };
  }

  /** The dataset input of the task that made each version, read from the run records. */
  private datasetsOf(nodes: readonly ModelVersionInfo[]): Record<string, LineageDataset> {
    const taskIds = [...new Set(nodes.flatMap((node) => (node.taskId ? [node.taskId] : [])))];
    if (taskIds.length === 0) return {};
    const byTask = new Map<string, LineageDataset>();
    for (const row of this.statements.taskInputs.all(JSON.stringify(taskIds))) {
      const inputs = parseObject(row.inputs_json);
      for (const [port, input] of Object.entries(inputs)) {
        if (!input || typeof input !== 'object') continue;
        const { kind, meta } = input as { kind?: unknown; meta?: Record<string, unknown> };
        if (kind !== 'dataset' || !meta || typeof meta.name !== 'string') continue;
        const counts =
          meta.counts && typeof meta.counts === 'object' ? (meta.counts as Record<string, number>) : {};
        byTask.set(row.id, { name: meta.name, port, counts });
        break;
      }
    }
    const datasets: Record<string, LineageDataset> = {};
    for (const node of nodes) {
      const dataset = node.taskId ? byTask.get(node.taskId) : undefined;
      if (dataset) datasets[node.id] = dataset;
    }
    return datasets;
  }

  /** Points `alias` of the version's model at the version, moving it from any other version. */
  tag(ref: string, alias: string): ModelVersionInfo {
    validateAlias(alias);
    const row = this.resolveRow(ref);
    this.statements.upsertAlias.run(row.model_id, alias, row.id, new Date().toISOString());
    return this.get(row.id);
  }

  /** Removes `alias` from the version; ALIAS_INVALID when the version does not carry it. */
  untag(ref: string, alias: string): ModelVersionInfo {
    validateAlias(alias);
    const row = this.resolveRow(ref);
    const { changes } = this.statements.deleteAlias.run(row.model_id, alias, row.id);
    if (changes === 0) {
      throw new DistilleryError('ALIAS_INVALID', `${describeVersion(row)} has no alias "${alias}"`, {
        param: 'alias',
        received: alias,
        versionId: row.id,
      });
    }
    return this.get(row.id);
  }

  /**
   * Deletes one version (its aliases, metrics, artifact links and its own lineage edges).
   * Refused with MODEL_HAS_DESCENDANTS while other versions derive from it; with `force`, the
   * descendants stay and only lose their edge to it. Blobs are left for `gc`. Returns the ids
   * deleted.
   */
  delete(ref: string, options: { force?: boolean } = {}): string[] {
    const row = this.resolveRow(ref);
    this.db
      .transaction(() => {
        const children = this.statements.childrenOf.all(row.id);
        if (children.length > 0 && options.force !== true) {
          const descendants = this.statements.descendantsOf.all(row.id, row.id).map((d) => d.id);
          const named = this.statements.byIds
            .all(JSON.stringify(descendants))
            .map(describeVersion)
            .join(', ');
          throw new DistilleryError(
            'MODEL_HAS_DESCENDANTS',
            `${describeVersion(row)} has ${descendants.length} descendant version(s) (${named}); ` +
              'delete them first or force the delete',
            { versionId: row.id, descendants },
          );
        }
        this.statements.deleteChildEdges.run(row.id);
        this.statements.deleteVersion.run(row.id);
      })
      .immediate();
    return [row.id];
  }

  /**
   * Records metric values for a version (e.g. from an evaluate task); the latest value per name
   * wins. `split` says where they were measured, per metric name or for all of them.
   */
  addMetrics(
    versionId: string,
    metrics: Record<string, number>,
    taskId: string | null,
    origin: {
      split?: MetricSplit | null | ((name: string) => MetricSplit | null);
      origin?: MetricOrigin['origin'];
    } = {},
  ): ModelVersionInfo {
    const row = this.statements.byId.get(versionId);
    if (!row) throw errors.modelNotFound(versionId);
    const now = new Date().toISOString();
    const splitOf = (name: string) =>
      typeof origin.split === 'function' ? origin.split(name) : (origin.split ?? null);
    this.db.transaction(() => {
      for (const [name, value] of Object.entries(metrics))
        this.statements.insertMetric.run(
          row.id,
          name,
          value,
          taskId,
          now,
          splitOf(name),
          origin.origin ?? 'evaluation',
        );
    })();
    return this.get(row.id);
  }

  /** Ids of the versions a run registered, newest first (so a child comes before its parent). */
  versionsOfRun(runId: string): string[] {
    return this.statements.versionsOfRun.all(runId).map((row) => row.id);
  }

  /** Every registered model that has a version, by name, with its aliases and latest version. */
  registered(): RegisteredModelInfo[] {
    const aliases = new Map<string, Record<string, number>>();
    for (const row of this.statements.registeredAliases.all()) {
      const byAlias = aliases.get(row.name) ?? {};
      byAlias[row.alias] = row.version;
      aliases.set(row.name, byAlias);
    }
    return this.statements.registered.all().map((row) => ({
      name: row.name,
      kind: row.kind,
      description: row.description,
      versionCount: row.version_count,
      latestVersion: row.latest_version,
      latestId: row.latest_id,
      aliases: aliases.get(row.name) ?? {},
      createdAt: row.created_at,
      updatedAt: row.updated_at ?? row.created_at,
      nodeType: row.node_type,
    }));
  }

  /** Sets a registered model's description; MODEL_NOT_FOUND for an unknown name. */
  describe(name: string, description: string): RegisteredModelInfo {
    if (description.length > MODEL_DESCRIPTION_MAX_LENGTH) {
      throw new DistilleryError(
        'MODEL_INVALID',
        `A model description holds at most ${MODEL_DESCRIPTION_MAX_LENGTH} characters, got ${description.length}`,
        {
          param: 'description',
          expected: `at most ${MODEL_DESCRIPTION_MAX_LENGTH} characters`,
          received: description.length,
        },
      );
    }
    if (this.statements.describeModel.run(description, name).changes === 0) throw errors.modelNotFound(name);
    const found = this.registered().find((model) => model.name === name);
    if (!found) throw errors.modelNotFound(name);
    return found;
  }

  /** The version's files: relative path, digest, size, sorted by path. */
  manifest(ref: string): ArtifactManifest {
    const row = this.resolveRow(ref);
    return this.statements.manifestOf
      .all(row.id)
      .map((entry) => ({ path: entry.path, sha256: entry.sha256, size: entry.size }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Writes the version's files into `destDir`, verifying each digest; returns the paths written. */
  async materialize(ref: string, destDir: string): Promise<string[]> {
    return this.store.materialize(this.manifest(ref), destDir);
  }

  /** Paths of the version's files whose blobs are missing or no longer match their digest. */
  async verify(ref: string): Promise<string[]> {
    const bad: string[] = [];
    for (const entry of this.manifest(ref)) {
      if (!(await this.store.verify(entry.sha256))) bad.push(entry.path);
    }
    return bad;
  }

  /** Digests of every blob some version refers to. */
  referencedArtifacts(): Set<string> {
    return new Set(this.statements.referenced.all().map((row) => row.sha256));
  }

  /**
   * Deletes blobs no version refers to, and leftover temp files. Blobs younger than `graceMs`
   * (default DEFAULT_GC_GRACE_MS) are kept: another process may be between storing and committing.
   */
  async gc(options: GcOptions = {}): Promise<GcResult> {
    this.statements.deleteOrphanArtifacts.run();
    return this.store.gc(this.referencedArtifacts(), { graceMs: options.graceMs ?? DEFAULT_GC_GRACE_MS });
  }

  private resolveRow(ref: string): VersionRow {
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

  private toInfos(rows: VersionRow[]): ModelVersionInfo[] {
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
