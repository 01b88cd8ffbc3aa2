/**
 * The runs table's rows (`runs.summaries`): each run's counts, params and figures, read in two
 * queries however many runs there are.
 */
import type { RunStatus, RunSummaries, RunSummary, TaskStatus } from '../../preload/contract';
import type { Database } from './db';

/** Options of `summaries`. */
export interface SummaryOptions {
  limit?: number;
  /** Only these runs. */
  runIds?: readonly string[];
  /**
   * The metrics a node type reports (its spec's `metrics`); a task's other figures (per-layer
   * breakdowns, diagnostics) are left out of the summary. Undefined keeps all of them.
   */
  declaredMetrics?: (nodeType: string) => readonly string[] | undefined;
}

interface SummaryRunRow {
  id: string;
  name: string;
  status: RunStatus;
  seed: number;
  pipeline_file: string | null;
  backend: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  label: string | null;
  tags_json: string;
  note: string;
}

interface SummaryTaskRow {
  run_id: string;
  node_id: string;
  node_type: string;
  status: TaskStatus;
  params_json: string;
  figures_json: string | null;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'object' && JSON.stringify(a) === JSON.stringify(b));
}

/** Reads the run summaries from the run records. */
export class SqliteRunSummaries {
  private readonly statements;

  constructor(db: Database) {
    this.statements = {
      // `@ids` NULL lists every run; a JSON array only those.
      summaryRuns: db.prepare<[{ limit: number; ids: string | null }], SummaryRunRow>(
        `SELECT id, name, status, seed, pipeline_file, json_extract(backend_json, '$.name') AS backend,
           created_at, started_at, finished_at, label, tags_json, note
         FROM runs WHERE @ids IS NULL OR id IN (SELECT value FROM json_each(@ids))
         ORDER BY created_at DESC, rowid DESC LIMIT @limit`,
      ),
      summaryTasks: db.prepare<[{ limit: number; ids: string | null }], SummaryTaskRow>(
        `SELECT run_id, node_id, node_type, status, params_json, figures_json FROM tasks
         WHERE run_id IN (SELECT id FROM runs WHERE @ids IS NULL OR id IN (SELECT value FROM json_each(@ids))
                          ORDER BY created_at DESC, rowid DESC LIMIT @limit)
         ORDER BY rowid`,
      ),
      countRuns: db.prepare<[], { count: number }>('SELECT count(*) AS count FROM runs'),
    };
  }

  /**
   * The runs table's rows, newest first: each run's counts, params (`node.param`) and figures
   * (`node.metric`), with the params every listed run shares split out so that 10,000 rows of the
   * same pipeline carry only what differs.
   */
  summaries(options: SummaryOptions = {}): RunSummaries {
    const query = {
      limit: Math.max(0, Math.floor(options.limit ?? Number.MAX_SAFE_INTEGER)),
      ids: options.runIds ? JSON.stringify(options.runIds) : null,
    };
    const runs = this.statements.summaryRuns.all(query);
    const byRun = new Map<string, RunSummary>();
    const summaries = runs.map((row) => {
      const summary: RunSummary = {
        id: row.id,
        name: row.name,
        label: row.label,
        tags: JSON.parse(row.tags_json) as string[],
        note: row.note,
        status: row.status,
        seed: row.seed,
        createdAt: row.created_at,
        startedAt: row.started_at,
        finishedAt: row.finished_at,
        backend: row.backend,
        pipelineFile: row.pipeline_file,
        tasks: { total: 0, done: 0, reused: 0, failed: 0, running: 0 },
        nodes: {},
        params: {},
        metrics: {},
      };
      byRun.set(row.id, summary);
      return summary;
    });
    const declared = new Map<string, ReadonlySet<string> | null>();
    // Runs of one pipeline repeat the same params text: each distinct text is parsed once, and its
    // values are then the same objects in every run, so most comparisons below are identities.
    const parsedParams = new Map<string, Array<[string, unknown]>>();
    /** Per `node.param` key: its first value, in how many runs it appears, whether it varies. */
    const keys = new Map<string, { value: unknown; count: number; varies: boolean }>();
    const entriesOf = new Map<RunSummary, Array<[string, unknown]>>();
    for (const task of this.statements.summaryTasks.all(query)) {
      const summary = byRun.get(task.run_id);
      if (!summary) continue;
      summary.nodes[task.node_id] = task.node_type;
      summary.tasks.total += 1;
      if (task.status === 'done') summary.tasks.done += 1;
      else if (task.status === 'reused') summary.tasks.reused += 1;
      else if (task.status === 'failed') summary.tasks.failed += 1;
      else if (task.status === 'running') summary.tasks.running += 1;
      const cacheKey = `${task.node_id}\u0000${task.params_json}`;
      let params = parsedParams.get(cacheKey);
      if (!params) {
        params = Object.entries(JSON.parse(task.params_json) as Record<string, unknown>).map(
          ([name, value]): [string, unknown] => [`${task.node_id}.${name}`, value],
        );
        parsedParams.set(cacheKey, params);
      }
      let entries = entriesOf.get(summary);
      if (!entries) entriesOf.set(summary, (entries = []));
      for (const entry of params) {
        entries.push(entry);
        const known = keys.get(entry[0]);
        if (!known) keys.set(entry[0], { value: entry[1], count: 1, varies: false });
        else {
          known.count += 1;
          if (!known.varies && !sameValue(known.value, entry[1])) known.varies = true;
        }
      }
      if (!task.figures_json) continue;
      let names = declared.get(task.node_type);
      if (names === undefined) {
        const list = options.declaredMetrics?.(task.node_type);
        names = list ? new Set(list) : null;
        declared.set(task.node_type, names);
      }
      for (const [name, value] of Object.entries(JSON.parse(task.figures_json) as Record<string, unknown>)) {
        if (typeof value === 'number' && (!names || names.has(name)))
          summary.metrics[`${task.node_id}.${name}`] = value;
      }
    }
    // Shared: in every run, with one value. The rest goes on each run that has it.
    const sharedParams: Record<string, unknown> = {};
    for (const [key, { value, count, varies }] of keys)
      if (!varies && count === summaries.length) sharedParams[key] = value;
    for (const [summary, entries] of entriesOf)
      for (const [key, value] of entries) if (!(key in sharedParams)) summary.params[key] = value;
    return { runs: summaries, sharedParams, total: this.statements.countRuns.get()?.count ?? 0 };
  }
}
