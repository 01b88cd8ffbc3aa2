/**
 * The registry's schema, as numbered migrations. A migration is applied once, in its own
 * transaction, and recorded in `PRAGMA user_version`; never edit a released migration, add the
 * next number instead.
 *
 * Conventions: ids are TEXT; times shown to people are ISO-8601 TEXT (`*_at`); metric and log
 * times are INTEGER milliseconds since the epoch (what the worker sends); `*_json` columns hold
 * JSON text parsed in one place each (model-registry.ts, run-store.ts). Tables are STRICT so a
 * wrong type fails loudly. Metric values are nullable REAL because SQLite stores NaN as NULL and a
 * diverging loss is a real value to keep.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * A task's figure of each metric, as one JSON object (`{"accuracy": 0.97, …}`): the best value of a
 * `val_*` metric (the lowest for names with `loss` or `error`, else the highest) and the latest
 * step's value of any other. `@task` stands for the task id (a column or a parameter). NaN, stored
 * as NULL, is no figure.
 */
export const TASK_FIGURES_SQL = /* sql */ `
  SELECT json_group_object(name, value) FROM (
    SELECT m.name AS name,
      CASE
        WHEN m.name LIKE 'val\\_%' ESCAPE '\\' AND (m.name LIKE '%loss%' OR m.name LIKE '%error%') THEN min(m.value)
        WHEN m.name LIKE 'val\\_%' ESCAPE '\\' THEN max(m.value)
        ELSE (SELECT last.value FROM metrics last
              WHERE last.task_id = m.task_id AND last.name = m.name AND last.value IS NOT NULL
              ORDER BY last.step DESC, last.rowid DESC LIMIT 1)
      END AS value
    FROM metrics m WHERE m.task_id = @task AND m.value IS NOT NULL GROUP BY m.name
  )`;

/** Tables whose every change bumps the registry's revision (what `registry.changed` follows). */
const REGISTRY_TABLES = ['models', 'model_versions', 'aliases', 'version_metrics', 'lineage'] as const;

const registryRevisionTriggers = REGISTRY_TABLES.flatMap((table) =>
  (['INSERT', 'UPDATE', 'DELETE'] as const).map(
    (event) => /* sql */ `
      CREATE TRIGGER ${table}_${event.toLowerCase()}_revision AFTER ${event} ON ${table}
      BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'registry'; END;`,
  ),
).join('\n');

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema: runs, tasks, metrics, logs, models, versions, lineage, aliases, artifacts',
    sql: /* sql */ `
      CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
        seed          REAL NOT NULL,
        pipeline_json TEXT NOT NULL,
        pipeline_file TEXT,
        backend_json  TEXT,
        versions_json TEXT NOT NULL DEFAULT '{}',
        error_json    TEXT,
        created_at    TEXT NOT NULL,
        started_at    TEXT,
        finished_at   TEXT
      ) STRICT;
      CREATE INDEX runs_by_created ON runs (created_at);

      CREATE TABLE tasks (
        id              TEXT PRIMARY KEY,
        run_id          TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        node_id         TEXT NOT NULL,
        node_type       TEXT NOT NULL,
        node_version    INTEGER NOT NULL,
        op              TEXT NOT NULL,
        fingerprint     TEXT NOT NULL,
        status          TEXT NOT NULL
                        CHECK (status IN ('queued', 'running', 'done', 'reused', 'failed', 'cancelled', 'skipped')),
        params_json     TEXT NOT NULL,
        inputs_json     TEXT NOT NULL DEFAULT '{}',
        outputs_json    TEXT NOT NULL DEFAULT '{}',
        summary_json    TEXT,
        error_json      TEXT,
        reused_from     TEXT REFERENCES tasks (id) ON DELETE SET NULL,
        backend_json    TEXT,
        attempt         INTEGER NOT NULL DEFAULT 0,
        progress_json   TEXT,
        checkpoint_json TEXT,
        task_dir        TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        started_at      TEXT,
        finished_at     TEXT
      ) STRICT;
      CREATE INDEX tasks_by_run ON tasks (run_id);
      CREATE INDEX tasks_by_fingerprint ON tasks (fingerprint, status);
      CREATE INDEX tasks_by_reused_from ON tasks (reused_from);

      CREATE TABLE metrics (
        task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        step    REAL NOT NULL,
        epoch   REAL,
        name    TEXT NOT NULL,
        value   REAL,
        time    INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX metrics_by_task_name_step ON metrics (task_id, name, step);

      CREATE TABLE logs (
        id      INTEGER PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        time    INTEGER NOT NULL,
        level   TEXT NOT NULL CHECK (level IN ('info', 'warn', 'error')),
        message TEXT NOT NULL
      ) STRICT;
      CREATE INDEX logs_by_task ON logs (task_id, id);

      -- next_version is a counter, not max(version) + 1: a deleted version number is never reused,
      -- so "name:3" always meant the same model.
      CREATE TABLE models (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        kind         TEXT NOT NULL CHECK (kind IN ('classifier', 'diffusion')),
        next_version INTEGER NOT NULL DEFAULT 1,
        created_at   TEXT NOT NULL
      ) STRICT;

      -- run_id and task_id are provenance, deliberately without foreign keys: the registry outlives
      -- run records (pruned runs, imported models).
      CREATE TABLE model_versions (
        id              TEXT PRIMARY KEY,
        model_id        TEXT NOT NULL REFERENCES models (id) ON DELETE RESTRICT,
        version         INTEGER NOT NULL CHECK (version >= 1),
        kind            TEXT NOT NULL CHECK (kind IN ('classifier', 'diffusion')),
        framework       TEXT NOT NULL,
        backend         TEXT,
        run_id          TEXT,
        task_id         TEXT,
        role            TEXT,
        node_type       TEXT,
        param_count     INTEGER NOT NULL,
        non_zero_params INTEGER NOT NULL,
        size_bytes      INTEGER NOT NULL,
        params_json     TEXT NOT NULL,
        meta_json       TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        UNIQUE (model_id, version)
      ) STRICT;
      CREATE INDEX model_versions_by_task ON model_versions (task_id);

      -- Deleting a parent is refused by the schema (RESTRICT); a forced delete removes the edges
      -- to its children explicitly first.
      CREATE TABLE lineage (
        child_id    TEXT NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
        parent_id   TEXT NOT NULL REFERENCES model_versions (id) ON DELETE RESTRICT,
        operation   TEXT NOT NULL,
        params_json TEXT NOT NULL,
        task_id     TEXT,
        PRIMARY KEY (child_id, parent_id)
      ) STRICT;
      CREATE INDEX lineage_by_parent ON lineage (parent_id);

      CREATE TABLE version_metrics (
        id          INTEGER PRIMARY KEY,
        version_id  TEXT NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        value       REAL,
        task_id     TEXT,
        recorded_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX version_metrics_by_version ON version_metrics (version_id, name, id);

      CREATE TABLE aliases (
        model_id   TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
        alias      TEXT NOT NULL,
        version_id TEXT NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        PRIMARY KEY (model_id, alias)
      ) STRICT;
      CREATE INDEX aliases_by_version ON aliases (version_id);

      -- Blobs known to the registry; the files live in the artifact store at <root>/ab/cdef….
      CREATE TABLE artifacts (
        sha256     TEXT PRIMARY KEY CHECK (length(sha256) = 64),
        size       INTEGER NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;

      -- A version's files: its manifest is this table joined with artifacts, ordered by path.
      CREATE TABLE version_artifacts (
        version_id TEXT NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
        path       TEXT NOT NULL,
        sha256     TEXT NOT NULL REFERENCES artifacts (sha256) ON DELETE RESTRICT,
        PRIMARY KEY (version_id, path)
      ) STRICT;
      CREATE INDEX version_artifacts_by_sha256 ON version_artifacts (sha256);
    `,
  },
  {
    version: 2,
    name: 'one value per (task, metric, step): a resumed task re-records the steps after its checkpoint',
    // The latest row of each (task, name, step) is the one to keep: rows arrive in execution
    // order, so it is the value of the execution that continued.
    sql: /* sql */ `
      DELETE FROM metrics WHERE rowid NOT IN (
        SELECT max(rowid) FROM metrics GROUP BY task_id, name, step
      );
      DROP INDEX metrics_by_task_name_step;
      CREATE UNIQUE INDEX metrics_by_task_name_step ON metrics (task_id, name, step);
    `,
  },
  {
    version: 3,
    name: 'run labels, tags and notes; task figures and external effects; model descriptions; metric splits; registry revision',
    sql: /* sql */ `
      ALTER TABLE runs ADD COLUMN label TEXT;
      ALTER TABLE runs ADD COLUMN tags_json TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT '';

      -- figures_json: TASK_FIGURES_SQL of the task, written when it settles (a reused task copies
      -- its source's). effects_json: the files a task with external effects wrote, with their
      -- sha256, checked before the task is reused.
      ALTER TABLE tasks ADD COLUMN figures_json TEXT;
      ALTER TABLE tasks ADD COLUMN effects_json TEXT;
      UPDATE tasks SET figures_json = (${TASK_FIGURES_SQL.replace('@task', 'tasks.id')}) WHERE status = 'done';
      UPDATE tasks SET figures_json = (SELECT source.figures_json FROM tasks source WHERE source.id = tasks.reused_from)
        WHERE status = 'reused';

      ALTER TABLE models ADD COLUMN description TEXT NOT NULL DEFAULT '';
      -- origin: 'evaluation' (an evaluate task scored the version; ModelVersionInfo.metrics) or
      -- 'training' (a figure of the task that made it); split: where it was measured.
      ALTER TABLE version_metrics ADD COLUMN split TEXT CHECK (split IN ('train', 'validation', 'test'));
      ALTER TABLE version_metrics ADD COLUMN origin TEXT NOT NULL DEFAULT 'evaluation'
        CHECK (origin IN ('evaluation', 'training'));

      -- One counter per kind of change; readers poll it instead of diffing tables.
      CREATE TABLE revisions (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) STRICT;
      INSERT INTO revisions (name, value) VALUES ('registry', 0);
      ${registryRevisionTriggers}
    `,
  },
  {
    version: 4,
    name: 'sweeps: a search over a pipeline, its trials and the scheduler readings it decided on',
    sql: /* sql */ `
      -- best_json names the best trial, its run and its models; the alias on them is the registry's.
      CREATE TABLE sweeps (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
        pipeline_json TEXT NOT NULL,
        pipeline_file TEXT,
        spec_json     TEXT NOT NULL,
        objective_json TEXT NOT NULL,
        algorithm     TEXT NOT NULL,
        scheduler     TEXT NOT NULL,
        resource      TEXT,
        trial_count   INTEGER NOT NULL CHECK (trial_count >= 1),
        concurrency   INTEGER NOT NULL CHECK (concurrency >= 1),
        seed          INTEGER NOT NULL,
        best_json     TEXT,
        error_json    TEXT,
        created_at    TEXT NOT NULL,
        started_at    TEXT,
        finished_at   TEXT
      ) STRICT;
      CREATE INDEX sweeps_by_created ON sweeps (created_at);

      -- run_id and runs_json name runs without foreign keys: a run record may be deleted while the
      -- sweep keeps what its trial measured.
      CREATE TABLE sweep_trials (
        sweep_id       TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
        trial          INTEGER NOT NULL CHECK (trial >= 0),
        status         TEXT NOT NULL
                       CHECK (status IN ('queued', 'running', 'done', 'pruned', 'failed', 'cancelled')),
        params_json    TEXT NOT NULL,
        observed_json  TEXT NOT NULL,
        objective      REAL,
        epochs         REAL NOT NULL DEFAULT 0,
        epochs_trained REAL NOT NULL DEFAULT 0,
        run_id         TEXT,
        runs_json      TEXT NOT NULL DEFAULT '[]',
        last_resource  REAL,
        last_value     REAL,
        stopped_json   TEXT,
        exploits_json  TEXT NOT NULL DEFAULT '[]',
        -- What the trial does when it next starts: continue from a checkpoint (a PBT pause or
        -- exploit), or start afresh; null once it has started.
        next_json      TEXT,
        error_json     TEXT,
        started_at     TEXT,
        finished_at    TEXT,
        PRIMARY KEY (sweep_id, trial)
      ) STRICT;

      -- Every call made on the sweep's scheduler, in order: a resumed sweep replays them to rebuild
      -- the scheduler's state. kind 'add' carries the params, 'result' a reading, 'end' how it ended.
      CREATE TABLE sweep_events (
        sweep_id  TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
        seq       INTEGER NOT NULL,
        trial     INTEGER NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('add', 'result', 'end')),
        resource  REAL,
        value     REAL,
        data_json TEXT,
        time      INTEGER NOT NULL,
        PRIMARY KEY (sweep_id, seq)
      ) STRICT;
      CREATE INDEX sweep_events_by_trial ON sweep_events (sweep_id, trial, seq);
    `,
  },
  {
    version: 5,
    name: 'where each task ran: its executor, job id, node, whether its worker was warm, and the job state',
    sql: /* sql */ `
      -- executor: 'local' or 'slurm'; job_id: the SLURM job id, or a local worker's pid; worker_warm:
      -- 1 when a local attempt started on a worker of the pool that was already running.
      ALTER TABLE tasks ADD COLUMN executor TEXT CHECK (executor IN ('local', 'slurm'));
      ALTER TABLE tasks ADD COLUMN job_id TEXT;
      ALTER TABLE tasks ADD COLUMN node_name TEXT;
      ALTER TABLE tasks ADD COLUMN worker_warm INTEGER CHECK (worker_warm IN (0, 1));
      ALTER TABLE tasks ADD COLUMN executor_state TEXT
        CHECK (executor_state IN ('waiting', 'running', 'succeeded', 'failed', 'cancelled'));
    `,
  },
];

/** The schema version this code writes and understands. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce(
  (max, migration) => Math.max(max, migration.version),
  0,
);
