/**
 * Follows what other processes write to the same data directory (a `distillery run` beside an open
 * workbench): runs they start and their tasks' progress, metrics and logs, and every change to the
 * registry, turned into the same events this process's own runner fires.
 *
 * It polls, since SQLite has no cross-process notification: `PRAGMA data_version` tells cheaply
 * whether another connection committed anything since the last look, and the registry's revision
 * counter (bumped by triggers, migration 3) whether the registry changed, by anyone.
 */
import type {
  LogLine,
  MetricBatch,
  MetricPointInfo,
  RegistryChange,
  RunInfo,
  TaskInfo,
} from '../../preload/contract';
import { Disposable, toDisposable } from '../base/lifecycle';
import { onUnexpectedError } from '../base/unexpected-error';
import type { RunStorePort } from './run-store-port';

/** Where the changes go: the runner's own emitters. */
export interface ExternalChangeSink {
  run(info: RunInfo): void;
  task(info: TaskInfo): void;
  metrics(batch: MetricBatch): void;
  log(line: LogLine): void;
  registry(change: RegistryChange): void;
}

/** How often the data directory is looked at. */
export const EXTERNAL_POLL_MS = 1000;

const ACTIVE = new Set(['queued', 'running']);

function runSignature(run: RunInfo): string {
  return JSON.stringify([
    run.status,
    run.startedAt,
    run.finishedAt,
    run.error?.code ?? null,
    run.backend?.name ?? null,
    run.label,
    run.tags,
    run.note,
    run.tasks.length,
  ]);
}

function taskSignature(task: TaskInfo): string {
  return JSON.stringify([
    task.status,
    task.attempt,
    task.progress,
    task.checkpoint,
    task.finishedAt,
    task.error?.code ?? null,
    task.models,
  ]);
}

interface Followed {
  runId: string;
  signature: string;
  tasks: Map<string, string>;
  taskIds: string[];
}

export class ExternalChangeWatcher extends Disposable {
  private dataVersion: number;
  private registryRevision: number;
  private rows: { run: number; metric: number; log: number };
  /** Runs another process is running (or just created), with what was last said about them. */
  private readonly followed = new Map<string, Followed>();

  constructor(
    private readonly store: RunStorePort,
    /** Runs this process runs or ran: its own runner reports them. */
    private readonly isOwn: (runId: string) => boolean,
    private readonly sink: ExternalChangeSink,
    intervalMs = EXTERNAL_POLL_MS,
  ) {
    super();
    this.dataVersion = store.dataVersion();
    this.registryRevision = store.registryRevision();
    this.rows = store.latestRows();
    // Runs another live process is running now are followed from the first look on.
    for (const { id } of store.runsAfter(this.rows.run)) this.look(id, false);
    if (intervalMs > 0) {
      const timer = setInterval(() => this.poll(), intervalMs);
      timer.unref();
      this._register(toDisposable(() => clearInterval(timer)));
    }
  }

  /** One look at the data directory; the timer calls it, tests may too. */
  poll(): void {
    try {
      this.pollRegistry();
      const version = this.store.dataVersion();
      if (version === this.dataVersion) return;
      this.dataVersion = version;
      const candidates = new Set(this.followed.keys());
      for (const { id, row } of this.store.runsAfter(this.rows.run)) {
        candidates.add(id);
        this.rows.run = Math.max(this.rows.run, row);
      }
      // Points and lines first: a task's status never overtakes its own metrics.
      this.pollStreams();
      for (const id of candidates) this.look(id, true);
    } catch (error) {
      onUnexpectedError(error);
    }
  }

  private pollRegistry(): void {
    const revision = this.store.registryRevision();
    if (revision === this.registryRevision) return;
    this.registryRevision = revision;
    this.sink.registry(this.store.registryCounts());
  }

  private pollStreams(): void {
    const taskIds = [...this.followed.values()].flatMap((followed) => followed.taskIds);
    if (taskIds.length === 0) {
      this.rows = { ...this.store.latestRows(), run: this.rows.run };
      return;
    }
    const batches = new Map<string, MetricBatch>();
    const runOf = new Map<string, string>();
    for (const followed of this.followed.values())
      for (const id of followed.taskIds) runOf.set(id, followed.runId);
    for (const point of this.store.metricsAfter(this.rows.metric, taskIds)) {
      this.rows.metric = Math.max(this.rows.metric, point.row);
      const { taskId } = point;
      const rest: MetricPointInfo = {
        step: point.step,
        name: point.name,
        value: point.value,
        time: point.time,
      };
      if (point.epoch !== undefined) rest.epoch = point.epoch;
      let batch = batches.get(taskId);
      if (!batch) {
        batch = { runId: runOf.get(taskId) ?? '', taskId, points: [] };
        batches.set(taskId, batch);
      }
      batch.points.push(rest);
    }
    for (const batch of batches.values()) this.sink.metrics(batch);
    for (const line of this.store.logsAfter(this.rows.log, taskIds)) {
      this.rows.log = Math.max(this.rows.log, line.row);
      this.sink.log({
        runId: line.runId,
        taskId: line.taskId,
        level: line.level,
        message: line.message,
        time: line.time,
      });
    }
  }

  /** Re-reads one run and reports what changed since it was last reported. */
  private look(runId: string, report: boolean): void {
    if (this.isOwn(runId)) {
      this.followed.delete(runId);
      return;
    }
    let run: RunInfo;
    try {
      run = this.store.getRun(runId);
    } catch {
      // Deleted meanwhile.
      this.followed.delete(runId);
      return;
    }
    const known = this.followed.get(runId);
    const signature = runSignature(run);
    const tasks = new Map(run.tasks.map((task) => [task.id, taskSignature(task)]));
    if (report) {
      // The run first: a client learns of a new run, with its tasks, before any task event.
      if (!known || known.signature !== signature) this.sink.run(run);
      for (const task of run.tasks) {
        if (known?.tasks.get(task.id) !== tasks.get(task.id)) this.sink.task(task);
      }
    }
    if (ACTIVE.has(run.status))
      this.followed.set(runId, { runId, signature, tasks, taskIds: run.tasks.map((task) => task.id) });
    else this.followed.delete(runId);
  }
}
