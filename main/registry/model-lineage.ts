/**
 * Lineage between model versions: every ancestor and descendant of a version, the edges between
 * them, and the dataset each was trained on.
 */
import type { LineageDataset, LineageEdge, LineageGraph, ModelVersionInfo } from '../../preload/contract';
import type { Database } from './db';
import { parseObject, type SqliteVersionReader } from './model-versions';

interface LineageRow {
  child_id: string;
  parent_id: string;
  operation: string;
  params_json: string;
  task_id: string | null;
}

/** Reads the lineage graph around a version. */
export class SqliteLineageReader {
  private readonly statements;

  constructor(
    db: Database,
    private readonly versions: SqliteVersionReader,
  ) {
    this.statements = {
      taskInputs: db.prepare<[string], { id: string; inputs_json: string }>(
        'SELECT id, inputs_json FROM tasks WHERE id IN (SELECT value FROM json_each(?))',
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
    };
  }

  /**
   * Every ancestor and descendant of the version (transitively) and the edges between them.
   * Other parents of a descendant (e.g. the second input of a merge) are not followed.
   */
  lineage(ref: string): LineageGraph {
    const root = this.versions.resolveRow(ref);
    const ids = this.statements.lineageFrom.all(root.id, root.id).map((row) => row.id);
    const json = JSON.stringify(ids);
    const nodes = this.versions.toInfos(this.versions.byIds(json));
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

  /** Ids of the versions that derive from `id` (transitively), oldest first. */
  descendantsOf(id: string): string[] {
    return this.statements.descendantsOf.all(id, id).map((row) => row.id);
  }
}
