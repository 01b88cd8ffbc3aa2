/**
 * The sweep layer's in-memory state (jobs/sweeps.ts): a sweep being run in this process, its live
 * trials, and what the modules that act on them share (SweepHost).
 */
import type {
  MetricPointInfo,
  PipelineDoc,
  RunInfo,
  SweepSummary,
  TrialStatus,
} from '../../preload/contract';
import type { NodeCatalog } from '../nodes/catalog';
import {
  createSampler,
  createScheduler,
  type ResolvedSweep,
  type Sampler,
  type TrialScheduler,
} from '../pipeline/sweep/index';
import type { SqliteSweepStore, TrialPatch, TrialRecord } from '../registry/sweep-store';
import type { RunFolders } from './run-folder';
import type { Runner } from './runner';
import { budgetNode, resourceOf, sharedNodes } from './sweep-plan';

/** What the sweep layer reads from the run records. */
export interface SweepRunsPort {
  getRun(id: string): RunInfo;
  getMetrics(taskId: string, query: { names?: string[] }): MetricPointInfo[];
}

/** What the sweep layer asks of the model registry: the best trial's alias. */
export interface SweepRegistryPort {
  tag(ref: string, alias: string): unknown;
}

/** Time the sweep layer itself spent (proposals, decisions, records), for the bookkeeping benchmark. */
export interface SweepRunnerStats {
  bookkeepingMs: number;
  trialsStarted: number;
}

/** The per-epoch metric whose every epoch's value marks a finished epoch of the shared loop. */
export const EPOCH_METRIC = 'epoch_loss';
/** The folder of a sweep's folder that holds its kept checkpoints. */
export const CHECKPOINTS_DIR = 'checkpoints';
/** Trial statuses that end a trial: its result can inform the next proposals. */
export const SETTLED_TRIALS: ReadonlySet<TrialStatus> = new Set(['done', 'pruned', 'failed']);

/** The alias the best trial's models carry. */
export function bestAlias(sweepId: string): string {
  return `sweep-${sweepId}-best`;
}

/** A trial whose run is going on in this process. */
export interface LiveTrial {
  index: number;
  runId: string;
  /** The resource node's task in that run, when the sweep has a scheduler. */
  resourceTaskId: string | undefined;
  /** The resource the run started from (0, or a checkpoint's epoch). */
  startResource: number;
  /** The furthest resource reported to the scheduler from this run. */
  reported: number;
  /** PBT: epoch results waiting for their checkpoint, by step. */
  waiting: Map<number, { resource: number; value: number }>;
  /** PBT: checkpoints the run has written, step → folder. */
  checkpoints: Map<number, string>;
  /** What the sweep decided for the run: it is being stopped, paused, or sent to another checkpoint. */
  decision?: 'stop' | 'pause' | 'exploit';
}

/** A sweep this process runs. */
export interface ActiveSweep {
  id: string;
  doc: PipelineDoc;
  sweep: ResolvedSweep;
  sampler: Sampler;
  scheduler: TrialScheduler;
  trials: Map<number, TrialRecord>;
  live: Map<number, LiveTrial>;
  /** Next trial index to propose. */
  nextIndex: number;
  resource: { key: string; nodeId: string; param: string } | undefined;
  /** The scheduler's metric (`val_*` of the resource node). */
  metric: string | undefined;
  budgetNode: string | undefined;
  shared: Set<string>;
  /** False while the first trial still runs the tasks every trial shares. */
  warm: boolean;
  /** (trial, resource) → the kept checkpoint a trial's score there was measured on (PBT). */
  kept: Map<string, string>;
  /** Every kept checkpoint folder on disk. */
  keptPaths: Set<string>;
  cancelRequested: boolean;
  finished: Promise<SweepSummary>;
  resolve: (summary: SweepSummary) => void;
}

/** The key of `ActiveSweep.kept`. */
export function keptKey(trial: number, resource: number): string {
  return `${trial}:${resource}`;
}

/** What the sweep layer's modules share: the stores, the runner, the active sweeps, and the events. */
export interface SweepHost {
  readonly runner: Runner;
  readonly store: SqliteSweepStore;
  readonly runs: SweepRunsPort;
  readonly registry: SweepRegistryPort;
  readonly catalog: NodeCatalog;
  /** Root of sweep folders. */
  readonly sweepsDir: string;
  readonly folders: RunFolders;
  /** The sweeps this process runs, by id. */
  readonly sweeps: Map<string, ActiveSweep>;
  /** Run id → its sweep and trial, for the runs of live trials. */
  readonly byRun: Map<string, { sweep: ActiveSweep; index: number }>;
  readonly counters: SweepRunnerStats;
  /** Set once the sweep runner is disposed: nothing starts or settles after that. */
  disposed: boolean;
  /** Runs `work`, adding its time to the bookkeeping counter. */
  timed<T>(work: () => T): T;
  /** Starts trials while slots are free, then finishes the sweep when nothing is left. */
  pump(state: ActiveSweep): void;
  /** Records a trial's change and tells it. */
  updateTrial(state: ActiveSweep, index: number, patch: TrialPatch): TrialRecord;
  emitTrial(record: TrialRecord): void;
  emitSweep(sweepId: string): void;
  /** Tells a sweep's change as `summary` shows it. */
  fireSweep(summary: SweepSummary): void;
}

/** The in-memory state of a sweep about to start or resume, its trials not yet read. */
export function newSweepState(
  id: string,
  doc: PipelineDoc,
  sweep: ResolvedSweep,
  catalog: NodeCatalog,
): ActiveSweep {
  let resolve!: (summary: SweepSummary) => void;
  const finished = new Promise<SweepSummary>((r) => (resolve = r));
  const scheduler = sweep.scheduler;
  return {
    id,
    doc,
    sweep,
    sampler: createSampler(sweep),
    scheduler: createScheduler(sweep),
    trials: new Map(),
    live: new Map(),
    nextIndex: 0,
    resource: resourceOf(sweep),
    metric: scheduler.type === 'none' ? undefined : scheduler.metric,
    budgetNode: budgetNode(doc, sweep, catalog),
    shared: sharedNodes(doc, sweep),
    warm: sweep.concurrency === 1,
    kept: new Map(),
    keptPaths: new Set(),
    cancelRequested: false,
    finished,
    resolve,
  };
}
