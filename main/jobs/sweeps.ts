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
import { randomBytes } from 'node:crypto';
import type { PipelineDoc, SweepInfo, SweepSummary, TrialInfo } from '../../preload/contract';
import { DistilleryError } from '../base/errors';
import { Emitter } from '../base/event';
import { Disposable, toDisposable } from '../base/lifecycle';
import type { NodeCatalog } from '../nodes/catalog';
import { invalidPipelineError } from '../pipeline/pipeline-file';
import { resolveSweep, type ResolvedSweep } from '../pipeline/sweep/index';
import { validatePipeline } from '../pipeline/validate';
import type { SqliteSweepStore, TrialPatch, TrialRecord } from '../registry/sweep-store';
import { toTrialInfo } from '../registry/sweep-rows';
import { RunFolders } from './run-folder';
import type { Runner } from './runner';
import { resourceOf } from './sweep-plan';
import { markAbandoned, replay, requeueTrials, settleIfAbandoned } from './sweep-resume';
import {
  newSweepState,
  type ActiveSweep,
  type SweepHost,
  type SweepRegistryPort,
  type SweepRunnerStats,
  type SweepRunsPort,
} from './sweep-state';
import { onMetrics, onTask } from './trial-results';
import { cancelRun, pump } from './trial-scheduling';
import { maybeFinish } from './trial-settling';

export { bestAlias } from './sweep-state';

export interface SweepRunnerOptions {
  runner: Runner;
  store: SqliteSweepStore;
  runs: SweepRunsPort;
  registry: SweepRegistryPort;
  catalog: NodeCatalog;
  /** Root of sweep folders: `<sweepsDir>/<sweepId>/` holds the owner file and kept checkpoints. */
  sweepsDir: string;
}

export function newSweepId(): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(2, 12);
  return `s${stamp}-${randomBytes(3).toString('hex')}`;
}

export class SweepRunner extends Disposable {
  private readonly _onDidChangeSweep = this._register(new Emitter<SweepSummary>());
  /** A sweep's status, counts or best trial changed. */
  readonly onDidChangeSweep = this._onDidChangeSweep.event;
  private readonly _onDidChangeTrial = this._register(new Emitter<TrialInfo>());
  /** A trial changed. */
  readonly onDidChangeTrial = this._onDidChangeTrial.event;

  private readonly sweeps = new Map<string, ActiveSweep>();
  private readonly folders: RunFolders;
  private readonly runner: Runner;
  private readonly store: SqliteSweepStore;
  private timing = false;
  private readonly counters: SweepRunnerStats = { bookkeepingMs: 0, trialsStarted: 0 };
  private readonly host: SweepHost;

  constructor(private readonly options: SweepRunnerOptions) {
    super();
    this.runner = options.runner;
    this.store = options.store;
    this.folders = this._register(new RunFolders(options.sweepsDir));
    this.host = {
      runner: this.runner,
      store: this.store,
      runs: options.runs,
      registry: options.registry,
      catalog: options.catalog,
      sweepsDir: options.sweepsDir,
      folders: this.folders,
      sweeps: this.sweeps,
      byRun: new Map(),
      counters: this.counters,
      disposed: false,
      timed: (work) => this.timed(work),
      pump: (state) => pump(this.host, state),
      updateTrial: (state, index, patch) => this.updateTrial(state, index, patch),
      emitTrial: (record) => this.emitTrial(record),
      emitSweep: (sweepId) => this.emitSweep(sweepId),
      fireSweep: (summary) => this._onDidChangeSweep.fire(summary),
    };
    this._register(this.runner.onDidMetrics((batch) => this.timed(() => onMetrics(this.host, batch))));
    this._register(this.runner.onDidChangeTask((task) => this.timed(() => onTask(this.host, task))));
    // Another process (`distillery sweeps cancel ID`) asks to cancel by dropping a marker file.
    const timer = setInterval(() => this.pollCancelMarkers(), 300);
    timer.unref();
    this._register(
      toDisposable(() => {
        clearInterval(timer);
        this.host.disposed = true;
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
      const state = newSweepState(id, pipelineDoc, sweep, this.options.catalog);
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
      settleIfAbandoned(this.host, this.store.getSummary(sweepId));
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
      const state = newSweepState(sweepId, doc, sweep, this.options.catalog);
      replay(this.host, state);
      state.warm = [...state.trials.values()].some((trial) => trial.runs.length > 0);
      this.folders.claim(sweepId);
      this.folders.clearCancel(sweepId);
      requeueTrials(this.host, state, options.rerunFailed);
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
      markAbandoned(this.host, summary, 'cancelled', {
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
    for (const summary of this.store.listUnsettled()) settleIfAbandoned(this.host, summary);
  }

  // -------------------------------------------------------------------------------------------

  private resolve(doc: PipelineDoc, file: string | undefined): ResolvedSweep {
    const { issues, sweep } = resolveSweep(doc.sweep, doc, this.options.catalog);
    if (!sweep) throw invalidPipelineError(issues, file);
    return sweep;
  }

  private activate(state: ActiveSweep): void {
    this.sweeps.set(state.id, state);
    const before = this.store.getSummary(state.id);
    this.store.updateSweep(state.id, {
      status: 'running',
      startedAt: before.startedAt ?? new Date().toISOString(),
    });
    this.emitSweep(state.id);
    pump(this.host, state);
  }

  private cancelActive(state: ActiveSweep): void {
    if (state.cancelRequested) return;
    state.cancelRequested = true;
    for (const live of state.live.values()) cancelRun(this.host, live.runId);
    maybeFinish(this.host, state);
  }

  private pollCancelMarkers(): void {
    for (const state of this.sweeps.values())
      if (!state.cancelRequested && this.folders.cancelRequested(state.id))
        this.timed(() => this.cancelActive(state));
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
