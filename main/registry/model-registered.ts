/** The registered models: each name with its kind, description, aliases and latest version. */
import { MODEL_DESCRIPTION_MAX_LENGTH, type RegisteredModelInfo } from '../../preload/contract';
import { DistilleryError, errors } from '../base/errors';
import type { Database } from './db';
import type { ModelKind } from './model-versions';

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

/** Lists registered models and sets their descriptions. */
export class SqliteRegisteredModels {
  private readonly statements;

  constructor(db: Database) {
    this.statements = {
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
    };
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
}
