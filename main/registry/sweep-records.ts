/**
 * What the sweep store keeps and is asked to change: trial records (with what only the sweep
 * layer reads), a new sweep's input, patches of a sweep and a trial, and the scheduler's calls.
 */
import type { PipelineDoc, SweepStatus, SweepSummary, TrialInfo, TrialStatus } from '../../preload/contract';

/** Every status a trial can have. */
export const TRIAL_STATUSES: readonly TrialStatus[] = [
  'queued',
  'running',
  'done',
  'pruned',
  'failed',
  'cancelled',
];

/**
 * Where a trial continues from when it next starts: a checkpoint the sweep kept (its own, after a
 * PBT pause, or another trial's, after an exploit).
 */
export interface TrialStart {
  /** The checkpoint folder (a copy the sweep owns, so no task folder's pruning removes it). */
  checkpoint: string;
  /** The trial whose checkpoint it is, and the resource it was taken at. */
  trial: number;
  resource: number;
}

/** A trial as the store keeps it: its DTO, plus what only the sweep layer reads. */
export interface TrialRecord extends TrialInfo {
  /** The trials whose results its proposal saw (what a resumed sweep asks the sampler with). */
  observed: number[];
  /** Set while the trial waits to continue from a checkpoint. */
  next: TrialStart | null;
}

/** What creating a sweep records: its summary's settings, and the pipeline it searches. */
export type CreateSweepInput = Pick<
  SweepSummary,
  | 'id'
  | 'name'
  | 'pipelineFile'
  | 'spec'
  | 'objective'
  | 'algorithm'
  | 'scheduler'
  | 'resource'
  | 'trialCount'
  | 'concurrency'
  | 'seed'
> & { pipeline: PipelineDoc; status?: SweepStatus; createdAt?: string };

export type SweepPatch = Partial<
  Pick<SweepSummary, 'status' | 'best' | 'error' | 'startedAt' | 'finishedAt'>
>;

export type TrialPatch = Partial<
  Pick<
    TrialRecord,
    | 'status'
    | 'params'
    | 'objective'
    | 'epochs'
    | 'epochsTrained'
    | 'runId'
    | 'runs'
    | 'lastResult'
    | 'stopped'
    | 'exploits'
    | 'next'
    | 'error'
    | 'startedAt'
    | 'finishedAt'
  >
>;

/** One recorded call on the scheduler. */
export interface SweepEventRecord {
  seq: number;
  trial: number;
  kind: 'add' | 'result' | 'end';
  resource: number | null;
  value: number | null;
  data: unknown;
  time: number;
}
