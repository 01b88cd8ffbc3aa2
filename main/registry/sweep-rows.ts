/**
 * The SQLite rows of sweeps, trials and scheduler calls, and their mapping to records and DTOs
 * (each in one place): JSON columns, trial index ranges, patch fields to columns, and the
 * not-found errors.
 */
import type {
  ErrorInfo,
  JsonValue,
  SchedulerType,
  SweepAlgorithm,
  SweepBest,
  SweepObjective,
  SweepSpec,
  SweepStatus,
  SweepSummary,
  TrialExploitInfo,
  TrialInfo,
  TrialStatus,
} from '../../preload/contract';
import { DistilleryError } from '../base/errors';
import type { SweepEventRecord, SweepPatch, TrialPatch, TrialRecord, TrialStart } from './sweep-records';

/** A row of `sweeps`. */
export interface SweepRow {
  id: string;
  name: string;
  status: SweepStatus;
  pipeline_json: string;
  pipeline_file: string | null;
  spec_json: string;
  objective_json: string;
  algorithm: SweepAlgorithm;
  scheduler: SchedulerType;
  resource: string | null;
  trial_count: number;
  concurrency: number;
  seed: number;
  best_json: string | null;
  error_json: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

/** A row of `sweep_trials`. */
export interface TrialRow {
  sweep_id: string;
  trial: number;
  status: TrialStatus;
  params_json: string;
  observed_json: string;
  objective: number | null;
  epochs: number;
  epochs_trained: number;
  run_id: string | null;
  runs_json: string;
  last_resource: number | null;
  last_value: number | null;
  stopped_json: string | null;
  exploits_json: string;
  next_json: string | null;
  error_json: string | null;
  started_at: string | null;
  finished_at: string | null;
}

/** A row of `sweep_events`. */
export interface EventRow {
  seq: number;
  trial: number;
  kind: SweepEventRecord['kind'];
  resource: number | null;
  value: number | null;
  data_json: string | null;
  time: number;
}

/** What a column is written as. */
export type SqlValue = string | number | null;

/** A JSON column read back. */
export function parse<T>(text: string): T {
  return JSON.parse(text) as T;
}

function parseOrNull<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/**
 * Trial indices as runs of consecutive numbers, `[[0, 4], [6, 6]]`: a trial of a long sweep may
 * have seen hundreds of trials, nearly always a few unbroken ranges.
 */
export function encodeIndexRanges(indices: readonly number[]): Array<[number, number]> {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const index of sorted) {
    const last = ranges.at(-1);
    if (last && index === last[1] + 1) last[1] = index;
    else ranges.push([index, index]);
  }
  return ranges;
}

/** The trial indices that `encodeIndexRanges` wrote. */
export function decodeIndexRanges(ranges: ReadonlyArray<readonly [number, number]>): number[] {
  const indices: number[] = [];
  for (const [low, high] of ranges) for (let index = low; index <= high; index++) indices.push(index);
  return indices;
}

/** Each trial status with a count of 0. */
export function emptyCounts(): Record<TrialStatus, number> {
  return { queued: 0, running: 0, done: 0, pruned: 0, failed: 0, cancelled: 0 };
}

/** SWEEP_NOT_FOUND for a sweep id. */
export function sweepNotFound(sweepId: string): DistilleryError {
  return new DistilleryError('SWEEP_NOT_FOUND', `No sweep with id "${sweepId}"`, { received: sweepId });
}

/** The sweep's DTO from its row and its trials' counts. */
export function toSummary(row: SweepRow, counts: Record<TrialStatus, number>): SweepSummary {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    pipelineFile: row.pipeline_file,
    spec: parse<SweepSpec>(row.spec_json),
    objective: parse<SweepObjective>(row.objective_json),
    algorithm: row.algorithm,
    scheduler: row.scheduler,
    resource: row.resource,
    trialCount: row.trial_count,
    concurrency: row.concurrency,
    seed: row.seed,
    counts,
    best: parseOrNull<SweepBest>(row.best_json),
    error: parseOrNull<ErrorInfo>(row.error_json),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** A trial's record from its row. */
export function toTrialRecord(row: TrialRow): TrialRecord {
  return {
    sweepId: row.sweep_id,
    index: row.trial,
    params: parse<Record<string, JsonValue>>(row.params_json),
    status: row.status,
    // SQLite keeps NaN as NULL; a trial whose objective diverged reads back as null.
    objective: row.objective,
    epochs: row.epochs,
    epochsTrained: row.epochs_trained,
    runId: row.run_id,
    runs: parse<string[]>(row.runs_json),
    lastResult:
      row.last_resource !== null
        ? { resource: row.last_resource, value: row.last_value ?? Number.NaN }
        : null,
    stopped: parseOrNull<{ rung: number; reason: string }>(row.stopped_json),
    exploits: parse<TrialExploitInfo[]>(row.exploits_json),
    error: parseOrNull<ErrorInfo>(row.error_json),
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    observed: decodeIndexRanges(parse<Array<[number, number]>>(row.observed_json)),
    next: parseOrNull<TrialStart>(row.next_json),
  };
}

/** The record without what only the sweep layer reads: what clients get. */
export function toTrialInfo(record: TrialRecord): TrialInfo {
  const info: TrialInfo & Partial<Pick<TrialRecord, 'observed' | 'next'>> = { ...record };
  delete info.observed;
  delete info.next;
  return info;
}

/** Sweep patch fields → columns. */
export const SWEEP_COLUMNS: Record<
  keyof SweepPatch,
  { column: string; encode: (value: unknown) => SqlValue }
> = {
  status: { column: 'status', encode: (value) => value as string },
  best: { column: 'best_json', encode: (value) => (value == null ? null : JSON.stringify(value)) },
  error: { column: 'error_json', encode: (value) => (value == null ? null : JSON.stringify(value)) },
  startedAt: { column: 'started_at', encode: (value) => (value as string | null) ?? null },
  finishedAt: { column: 'finished_at', encode: (value) => (value as string | null) ?? null },
};

const json = (value: unknown): SqlValue => JSON.stringify(value);
const jsonOrNull = (value: unknown): SqlValue => (value == null ? null : JSON.stringify(value));
const plain = (value: unknown): SqlValue => (value as SqlValue | undefined) ?? null;

/** Trial patch fields → columns; `lastResult` fills two. */
export const TRIAL_COLUMNS: Record<
  Exclude<keyof TrialPatch, 'lastResult'>,
  { column: string; encode: (value: unknown) => SqlValue }
> = {
  status: { column: 'status', encode: plain },
  params: { column: 'params_json', encode: json },
  objective: { column: 'objective', encode: plain },
  epochs: { column: 'epochs', encode: plain },
  epochsTrained: { column: 'epochs_trained', encode: plain },
  runId: { column: 'run_id', encode: plain },
  runs: { column: 'runs_json', encode: json },
  stopped: { column: 'stopped_json', encode: jsonOrNull },
  exploits: { column: 'exploits_json', encode: json },
  next: { column: 'next_json', encode: jsonOrNull },
  error: { column: 'error_json', encode: jsonOrNull },
  startedAt: { column: 'started_at', encode: plain },
  finishedAt: { column: 'finished_at', encode: plain },
};

/** SWEEP_NOT_FOUND for a trial a sweep does not have. */
export function trialNotFound(sweepId: string, index: number): DistilleryError {
  return new DistilleryError('SWEEP_NOT_FOUND', `Sweep "${sweepId}" has no trial ${index}`, {
    received: index,
    sweepId,
  });
}
