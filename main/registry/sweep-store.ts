/**
 * Sweep and trial records in SQLite (migration 4): the sweep, one row per trial proposed, and the
 * log of every call made on the sweep's scheduler, which a resumed sweep replays. The sweep layer
 * (jobs/sweeps.ts) is the only writer; everything else reads `SweepInfo` / `SweepSummary` /
 * `TrialInfo` DTOs, mapped here in one place each.
 */
import type {
  JsonValue,
  PipelineDoc,
  SweepInfo,
  SweepSummary,
  TrialResultPoint,
  TrialStatus,
} from '../../preload/contract';
import type { Database } from './db';
import type {
  CreateSweepInput,
  SweepEventRecord,
  SweepPatch,
  TrialPatch,
  TrialRecord,
} from './sweep-records';
import {
  emptyCounts,
  encodeIndexRanges,
  parse,
  SWEEP_COLUMNS,
  sweepNotFound,
  toSummary,
  toTrialInfo,
  toTrialRecord,
  TRIAL_COLUMNS,
  trialNotFound,
  type EventRow,
  type SqlValue,
  type SweepRow,
  type TrialRow,
} from './sweep-rows';

// Most of the sweep layer reads trial records and patches from here, beside the store.
export type { TrialPatch, TrialRecord } from './sweep-records';

export class SqliteSweepStore {
  private readonly statements;

  constructor(private readonly db: Database) {
    this.statements = {
      insertSweep: db.prepare(
        `INSERT INTO sweeps (id, name, status, pipeline_json, pipeline_file, spec_json, objective_json, algorithm,
           scheduler, resource, trial_count, concurrency, seed, created_at)
         VALUES (@id, @name, @status, @pipeline_json, @pipeline_file, @spec_json, @objective_json, @algorithm,
           @scheduler, @resource, @trial_count, @concurrency, @seed, @created_at)`,
      ),
      sweepById: db.prepare<[string], SweepRow>('SELECT * FROM sweeps WHERE id = ?'),
      listSweeps: db.prepare<[number], SweepRow>(
        'SELECT * FROM sweeps ORDER BY created_at DESC, rowid DESC LIMIT ?',
      ),
      unsettled: db.prepare<[], SweepRow>(
        `SELECT * FROM sweeps WHERE status IN ('queued', 'running') ORDER BY created_at DESC, rowid DESC`,
      ),
      countsOf: db.prepare<[string], { sweep_id: string; status: TrialStatus; count: number }>(
        `SELECT sweep_id, status, count(*) AS count FROM sweep_trials
         WHERE sweep_id IN (SELECT value FROM json_each(?)) GROUP BY sweep_id, status`,
      ),
      insertTrial: db.prepare(
        `INSERT INTO sweep_trials (sweep_id, trial, status, params_json, observed_json)
         VALUES (@sweep_id, @trial, @status, @params_json, @observed_json)`,
      ),
      trial: db.prepare<[string, number], TrialRow>(
        'SELECT * FROM sweep_trials WHERE sweep_id = ? AND trial = ?',
      ),
      trials: db.prepare<[string], TrialRow>('SELECT * FROM sweep_trials WHERE sweep_id = ? ORDER BY trial'),
      nextSeq: db.prepare<[string], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM sweep_events WHERE sweep_id = ?',
      ),
      insertEvent: db.prepare<
        [string, number, number, string, number | null, number | null, string | null, number]
      >(
        `INSERT INTO sweep_events (sweep_id, seq, trial, kind, resource, value, data_json, time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      events: db.prepare<[string], EventRow>(
        'SELECT seq, trial, kind, resource, value, data_json, time FROM sweep_events WHERE sweep_id = ? ORDER BY seq',
      ),
      results: db.prepare<[string], { trial: number; resource: number; value: number | null }>(
        `SELECT trial, resource, value FROM sweep_events WHERE sweep_id = ? AND kind = 'result' ORDER BY seq`,
      ),
    };
  }

  /** Runs `work` in one transaction (nested calls join the outer one). */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  createSweep(input: CreateSweepInput): SweepSummary {
    this.statements.insertSweep.run({
      id: input.id,
      name: input.name,
      status: input.status ?? 'queued',
      pipeline_json: JSON.stringify(input.pipeline),
      pipeline_file: input.pipelineFile,
      spec_json: JSON.stringify(input.spec),
      objective_json: JSON.stringify(input.objective),
      algorithm: input.algorithm,
      scheduler: input.scheduler,
      resource: input.resource,
      trial_count: input.trialCount,
      concurrency: input.concurrency,
      seed: input.seed,
      created_at: input.createdAt ?? new Date().toISOString(),
    });
    return this.getSummary(input.id);
  }

  updateSweep(id: string, patch: SweepPatch): SweepSummary {
    const sets: string[] = [];
    const values: SqlValue[] = [];
    for (const [key, value] of Object.entries(patch) as Array<[keyof SweepPatch, unknown]>) {
      const column = SWEEP_COLUMNS[key];
      sets.push(`${column.column} = ?`);
      values.push(column.encode(value));
    }
    if (sets.length > 0) {
      const { changes } = this.db
        .prepare(`UPDATE sweeps SET ${sets.join(', ')} WHERE id = ?`)
        .run(...values, id);
      if (changes === 0) throw sweepNotFound(id);
    }
    return this.getSummary(id);
  }

  /** SWEEP_NOT_FOUND when there is none. */
  getSummary(id: string): SweepSummary {
    const row = this.statements.sweepById.get(id);
    if (!row) throw sweepNotFound(id);
    return toSummary(row, this.countsOf([id]).get(id) ?? emptyCounts());
  }

  /** The pipeline the sweep searches over, with its `sweep` block. */
  getPipeline(id: string): PipelineDoc {
    const row = this.statements.sweepById.get(id);
    if (!row) throw sweepNotFound(id);
    return parse<PipelineDoc>(row.pipeline_json);
  }

  /** The sweep with its pipeline and trials; `curves` adds each trial's scheduler readings. */
  getSweep(id: string, options: { curves?: boolean } = {}): SweepInfo {
    const row = this.statements.sweepById.get(id);
    if (!row) throw sweepNotFound(id);
    const trials = this.trialRecords(id);
    const counts = emptyCounts();
    for (const trial of trials) counts[trial.status] += 1;
    const infos = trials.map(toTrialInfo);
    if (options.curves) {
      const curves = this.curves(id);
      for (const info of infos) info.curve = curves.get(info.index) ?? [];
    }
    return { ...toSummary(row, counts), pipeline: parse<PipelineDoc>(row.pipeline_json), trials: infos };
  }

  /** Newest sweeps first. */
  listSweeps(limit = 100): SweepSummary[] {
    return this.summaries(this.statements.listSweeps.all(Math.max(0, Math.floor(limit))));
  }

  /** Sweeps still `queued` or `running` (whoever ran them may be gone). */
  listUnsettled(): SweepSummary[] {
    return this.summaries(this.statements.unsettled.all());
  }

  createTrial(
    sweepId: string,
    index: number,
    params: Record<string, JsonValue>,
    observed: readonly number[],
  ): TrialRecord {
    this.statements.insertTrial.run({
      sweep_id: sweepId,
      trial: index,
      status: 'queued',
      params_json: JSON.stringify(params),
      observed_json: JSON.stringify(encodeIndexRanges(observed)),
    });
    return this.getTrial(sweepId, index);
  }

  updateTrial(sweepId: string, index: number, patch: TrialPatch): TrialRecord {
    const sets: string[] = [];
    const values: SqlValue[] = [];
    for (const [key, value] of Object.entries(patch) as Array<[keyof TrialPatch, unknown]>) {
      if (key === 'lastResult') {
        const point = value as TrialResultPoint | null;
        sets.push('last_resource = ?', 'last_value = ?');
        values.push(point?.resource ?? null, point && Number.isFinite(point.value) ? point.value : null);
        continue;
      }
      const column = TRIAL_COLUMNS[key];
      sets.push(`${column.column} = ?`);
      // NaN objectives are stored as NULL (SQLite's REAL has no NaN).
      values.push(
        key === 'objective' && typeof value === 'number' && Number.isNaN(value) ? null : column.encode(value),
      );
    }
    if (sets.length > 0) {
      const { changes } = this.db
        .prepare(`UPDATE sweep_trials SET ${sets.join(', ')} WHERE sweep_id = ? AND trial = ?`)
        .run(...values, sweepId, index);
      if (changes === 0) throw trialNotFound(sweepId, index);
    }
    return this.getTrial(sweepId, index);
  }

  getTrial(sweepId: string, index: number): TrialRecord {
    const row = this.statements.trial.get(sweepId, index);
    if (!row) throw trialNotFound(sweepId, index);
    return toTrialRecord(row);
  }

  trialRecords(sweepId: string): TrialRecord[] {
    return this.statements.trials.all(sweepId).map(toTrialRecord);
  }

  /** Appends one call on the scheduler; returns its sequence number. */
  appendEvent(
    sweepId: string,
    event: {
      trial: number;
      kind: SweepEventRecord['kind'];
      resource?: number;
      value?: number;
      data?: unknown;
    },
  ): number {
    return this.transaction(() => {
      const seq = (this.statements.nextSeq.get(sweepId)?.seq ?? -1) + 1;
      this.statements.insertEvent.run(
        sweepId,
        seq,
        event.trial,
        event.kind,
        event.resource ?? null,
        event.value === undefined || Number.isNaN(event.value) ? null : event.value,
        event.data === undefined ? null : JSON.stringify(event.data),
        Date.now(),
      );
      return seq;
    });
  }

  /** Every call made on the sweep's scheduler, in order. */
  events(sweepId: string): SweepEventRecord[] {
    return this.statements.events.all(sweepId).map((row) => ({
      seq: row.seq,
      trial: row.trial,
      kind: row.kind,
      resource: row.resource,
      // A NaN reading (a diverged trial) is stored as NULL; replayed, it must still be NaN.
      value: row.kind === 'result' ? (row.value ?? Number.NaN) : row.value,
      data: row.data_json === null ? undefined : JSON.parse(row.data_json),
      time: row.time,
    }));
  }

  /** Each trial's scheduler readings, in the order they were made. */
  curves(sweepId: string): Map<number, TrialResultPoint[]> {
    const curves = new Map<number, TrialResultPoint[]>();
    for (const row of this.statements.results.all(sweepId)) {
      const curve = curves.get(row.trial) ?? [];
      curve.push({ resource: row.resource, value: row.value ?? Number.NaN });
      curves.set(row.trial, curve);
    }
    return curves;
  }

  private countsOf(ids: readonly string[]): Map<string, Record<TrialStatus, number>> {
    const counts = new Map<string, Record<TrialStatus, number>>();
    if (ids.length === 0) return counts;
    for (const row of this.statements.countsOf.all(JSON.stringify(ids))) {
      const entry = counts.get(row.sweep_id) ?? emptyCounts();
      entry[row.status] = row.count;
      counts.set(row.sweep_id, entry);
    }
    return counts;
  }

  private summaries(rows: SweepRow[]): SweepSummary[] {
    const counts = this.countsOf(rows.map((row) => row.id));
    return rows.map((row) => toSummary(row, counts.get(row.id) ?? emptyCounts()));
  }
}
