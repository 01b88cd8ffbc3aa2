/**
 * The model registry: models, their numbered versions, lineage between versions, aliases and
 * metrics in SQLite; the versions' files in a content-addressed `FsArtifactStore`.
 *
 * Crash safety comes from ordering: every blob is stored (and fsynced) before the one transaction
 * that inserts the rows naming it. A process killed at any point leaves either no row, or a
 * complete row whose blobs exist; unreferenced blobs and temp files are left for `gc`.
 */
import type {
  MetricSplit,
  LineageGraph,
  ModelVersionInfo,
  RegisteredModelInfo,
} from '../../preload/contract';
import { DistilleryError, errors } from '../base/errors';
import type { ArtifactManifest, FsArtifactStore, GcOptions, GcResult } from './artifact-store';
import type { Database } from './db';
import { SqliteLineageReader } from './model-lineage';
import { newId, validateAlias, validateModelName } from './model-refs';
import { SqliteRegisteredModels } from './model-registered';
import { describeVersion, SqliteVersionReader, type ModelKind } from './model-versions';

/** How metric values recorded for a version came about (see migration 3). */
export interface MetricOrigin {
  /** The split they were measured on, when known. */
  split?: MetricSplit | null;
  /** `evaluation` (default): an evaluate task scored the version; `training`: the task that made it. */
  origin?: 'evaluation' | 'training';
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

/** The model registry in SQLite, with the versions' files in a content-addressed store. */
export class SqliteModelRegistry {
  private readonly statements;
  private readonly versions: SqliteVersionReader;
  private readonly lineageReader: SqliteLineageReader;
  private readonly registeredModels: SqliteRegisteredModels;

  constructor(
    private readonly db: Database,
    readonly store: FsArtifactStore,
  ) {
    this.versions = new SqliteVersionReader(db);
    this.lineageReader = new SqliteLineageReader(db, this.versions);
    this.registeredModels = new SqliteRegisteredModels(db);
    this.statements = {
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
    return this.versions.toInfos([this.versions.resolveRow(ref)])[0] as ModelVersionInfo;
  }

  /** A version by id; MODEL_NOT_FOUND when there is none. */
  get(id: string): ModelVersionInfo {
    return this.versions.get(id);
  }

  /** Versions, newest first; `name` keeps one model's. */
  list(filter: { name?: string } = {}): ModelVersionInfo[] {
    return this.versions.list(filter);
  }

  /**
   * Every ancestor and descendant of the version (transitively) and the edges between them.
   * Other parents of a descendant (e.g. the second input of a merge) are not followed.
   */
  lineage(ref: string): LineageGraph {
    return this.lineageReader.lineage(ref);
  }

  /** Points `alias` of the version's model at the version, moving it from any other version. */
  tag(ref: string, alias: string): ModelVersionInfo {
    validateAlias(alias);
    const row = this.versions.resolveRow(ref);
    this.statements.upsertAlias.run(row.model_id, alias, row.id, new Date().toISOString());
    return this.get(row.id);
  }

  /** Removes `alias` from the version; ALIAS_INVALID when the version does not carry it. */
  untag(ref: string, alias: string): ModelVersionInfo {
    validateAlias(alias);
    const row = this.versions.resolveRow(ref);
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
    const row = this.versions.resolveRow(ref);
    this.db
      .transaction(() => {
        const children = this.statements.childrenOf.all(row.id);
        if (children.length > 0 && options.force !== true) {
          const descendants = this.lineageReader.descendantsOf(row.id);
          const named = this.versions.byIds(JSON.stringify(descendants)).map(describeVersion).join(', ');
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
    const row = this.versions.byId(versionId);
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
    return this.registeredModels.registered();
  }

  /** Sets a registered model's description; MODEL_NOT_FOUND for an unknown name. */
  describe(name: string, description: string): RegisteredModelInfo {
    return this.registeredModels.describe(name, description);
  }

  /** The version's files: relative path, digest, size, sorted by path. */
  manifest(ref: string): ArtifactManifest {
    const row = this.versions.resolveRow(ref);
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
}
