/**
 * The sweep layer: runs a pipeline's `sweep` block as trials, each an ordinary run of the pipeline
 * with the trial's values (so records, live views, cancel, resume and fingerprint reuse apply to
 * trials unchanged), `concurrency` of them at once. It asks the pure samplers and schedulers in
 * pipeline/sweep for every decision and acts on them: it proposes configurations, feeds the
 * schedulers each epoch's validation metric of the resource node, stops (prunes) trials, and for
 * PBT pauses trials and restarts them from kept checkpoints, their own or a better trial's.
 *
 * Everything a restart needs is recorded as it happens (sweep-store.ts): the trials with the
 * trials each proposal saw, and every call made on the scheduler, in order. A resumed sweep
 * replays those calls into a new scheduler, keeps its finished trials, continues the others from
 * their checkpoints and proposes the next configurations from the same observations.
 *
 * Trials that share tasks share them by fingerprint: while the first trial runs the tasks every
 * trial has (the dataset, a shared initialisation), no other trial starts, so those run once.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type {
  ErrorInfo,
  JsonValue,
  MetricBatch,
  MetricPointInfo,
  PipelineDoc,
  RunInfo,
  SweepBest,
  SweepInfo,
  SweepSummary,
  TaskInfo,
  TrialExploitInfo,
  TrialInfo,
  TrialStatus,
} from '../../preload/contract';
import { DistilleryError, serializeError } from '../base/errors';
import { Emitter } from '../base/event';
import { Disposable, toDisposable } from '../base/lifecycle';
import { onUnexpectedError } from '../base/unexpected-error';
import type { NodeCatalog } from '../nodes/catalog';
import { invalidPipelineError } from '../pipeline/pipeline-file';
import {
  compareByMode,
  createSampler,
  createScheduler,
  resolveSweep,
  type ResolvedSweep,
  type Sampler,
  type TrialEnd,
  type TrialObservation,
  type TrialParams,
  type TrialScheduler,
} from '../pipeline/sweep/index';
import { validatePipeline } from '../pipeline/validate';
import type { SqliteSweepStore, TrialPatch, TrialRecord } from '../registry/sweep-store';
import { toTrialInfo } from '../registry/sweep-store';
import { RunFolders } from './run-folder';
import type { Runner } from './runner';
import { budgetNode, orderedParams, resourceOf, sharedNodes, trialDocument } from './sweep-plan';

/** What the sweep layer reads from the run records. */
export interface SweepRunsPort {
  getRun(id: string): RunInfo;
  getMetrics(taskId: string, query: { names?: string[] }): MetricPointInfo[];
}

/** What the sweep layer asks of the model registry: the best trial's alias. */
export interface SweepRegistryPort {
  tag(ref: string, alias: string): unknown;
}

export interface SweepRunnerOptions {
  runner: Runner;
  store: SqliteSweepStore;
  runs: SweepRunsPort;
  registry: SweepRegistryPort;
  catalog: NodeCatalog;
  /** Root of sweep folders: `<sweepsDir>/<sweepId>/` holds the owner file and kept checkpoints. */
  sweepsDir: string;
}

/** Time the sweep layer itself spent (proposals, decisions, records), for the bookkeeping benchmark. */
export interface SweepRunnerStats {
  bookkeepingMs: number;
  trialsStarted: number;
}

/** The per-epoch metric whose every epoch's value marks a finished epoch of the shared loop. */
const EPOCH_METRIC = 'epoch_loss';
const CHECKPOINTS_DIR = 'checkpoints';
const SETTLED_TRIALS: ReadonlySet<TrialStatus> = new Set(['done', 'pruned', 'failed']);

export function newSweepId(): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(2, 12);
  return `s${stamp}-${randomBytes(3).toString('hex')}`;
}

/** The alias the best trial's models carry. */
export function bestAlias(sweepId: string): string {
  return `sweep-${sweepId}-best`;
}

/** A trial whose run is going on in this process. */
interface LiveTrial {
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

interface ActiveSweep {
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

function keptKey(trial: number, resource: number): string {
  return `${trial}:${resource}`;
}

export class SweepRunner extends Disposable {
  private readonly _onDidChangeSweep = this._register(new Emitter<SweepSummary>());
  /** A sweep's status, counts or best trial changed. */
  readonly onDidChangeSweep = this._onDidChangeSweep.event;
  private readonly _onDidChangeTrial = this._register(new Emitter<TrialInfo>());
  /** A trial changed. */
  readonly onDidChangeTrial = this._onDidChangeTrial.event;

  private readonly sweeps = new Map<string, ActiveSweep>();
  /** Run id → its sweep and trial, for the runs of live trials. */
  private readonly byRun = new Map<string, { sweep: ActiveSweep; index: number }>();
  private readonly folders: RunFolders;
  private readonly runner: Runner;
  private readonly store: SqliteSweepStore;
  private disposed = false;
  private timing = false;
  private readonly counters: SweepRunnerStats = { bookkeepingMs: 0, trialsStarted: 0 };

  constructor(private readonly options: SweepRunnerOptions) {
    super();
    this.runner = options.runner;
    this.store = options.store;
    this.folders = this._register(new RunFolders(options.sweepsDir));
    this._register(this.runner.onDidMetrics((batch) => this.timed(() => this.onMetrics(batch))));
    this._register(this.runner.onDidChangeTask((task) => this.timed(() => this.onTask(task))));
    // Another process (`distillery sweeps cancel ID`) asks to cancel by dropping a marker file.
    const timer = setInterval(() => this.pollCancelMarkers(), 300);
    timer.unref();
    this._register(
      toDisposable(() => {
        clearInterval(timer);
        this.disposed = true;
      }),
    );
  }

  /** Time spent in the sweep layer so far, and trials started. */
  stats(): SweepRunnerStats {
    return { ...this.counters };
  }

  isActive(sweepId: string): boolean {
    return this.sweeps.has(sweepId);
  }

  /**
   * Validates the pipeline with its `sweep` block and starts the sweep. Returns once the sweep is
   * recorded (its first trials are queued).
   */
  start(doc: unknown, options: { pipelineFile?: string | null } = {}): SweepInfo {
    return this.timed(() => {
      const file = options.pipelineFile ?? undefined;
      const { issues, pipeline } = validatePipeline(doc, this.options.catalog, file);
      if (!pipeline) throw invalidPipelineError(issues, file);
      const pipelineDoc = pipeline.doc;
      if (pipelineDoc.sweep === undefined) {
        throw new DistilleryError(
          'SWEEP_INVALID',
          `${file ? `${file}: ` : ''}the pipeline has no "sweep" block to run`,
          { ...(file ? { file } : {}), pointer: '/sweep', expected: 'a "sweep" block', received: undefined },
        );
      }
      const sweep = this.resolve(pipelineDoc, file);
      const id = newSweepId();
      this.folders.claim(id);
      try {
        this.store.createSweep({
          id,
          name: pipelineDoc.name,
          pipeline: pipelineDoc,
          pipelineFile: options.pipelineFile ?? null,
          spec: sweep.spec,
          objective: sweep.objective,
          algorithm: sweep.algorithm,
          scheduler: sweep.scheduler.type,
          resource: resourceOf(sweep)?.key ?? null,
          trialCount: sweep.trials,
          concurrency: sweep.concurrency,
          seed: sweep.seed,
        });
      } catch (error) {
        this.folders.release(id);
        throw error;
      }
      const state = this.newState(id, pipelineDoc, sweep);
      this.activate(state);
      return this.store.getSweep(id);
    });
  }

  /**
   * Continues a cancelled or interrupted sweep (see the contract's `sweeps.resume`): finished
   * trials stay, cancelled and running ones continue from their checkpoints, the scheduler is
   * rebuilt from its recorded calls, and new trials are proposed as before. Failed trials run again
   * only with `rerunFailed`.
   */
  resume(sweepId: string, options: { rerunFailed?: boolean } = {}): SweepInfo {
    return this.timed(() => {
      if (this.sweeps.has(sweepId)) {
        throw new DistilleryError('SWEEP_NOT_RESUMABLE', `Sweep "${sweepId}" is still running`, {
          received: sweepId,
        });
      }
      this.settleIfAbandoned(this.store.getSummary(sweepId));
      const summary = this.store.getSummary(sweepId);
      const failedTrials = summary.counts.failed > 0 && options.rerunFailed === true;
      const resumable =
        summary.status === 'cancelled' ||
        summary.status === 'failed' ||
        (summary.status === 'done' && failedTrials);
      if (!resumable) {
        throw new DistilleryError(
          'SWEEP_NOT_RESUMABLE',
          summary.status === 'done'
            ? `Sweep "${sweepId}" is done${summary.counts.failed > 0 ? '; add --rerun-failed to run its failed trials again' : ''}`
            : `Sweep "${sweepId}" is ${summary.status}; it is running in another process`,
          { expected: 'cancelled, failed or interrupted', received: summary.status },
        );
      }
      const doc = this.store.getPipeline(sweepId);
      const sweep = this.resolve(doc, summary.pipelineFile ?? undefined);
      const state = this.newState(sweepId, doc, sweep);
      this.replay(state);
      state.warm = [...state.trials.values()].some((trial) => trial.runs.length > 0);
      this.folders.claim(sweepId);
      this.folders.clearCancel(sweepId);
      for (const trial of state.trials.values()) {
        if (trial.status === 'failed' && options.rerunFailed) {
          this.updateTrial(state, trial.index, {
            status: 'queued',
            error: null,
            objective: null,
            stopped: null,
            finishedAt: null,
            next: null,
          });
          // A trial that runs again starts its scheduler record afresh (PBT forgets it had ended).
          this.schedulerAdd(state, trial.index, trial.params);
        } else if (trial.status === 'running' && trial.stopped) {
          // Stopped by its scheduler, then interrupted before its run had settled.
          this.endTrial(state, trial.index, 'pruned', {});
        } else if (trial.status === 'running' || trial.status === 'cancelled') {
          this.updateTrial(state, trial.index, { status: 'queued', error: null, finishedAt: null });
        }
      }
      this.store.updateSweep(sweepId, { error: null, finishedAt: null });
      this.activate(state);
      return this.store.getSweep(sweepId);
    });
  }

  /**
   * Cancels a sweep. In this process: no new trial starts and running trials are cancelled (they
   * checkpoint; a resume continues them). A sweep run by another live process is asked through a
   * marker file; one whose process died is marked cancelled directly.
   */
  cancel(sweepId: string): SweepInfo {
    return this.timed(() => {
      const state = this.sweeps.get(sweepId);
      if (state) {
        this.cancelActive(state);
        return this.store.getSweep(sweepId);
      }
      const summary = this.store.getSummary(sweepId);
      if (summary.status !== 'queued' && summary.status !== 'running') {
        throw new DistilleryError(
          'SWEEP_ALREADY_FINISHED',
          `Sweep "${sweepId}" is already ${summary.status}`,
          {
            received: summary.status,
          },
        );
      }
      if (this.folders.ownedElsewhere(sweepId)) {
        this.folders.requestCancel(sweepId);
        return this.store.getSweep(sweepId);
      }
      this.markAbandoned(summary, 'cancelled', {
        code: 'TASK_CANCELLED',
        message: `Sweep "${sweepId}" was cancelled after the process running it had exited`,
        details: { sweepId },
      });
      return this.store.getSweep(sweepId);
    });
  }

  /**
   * Cancels every sweep this process runs (a server shutting down): no trial starts any more, and
   * the sweeps can be resumed. Returns their ids.
   */
  cancelAll(): string[] {
    return this.timed(() => {
      const ids = [...this.sweeps.keys()];
      for (const state of [...this.sweeps.values()]) this.cancelActive(state);
      return ids;
    });
  }

  /** Resolves when the sweep settles (done, failed or cancelled). */
  async waitForSweep(sweepId: string): Promise<SweepSummary> {
    const state = this.sweeps.get(sweepId);
    return state ? state.finished : this.store.getSummary(sweepId);
  }

  /**
   * Settles every sweep left `queued` or `running` by a process that is no longer alive as failed
   * with SWEEP_INTERRUPTED (its running trials as cancelled), so that it can be resumed.
   */
  settleAbandonedSweeps(): void {
    for (const summary of this.store.listUnsettled()) this.settleIfAbandoned(summary);
  }

  // -------------------------------------------------------------------------------------------

  private resolve(doc: PipelineDoc, file: string | undefined): ResolvedSweep {
    const { issues, sweep } = resolveSweep(doc.sweep, doc, this.options.catalog);
    if (!sweep) throw invalidPipelineError(issues, file);
    return sweep;
  }

  private newState(id: string, doc: PipelineDoc, sweep: ResolvedSweep): ActiveSweep {
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
      budgetNode: budgetNode(doc, sweep, this.options.catalog),
      shared: sharedNodes(doc, sweep),
      warm: sweep.concurrency === 1,
      kept: new Map(),
      keptPaths: new Set(),
      cancelRequested: false,
      finished,
      resolve,
    };
  }

  /** Rebuilds a resumed sweep's trials, scheduler and kept checkpoints from its records. */
  private replay(state: ActiveSweep): void {
    for (const trial of this.store.trialRecords(state.id)) state.trials.set(trial.index, trial);
    state.nextIndex = state.trials.size === 0 ? 0 : Math.max(...state.trials.keys()) + 1;
    for (const event of this.store.events(state.id)) {
      switch (event.kind) {
        case 'add':
          state.scheduler.addTrial(event.trial, (event.data as { params: TrialParams }).params);
          break;
        case 'result': {
          state.scheduler.onResult(event.trial, event.resource ?? 0, event.value ?? Number.NaN);
          const data = event.data as
            { checkpoint?: string; inherited?: { resource: number; checkpoint: string } } | undefined;
          if (data?.checkpoint) state.kept.set(keptKey(event.trial, event.resource ?? 0), data.checkpoint);
          if (data?.inherited)
            state.kept.set(keptKey(event.trial, data.inherited.resource), data.inherited.checkpoint);
          break;
        }
        case 'end':
          state.scheduler.onTrialEnd(event.trial, (event.data as { end: TrialEnd }).end);
          break;
      }
    }
    for (const entry of keptCheckpoints(this.options.sweepsDir, state.id)) state.keptPaths.add(entry.path);
    for (const [key, path] of state.kept) if (!existsSync(path)) state.kept.delete(key);
  }

  private activate(state: ActiveSweep): void {
    this.sweeps.set(state.id, state);
    const before = this.store.getSummary(state.id);
    this.store.updateSweep(state.id, {
      status: 'running',
      startedAt: before.startedAt ?? new Date().toISOString(),
    });
    this.emitSweep(state.id);
    this.pump(state);
  }

  /** Starts trials while slots are free, then finishes the sweep when nothing is left. */
  private pump(state: ActiveSweep): void {
    if (this.disposed || !this.sweeps.has(state.id)) return;
    while (!state.cancelRequested && state.live.size < state.sweep.concurrency) {
      if (!state.warm && state.live.size > 0) break;
      const trial = this.nextTrial(state);
      if (!trial) break;
      this.launch(state, trial);
    }
    this.maybeFinish(state);
  }

  /**
   * The next trial to start: a queued one (resumed, paused or sent to another checkpoint), or a new
   * proposal; the one furthest behind first, so a PBT population advances together.
   */
  private nextTrial(state: ActiveSweep): TrialRecord | undefined {
    let best: TrialRecord | undefined;
    for (const trial of state.trials.values()) {
      if (trial.status !== 'queued' || state.live.has(trial.index)) continue;
      const at = trial.next?.resource ?? 0;
      if (!best || at < (best.next?.resource ?? 0)) best = trial;
    }
    if ((!best || (best.next?.resource ?? 0) > 0) && state.nextIndex < state.sweep.trials)
      return this.propose(state);
    return best;
  }

  /** Proposes trial `nextIndex` from the trials finished so far, and records it. */
  private propose(state: ActiveSweep): TrialRecord {
    const index = state.nextIndex++;
    const observations: TrialObservation[] = [];
    for (const trial of state.trials.values()) {
      if (trial.index >= index || !SETTLED_TRIALS.has(trial.status)) continue;
      const observation: TrialObservation = {
        index: trial.index,
        params: trial.params,
        objective: trial.status === 'done' ? trial.objective : null,
      };
      if (trial.status === 'pruned' && trial.lastResult) observation.intermediate = trial.lastResult;
      observations.push(observation);
    }
    const params = orderedParams(state.sweep, state.sampler.propose(index, observations));
    const record = this.store.transaction(() => {
      const created = this.store.createTrial(
        state.id,
        index,
        params,
        observations.map((observation) => observation.index),
      );
      this.schedulerAdd(state, index, params);
      return created;
    });
    state.trials.set(index, record);
    this.emitTrial(record);
    return record;
  }

  private schedulerAdd(state: ActiveSweep, index: number, params: Record<string, JsonValue>): void {
    state.scheduler.addTrial(index, params);
    this.store.appendEvent(state.id, { trial: index, kind: 'add', data: { params } });
  }

  /** Starts (or resumes) the trial's run; a trial whose document is invalid fails with its issues. */
  private launch(state: ActiveSweep, trial: TrialRecord): void {
    const modelMeta = { sweep: { id: state.id, trial: trial.index, alias: bestAlias(state.id) } };
    let run: RunInfo;
    let startResource = trial.next?.resource ?? 0;
    try {
      const previous = trial.runId && !trial.next ? this.options.runs.getRun(trial.runId) : undefined;
      if (previous && (previous.status === 'cancelled' || previous.status === 'failed')) {
        // Interrupted or cancelled with the sweep: its run continues from its checkpoints.
        run = this.runner.resume(previous.id, { modelMeta });
        startResource = trial.lastResult?.resource ?? 0;
      } else if (previous && previous.status === 'done') {
        // It finished while nobody recorded it (the sweep's process died at that moment).
        this.track(state, trial, previous, trial.lastResult?.resource ?? 0);
        this.settleRun(state, trial.index, previous);
        return;
      } else {
        const doc = trialDocument(state.doc, state.sweep, this.options.catalog, trial.params);
        run = this.runner.start(doc, {
          pipelineFile: null,
          modelMeta,
          ...(trial.next && state.resource
            ? { startFrom: { nodeId: state.resource.nodeId, checkpoint: trial.next.checkpoint } }
            : {}),
        });
      }
    } catch (error) {
      const info = serializeError(error);
      const invalid = Array.isArray(info.details?.issues);
      this.endTrial(state, trial.index, 'failed', {
        error: invalid
          ? {
              code: 'TRIAL_INVALID',
              message: `Trial ${trial.index}: its values make the pipeline invalid: ${info.message}`,
              details: { ...info.details, trial: trial.index, params: trial.params },
            }
          : { ...info, details: { ...info.details, trial: trial.index } },
      });
      return;
    }
    this.counters.trialsStarted += 1;
    const exploits = trial.exploits.map((exploit, i) =>
      i === trial.exploits.length - 1 && exploit.runId === null && trial.next
        ? { ...exploit, runId: run.id }
        : exploit,
    );
    const runs = trial.runs.includes(run.id) ? trial.runs : [...trial.runs, run.id];
    const record = this.updateTrial(state, trial.index, {
      status: 'running',
      runId: run.id,
      runs,
      next: null,
      exploits,
      error: null,
      finishedAt: null,
      ...(trial.startedAt ? {} : { startedAt: new Date().toISOString() }),
    });
    this.track(state, record, run, startResource);
    this.checkWarm(state, run);
    void this.runner.waitForRun(run.id).then(
      (info) => this.timed(() => this.settleRun(state, trial.index, info)),
      (error: unknown) => onUnexpectedError(error),
    );
  }

  private track(state: ActiveSweep, trial: TrialRecord, run: RunInfo, startResource: number): void {
    const live: LiveTrial = {
      index: trial.index,
      runId: run.id,
      resourceTaskId: state.resource
        ? run.tasks.find((task) => task.nodeId === state.resource!.nodeId)?.id
        : undefined,
      startResource,
      reported: Math.max(startResource, trial.lastResult?.resource ?? 0),
      waiting: new Map(),
      checkpoints: new Map(),
    };
    state.live.set(trial.index, live);
    this.byRun.set(run.id, { sweep: state, index: trial.index });
  }

  /** Opens the other slots once the first trial has run (or reused) every task all trials share. */
  private checkWarm(state: ActiveSweep, run: RunInfo): void {
    if (state.warm) return;
    const shared = run.tasks.filter((task) => state.shared.has(task.nodeId));
    const settled = (task: TaskInfo) => task.status !== 'queued' && task.status !== 'running';
    if (run.status !== 'running' && run.status !== 'queued') state.warm = true;
    else if (shared.every(settled)) state.warm = true;
    if (state.warm) this.pump(state);
  }

  private onTask(task: TaskInfo): void {
    const owner = this.byRun.get(task.runId);
    if (!owner) return;
    const { sweep: state, index } = owner;
    const live = state.live.get(index);
    if (!live || live.runId !== task.runId) return;
    if (!state.warm && state.shared.has(task.nodeId))
      this.checkWarm(state, this.options.runs.getRun(task.runId));
    if (
      state.sweep.scheduler.type === 'pbt' &&
      task.id === live.resourceTaskId &&
      task.checkpoint &&
      !live.checkpoints.has(task.checkpoint.step)
    ) {
      live.checkpoints.set(task.checkpoint.step, task.checkpoint.path);
      const waiting = live.waiting.get(task.checkpoint.step);
      if (waiting) {
        live.waiting.delete(task.checkpoint.step);
        this.report(state, live, waiting.resource, waiting.value, task.checkpoint.path);
      }
    }
  }

  private onMetrics(batch: MetricBatch): void {
    const owner = this.byRun.get(batch.runId);
    if (!owner) return;
    const { sweep: state, index } = owner;
    const live = state.live.get(index);
    if (!live || live.runId !== batch.runId || batch.taskId !== live.resourceTaskId || !state.metric) return;
    for (const point of batch.points) {
      if (point.name !== state.metric || point.epoch === undefined || live.decision) continue;
      if (point.epoch <= live.reported) continue;
      if (state.sweep.scheduler.type === 'pbt') {
        // Reported once its checkpoint exists: an exploit may copy it.
        const checkpoint = live.checkpoints.get(point.step);
        if (checkpoint) this.report(state, live, point.epoch, point.value, checkpoint);
        else live.waiting.set(point.step, { resource: point.epoch, value: point.value });
      } else {
        this.report(state, live, point.epoch, point.value);
      }
    }
  }

  /** Feeds one reading to the scheduler, records it, and acts on the decision. */
  private report(
    state: ActiveSweep,
    live: LiveTrial,
    resource: number,
    value: number,
    checkpoint?: string,
  ): void {
    if (live.decision || resource <= live.reported) return;
    live.reported = resource;
    const scheduler = state.sweep.scheduler;
    let kept: string | undefined;
    if (
      scheduler.type === 'pbt' &&
      checkpoint &&
      resource < scheduler.max &&
      resource % scheduler.interval === 0
    )
      kept = this.keep(state, live.index, resource, checkpoint);
    const decision = state.scheduler.onResult(live.index, resource, value);
    const patch: TrialPatch = { lastResult: { resource, value }, epochs: resource };
    let inherited: { resource: number; checkpoint: string } | undefined;
    const trial = state.trials.get(live.index)!;
    if (decision.kind === 'stop') {
      live.decision = 'stop';
      patch.stopped = { rung: decision.rung, reason: decision.reason };
    } else if (decision.kind === 'exploit') {
      // The trial's latest segment end is now the source's (PBT ranks it, and others may copy it,
      // by the source's score there), so its kept checkpoint at that resource becomes a copy of it.
      const from = state.kept.get(keptKey(decision.from, decision.atResource));
      const source = from ? this.keep(state, live.index, decision.atResource, from) : undefined;
      if (source) {
        inherited = { resource: decision.atResource, checkpoint: source };
        live.decision = 'exploit';
        const exploit: TrialExploitInfo = {
          resource,
          from: decision.from,
          atResource: decision.atResource,
          before: trial.params,
          after: orderedParams(state.sweep, decision.params),
          changes: decision.changes.map((change) => ({
            key: change.key,
            ...(change.from !== undefined ? { from: change.from } : {}),
            ...(change.to !== undefined ? { to: change.to } : {}),
            how: change.how,
            ...(change.factor !== undefined ? { factor: change.factor } : {}),
          })),
          runId: null,
        };
        patch.params = exploit.after;
        patch.exploits = [...trial.exploits, exploit];
        patch.next = { checkpoint: source, trial: decision.from, resource: decision.atResource };
      } else {
        onUnexpectedError(
          new Error(
            `Sweep ${state.id}: trial ${decision.from}'s checkpoint at ${decision.atResource} is not kept`,
          ),
        );
      }
    } else if (kept && this.someoneWaits(state)) {
      // A PBT population larger than the free slots takes turns, one segment at a time.
      live.decision = 'pause';
      patch.next = { checkpoint: kept, trial: live.index, resource };
    }
    this.store.transaction(() => {
      this.store.appendEvent(state.id, {
        trial: live.index,
        kind: 'result',
        resource,
        value,
        ...(kept || inherited
          ? { data: { ...(kept ? { checkpoint: kept } : {}), ...(inherited ? { inherited } : {}) } }
          : {}),
      });
      this.updateTrial(state, live.index, patch);
    });
    // Cancelled after the runner has finished recording the event being handled.
    if (live.decision) void Promise.resolve().then(() => this.cancelRun(live.runId));
    this.pruneKept(state);
  }

  /** Whether a trial waits for a slot: a queued one, or one not yet proposed. */
  private someoneWaits(state: ActiveSweep): boolean {
    if (state.nextIndex < state.sweep.trials) return true;
    for (const trial of state.trials.values())
      if (trial.status === 'queued' && !state.live.has(trial.index)) return true;
    return false;
  }

  /**
   * Copies a segment's checkpoint out of the trial's task folder (which keeps only its newest
   * checkpoints) into the sweep's folder, where it stays while an exploit may copy it or a queued
   * trial waits to start from it. Each copy has a folder of its own and is never overwritten.
   */
  private keep(state: ActiveSweep, trial: number, resource: number, checkpoint: string): string | undefined {
    const folder = join(
      this.folders.dir(state.id),
      CHECKPOINTS_DIR,
      `trial-${trial}`,
      `epoch-${resource}-${randomBytes(3).toString('hex')}`,
    );
    const target = join(folder, basename(checkpoint));
    try {
      mkdirSync(folder, { recursive: true });
      cpSync(checkpoint, target, { recursive: true });
    } catch (error) {
      rmSync(folder, { recursive: true, force: true });
      onUnexpectedError(error);
      return undefined;
    }
    state.kept.set(keptKey(trial, resource), target);
    state.keptPaths.add(target);
    return target;
  }

  /** Removes kept checkpoints no future exploit can copy and no queued trial waits to start from. */
  private pruneKept(state: ActiveSweep): void {
    if (state.sweep.scheduler.type !== 'pbt') return;
    const needed = new Set<string>();
    for (const { trial, resource } of state.scheduler.retainedCheckpoints()) {
      const path = state.kept.get(keptKey(trial, resource));
      if (path) needed.add(path);
    }
    for (const trial of state.trials.values()) if (trial.next) needed.add(trial.next.checkpoint);
    for (const [key, path] of state.kept) if (!needed.has(path)) state.kept.delete(key);
    for (const path of state.keptPaths) {
      if (needed.has(path)) continue;
      state.keptPaths.delete(path);
      rmSync(dirname(path), { recursive: true, force: true });
    }
  }

  /** A trial's run has settled: the trial ends, or waits to continue from a checkpoint. */
  private settleRun(state: ActiveSweep, index: number, run: RunInfo): void {
    const live = state.live.get(index);
    if (!live || live.runId !== run.id) return;
    state.live.delete(index);
    this.byRun.delete(run.id);
    if (this.disposed) return;
    const trial = state.trials.get(index)!;
    const trained = this.epochsTrained(state, run);
    const epochsTrained = trial.epochsTrained + trained.trained;
    const epochs = Math.max(trial.epochs, trained.reached);
    if (live.decision === 'stop') {
      this.endTrial(state, index, 'pruned', { epochs, epochsTrained });
    } else if (live.decision === 'pause' || live.decision === 'exploit') {
      this.updateTrial(state, index, { status: 'queued', epochs, epochsTrained });
    } else if (run.status === 'done') {
      const objective = this.objectiveOf(state, run);
      if (objective.value === undefined) {
        this.endTrial(state, index, 'failed', { epochs, epochsTrained, error: objective.error! });
      } else {
        // The best first: the sweep's change that ending the trial fires then carries it.
        this.updateBest(state, index, objective.value, run);
        this.endTrial(state, index, 'done', { epochs, epochsTrained, objective: objective.value });
      }
    } else if (run.status === 'failed' && !state.cancelRequested) {
      this.endTrial(state, index, 'failed', {
        epochs,
        epochsTrained,
        error: run.error ?? { code: 'TASK_FAILED', message: `Trial ${index}: run ${run.id} failed` },
      });
    } else {
      // Cancelled with the sweep, or its run on its own: a resume continues it.
      this.updateTrial(state, index, {
        status: 'cancelled',
        epochs,
        epochsTrained,
        finishedAt: new Date().toISOString(),
      });
    }
    this.pump(state);
  }

  /**
   * The epochs the run's budget node finished (each counted once, also across a resume of the run),
   * and the furthest one: a run started from a checkpoint reports only the epochs after it, and a
   * reused task trained none.
   */
  private epochsTrained(state: ActiveSweep, run: RunInfo): { trained: number; reached: number } {
    const task = state.budgetNode
      ? run.tasks.find((candidate) => candidate.nodeId === state.budgetNode)
      : undefined;
    if (!task) return { trained: 0, reached: 0 };
    const source = task.status === 'reused' && task.reusedFrom ? task.reusedFrom : task.id;
    const epochs = new Set<number>();
    for (const point of this.options.runs.getMetrics(source, { names: [EPOCH_METRIC] }))
      if (point.epoch !== undefined) epochs.add(point.epoch);
    const reached = epochs.size > 0 ? Math.max(...epochs) : 0;
    return { trained: task.status === 'reused' ? 0 : epochs.size, reached };
  }

  /** The objective's last value in the run (a reused task's is its source's). */
  private objectiveOf(state: ActiveSweep, run: RunInfo): { value?: number; error?: ErrorInfo } {
    const { node, metric } = state.sweep.objective;
    const task = run.tasks.find((candidate) => candidate.nodeId === node);
    const source = task && task.status === 'reused' && task.reusedFrom ? task.reusedFrom : task?.id;
    const points = source ? this.options.runs.getMetrics(source, { names: [metric] }) : [];
    const last = points.at(-1);
    if (!last) {
      return {
        error: {
          code: 'TRIAL_NO_OBJECTIVE',
          message: `Node "${node}" finished without reporting "${metric}", the sweep's objective`,
          details: { nodeId: node, expected: `a "${metric}" metric`, received: null, runId: run.id },
        },
      };
    }
    return { value: last.value };
  }

  /** Moves the best alias to the trial's models when it beats the best so far. */
  private updateBest(state: ActiveSweep, index: number, objective: number, run: RunInfo): void {
    const current = this.store.getSummary(state.id).best;
    if (current && compareByMode(objective, current.objective, state.sweep.objective.mode) >= 0) return;
    if (Number.isNaN(objective)) return;
    const alias = bestAlias(state.id);
    const models: Record<string, string> = {};
    for (const task of run.tasks)
      for (const [port, versionId] of Object.entries(task.models))
        models[`${task.nodeId}.${port}`] = versionId;
    for (const versionId of new Set(Object.values(models))) {
      try {
        this.options.registry.tag(versionId, alias);
      } catch (error) {
        onUnexpectedError(error);
      }
    }
    const best: SweepBest = { trial: index, objective, runId: run.id, models, alias };
    this.store.updateSweep(state.id, { best });
  }

  private endTrial(
    state: ActiveSweep,
    index: number,
    end: Exclude<TrialEnd, 'cancelled'>,
    patch: Omit<TrialPatch, 'status'>,
  ): void {
    state.scheduler.onTrialEnd(index, end);
    this.store.transaction(() => {
      this.store.appendEvent(state.id, { trial: index, kind: 'end', data: { end } });
      this.updateTrial(state, index, { ...patch, status: end, finishedAt: new Date().toISOString() });
    });
    this.pruneKept(state);
    this.emitSweep(state.id);
  }

  private cancelRun(runId: string): void {
    try {
      if (this.runner.isActive(runId)) this.runner.cancel(runId);
    } catch (error) {
      onUnexpectedError(error);
    }
  }

  private cancelActive(state: ActiveSweep): void {
    if (state.cancelRequested) return;
    state.cancelRequested = true;
    for (const live of state.live.values()) this.cancelRun(live.runId);
    this.maybeFinish(state);
  }

  private maybeFinish(state: ActiveSweep): void {
    if (state.live.size > 0 || !this.sweeps.has(state.id)) return;
    if (!state.cancelRequested) {
      const waiting = [...state.trials.values()].some((trial) => trial.status === 'queued');
      if (waiting || state.nextIndex < state.sweep.trials) return;
    }
    const trials = [...state.trials.values()];
    const allFailed = trials.length > 0 && trials.every((trial) => trial.status === 'failed');
    const status = state.cancelRequested ? 'cancelled' : allFailed ? 'failed' : 'done';
    const error = allFailed ? (trials[0]!.error ?? null) : null;
    let summary: SweepSummary;
    try {
      summary = this.store.updateSweep(state.id, { status, error, finishedAt: new Date().toISOString() });
    } catch (failure) {
      onUnexpectedError(failure);
      summary = this.store.getSummary(state.id);
    }
    this.sweeps.delete(state.id);
    try {
      this.folders.release(state.id);
    } catch (failure) {
      onUnexpectedError(failure);
    }
    this._onDidChangeSweep.fire(summary);
    state.resolve(summary);
  }

  private pollCancelMarkers(): void {
    for (const state of this.sweeps.values())
      if (!state.cancelRequested && this.folders.cancelRequested(state.id))
        this.timed(() => this.cancelActive(state));
  }

  private settleIfAbandoned(summary: SweepSummary): void {
    if (summary.status !== 'running' && summary.status !== 'queued') return;
    if (this.sweeps.has(summary.id) || this.folders.ownedElsewhere(summary.id)) return;
    this.markAbandoned(summary, 'failed', {
      code: 'SWEEP_INTERRUPTED',
      message: `Sweep "${summary.id}" was interrupted: the process running it exited before it finished; resume it to continue`,
      details: { sweepId: summary.id },
    });
  }

  /** Settles a sweep whose process is gone; its running trials become cancelled (resumable). */
  private markAbandoned(summary: SweepSummary, status: 'failed' | 'cancelled', error: ErrorInfo): void {
    const finishedAt = new Date().toISOString();
    const changed: TrialRecord[] = [];
    this.store.transaction(() => {
      for (const trial of this.store.trialRecords(summary.id)) {
        if (trial.status !== 'running') continue;
        changed.push(
          this.store.updateTrial(summary.id, trial.index, { status: 'cancelled', error, finishedAt }),
        );
      }
      this.store.updateSweep(summary.id, { status, error, finishedAt });
    });
    for (const trial of changed) {
      // Its run, owned by the same dead process, is settled the same way.
      if (trial.runId) {
        try {
          const run = this.options.runs.getRun(trial.runId);
          if (run.status === 'running' || run.status === 'queued') this.runner.cancel(trial.runId);
        } catch (failure) {
          onUnexpectedError(failure);
        }
      }
      this.emitTrial(trial);
    }
    this.folders.release(summary.id);
    this.emitSweep(summary.id);
  }

  private updateTrial(state: ActiveSweep, index: number, patch: TrialPatch): TrialRecord {
    const record = this.store.updateTrial(state.id, index, patch);
    state.trials.set(index, record);
    this.emitTrial(record);
    return record;
  }

  private emitTrial(record: TrialRecord): void {
    this._onDidChangeTrial.fire(toTrialInfo(record));
  }

  private emitSweep(sweepId: string): void {
    this._onDidChangeSweep.fire(this.store.getSummary(sweepId));
  }

  /** Runs `work`, adding its time to the bookkeeping counter (once, however deeply nested). */
  private timed<T>(work: () => T): T {
    if (this.timing) return work();
    this.timing = true;
    const began = performance.now();
    try {
      return work();
    } finally {
      this.timing = false;
      this.counters.bookkeepingMs += performance.now() - began;
    }
  }
}

/** A trial's kept checkpoint folders, for tests and `gc` checks: `<sweep>/checkpoints/trial-i/epoch-r/step-n`. */
export function keptCheckpoints(
  sweepsDir: string,
  sweepId: string,
): Array<{ trial: number; resource: number; path: string }> {
  const root = join(sweepsDir, sweepId, CHECKPOINTS_DIR);
  if (!existsSync(root)) return [];
  const found: Array<{ trial: number; resource: number; path: string }> = [];
  for (const trialDir of readdirSync(root)) {
    const trial = Number(trialDir.replace('trial-', ''));
    for (const epochDir of readdirSync(join(root, trialDir))) {
      const resource = Number(/^epoch-(\d+)/.exec(epochDir)?.[1]);
      for (const step of readdirSync(join(root, trialDir, epochDir)))
        found.push({ trial, resource, path: join(root, trialDir, epochDir, step) });
    }
  }
  return found.sort((a, b) => a.trial - b.trial || a.resource - b.resource);
}
