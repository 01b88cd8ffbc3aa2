/**
 * Warm workers: a small pool of training subprocesses that have loaded their backend and said
 * `ready`, so that a task starts on one at once instead of paying the process start and the tfjs
 * and wasm load (1.5–4 s) again. A worker runs one task at a time; one whose task succeeded comes
 * back to the pool (it has released that task's tensors), one that failed, was cancelled or left
 * too much behind is disposed, and the next task gets a fresh process in its place. Idle workers
 * exit after a while, and all of them when the pool is disposed.
 */
import { Disposable, toDisposable, AbortOnDispose } from '../../base/lifecycle';
import { onUnexpectedError } from '../../base/unexpected-error';
import { WorkerProcess } from '../worker-process';

export interface WarmWorkerPoolOptions {
  /** Worker entry (see WorkerProcessOptions.entry). */
  entry: string;
  /** Environment of every worker (backend choice, test switches). */
  env?: NodeJS.ProcessEnv;
  /** Idle workers kept ready; 0 turns the pool off (every task gets a process of its own). */
  size: number;
  /** Tasks one worker runs before it is retired, bounding what a long-lived process accumulates. */
  maxTasksPerWorker?: number;
  /** How long an idle worker waits for a task before it is stopped (ms). */
  idleMs?: number;
  /** How long a new worker may take to say `ready` (ms). */
  readyTimeoutMs?: number;
}

/** A worker handed out by the pool. */
export interface PooledWorker {
  worker: WorkerProcess;
  /** Whether it was already running and idle when asked for. */
  warm: boolean;
  /** Tasks it had run before this one. */
  tasksRun: number;
}

interface IdleWorker {
  worker: WorkerProcess;
  tasksRun: number;
  timer: NodeJS.Timeout;
  exitListener: { dispose(): void };
}

/** A worker being started ahead of demand; `claimed` once a task waits for it. */
interface StartingWorker {
  started: Promise<WorkerProcess | undefined>;
  claimed: boolean;
}

const DEFAULT_MAX_TASKS = 50;
const DEFAULT_IDLE_MS = 120_000;

export class WarmWorkerPool extends Disposable {
  private readonly idle: IdleWorker[] = [];
  private readonly starting = new Set<StartingWorker>();
  private readonly tasksRun = new WeakMap<WorkerProcess, number>();
  private readonly lifetime = this._register(new AbortOnDispose());
  private readonly maxTasks: number;
  private readonly idleMs: number;
  /** Workers started since the pool was created, for tests and benchmarks. */
  private startedCount = 0;

  constructor(private readonly options: WarmWorkerPoolOptions) {
    super();
    this.maxTasks = options.maxTasksPerWorker ?? DEFAULT_MAX_TASKS;
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this._register(
      toDisposable(() => {
        for (const entry of this.idle.splice(0)) this.discard(entry);
      }),
    );
  }

  /** Whether workers are kept for another task. */
  get enabled(): boolean {
    return this.options.size > 0;
  }

  /** Ready workers waiting for a task now. */
  get idleCount(): number {
    return this.idle.length;
  }

  /** Worker processes this pool has started. */
  get started(): number {
    return this.startedCount;
  }

  /**
   * A ready worker for one task: an idle one when there is one (warm), else one being started
   * ahead of demand, else a new one. Rejects as WorkerProcess.start does; `signal` stops a worker
   * that is still starting.
   */
  async acquire(signal: AbortSignal): Promise<PooledWorker> {
    for (let entry = this.idle.pop(); entry; entry = this.idle.pop()) {
      clearTimeout(entry.timer);
      entry.exitListener.dispose();
      // One that died while it waited (killed from outside) is no use.
      if (entry.worker.hasExited) {
        entry.worker.dispose();
        continue;
      }
      return { worker: entry.worker, warm: true, tasksRun: entry.tasksRun };
    }
    const ahead = [...this.starting].find((candidate) => !candidate.claimed);
    if (ahead) {
      ahead.claimed = true;
      const worker = await ahead.started;
      if (worker && !signal.aborted) return { worker, warm: false, tasksRun: 0 };
      worker?.dispose();
    }
    return { worker: await this.startWorker(signal), warm: false, tasksRun: 0 };
  }

  /**
   * Gives a worker back after its task. `reusable` only when the task succeeded and the worker
   * said it stays; otherwise (or when the pool is full, or the worker has run its share) it is
   * disposed, and never handed out again.
   */
  release(worker: WorkerProcess, reusable: boolean): void {
    const tasksRun = (this.tasksRun.get(worker) ?? 0) + 1;
    this.tasksRun.set(worker, tasksRun);
    if (
      !reusable ||
      this.lifetime.signal.aborted ||
      !this.enabled ||
      worker.hasExited ||
      tasksRun >= this.maxTasks ||
      this.idle.length >= this.options.size
    ) {
      worker.dispose();
      return;
    }
    this.keepIdle(worker, tasksRun);
  }

  /**
   * Starts workers in the background until `count` (at most the pool's size) are idle or on their
   * way, so that tasks about to run in parallel find one ready.
   */
  prewarm(count: number): void {
    if (!this.enabled || this.lifetime.signal.aborted) return;
    const wanted = Math.min(count, this.options.size);
    const unclaimed = [...this.starting].filter((entry) => !entry.claimed).length;
    for (let have = this.idle.length + unclaimed; have < wanted; have++) {
      const entry: StartingWorker = { claimed: false, started: Promise.resolve(undefined) };
      entry.started = this.startWorker(this.lifetime.signal).then(
        (worker) => {
          this.starting.delete(entry);
          if (!entry.claimed) {
            if (this.lifetime.signal.aborted) worker.dispose();
            else this.keepIdle(worker, 0);
          }
          return worker;
        },
        (error: unknown) => {
          this.starting.delete(entry);
          // A prewarm that fails costs nothing: the task that needs a worker starts its own and
          // reports that one's failure. Only an unexpected failure is worth a report.
          if (!this.lifetime.signal.aborted && !entry.claimed) onUnexpectedError(error);
          return undefined;
        },
      );
      this.starting.add(entry);
    }
  }

  private async startWorker(signal: AbortSignal): Promise<WorkerProcess> {
    this.startedCount += 1;
    return WorkerProcess.start({
      entry: this.options.entry,
      ...(this.options.env ? { env: this.options.env } : {}),
      ...(this.options.readyTimeoutMs !== undefined ? { readyTimeoutMs: this.options.readyTimeoutMs } : {}),
      signal: AbortSignal.any([signal, this.lifetime.signal]),
    });
  }

  private keepIdle(worker: WorkerProcess, tasksRun: number): void {
    const entry: IdleWorker = {
      worker,
      tasksRun,
      timer: setTimeout(() => this.expire(entry), this.idleMs),
      exitListener: worker.onDidExit(() => this.expire(entry)),
    };
    // An idle worker must never be what keeps the process alive.
    entry.timer.unref();
    this.tasksRun.set(worker, tasksRun);
    this.idle.push(entry);
  }

  private expire(entry: IdleWorker): void {
    const index = this.idle.indexOf(entry);
    if (index < 0) return;
    this.idle.splice(index, 1);
    this.discard(entry);
  }

  private discard(entry: IdleWorker): void {
    clearTimeout(entry.timer);
    entry.exitListener.dispose();
    entry.worker.dispose();
  }
}
