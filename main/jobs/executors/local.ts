/**
 * The `local` executor: a task's worker is a child process of this one, talking over its IPC
 * channel (worker-process.ts), taken from the warm pool when one is ready (warm-pool.ts). Cancel is
 * `cancel`, then SIGTERM after a grace period, then SIGKILL; a worker that succeeded goes back to
 * the pool, any other is disposed.
 */
import { hostname } from 'node:os';
import { Disposable } from '../../base/lifecycle';
import type { WorkerEvent } from '../../worker/protocol';
import type { WorkerExit, WorkerProcess } from '../worker-process';
import type {
  Execution,
  ExecutionEnd,
  ExecutionPlacement,
  Executor,
  ExecutorQueue,
  TaskSubmission,
} from './types';
import { WarmWorkerPool, type WarmWorkerPoolOptions } from './warm-pool';

const STDERR_TAIL = 4000;

export type LocalExecutorOptions = WarmWorkerPoolOptions;

export class LocalExecutor extends Disposable implements Executor {
  readonly name = 'local' as const;
  readonly pool: WarmWorkerPool;
  private readonly running = new Set<LocalExecution>();
  private readonly host = hostname();

  constructor(options: LocalExecutorOptions) {
    super();
    this.pool = this._register(new WarmWorkerPool(options));
  }

  /** Starts workers ahead of demand (see WarmWorkerPool.prewarm). */
  prewarm(count: number): void {
    this.pool.prewarm(count);
  }

  async submit(task: TaskSubmission): Promise<Execution> {
    const { worker, warm } = await this.pool.acquire(task.signal);
    const execution = new LocalExecution(worker, warm, this.host, task, this.pool, (done) => {
      this.running.delete(done);
    });
    this.running.add(execution);
    return execution;
  }

  queue(): ExecutorQueue {
    return { waiting: 0, running: this.running.size };
  }

  override dispose(): void {
    for (const execution of [...this.running]) execution.dispose();
    super.dispose();
  }
}

/** One task on one local worker. */
class LocalExecution extends Disposable implements Execution {
  readonly placement: ExecutionPlacement;
  readonly finished: Promise<ExecutionEnd>;
  private readonly taskId: string;
  private stderr = '';
  /** How the worker said the task ended, while its process exits. */
  private reported: ExecutionEnd['state'] | undefined;
  private settled = false;
  private resolveEnd!: (end: ExecutionEnd) => void;

  constructor(
    private readonly worker: WorkerProcess,
    warm: boolean,
    host: string,
    private readonly task: TaskSubmission,
    private readonly pool: WarmWorkerPool,
    private readonly onEnd: (execution: LocalExecution) => void,
  ) {
    super();
    this.taskId = task.request.taskId;
    this.placement = {
      executor: 'local',
      jobId: worker.pid === undefined ? null : String(worker.pid),
      nodeName: host,
      warm,
      state: 'running',
    };
    this.finished = new Promise((resolve) => (this.resolveEnd = resolve));
    this._register(
      worker.onDidWriteOutput(({ stream, text }) => {
        if (stream === 'stderr') this.stderr = (this.stderr + text).slice(-STDERR_TAIL);
      }),
    );
    this._register(worker.onDidEmit((event) => this.onEvent(task, event)));
    this._register(worker.onDidExit((exit) => this.end(this.reported ?? 'failed', false, exit)));
    task.onPlacement({ ...this.placement });
    // The worker said ready before it was handed out (a warm one, perhaps long ago): the task
    // hears it first, as from a worker started for it.
    task.onEvent(worker.ready);
    worker.send({ ...task.request, ...(pool.enabled ? { keepAlive: true } : {}) });
  }

  get pid(): number | undefined {
    return this.worker.pid;
  }

  async cancel(graceMs: number): Promise<void> {
    if (!this.settled) await this.worker.cancel(this.taskId, graceMs);
  }

  async kill(): Promise<void> {
    if (!this.settled) await this.worker.kill();
  }

  async logs(): Promise<string> {
    return this.stderr;
  }

  override dispose(): void {
    // Ended by its owner before the worker did: that worker is stopped, never reused.
    this.end(this.reported ?? 'cancelled', false);
    super.dispose();
  }

  private onEvent(task: TaskSubmission, event: WorkerEvent): void {
    task.onEvent(event);
    if (event.type !== 'done' && event.type !== 'error') return;
    if (event.taskId !== this.taskId) return;
    if (event.type === 'done' && event.staying === true) {
      this.end('succeeded', true);
      return;
    }
    // The worker exits after this; the task ends with its exit, as it always has.
    this.reported =
      event.type === 'done' ? 'succeeded' : event.error.code === 'TASK_CANCELLED' ? 'cancelled' : 'failed';
  }

  /**
   * Settles once: the worker goes back to the pool (only after a `done` that said it stays) or is
   * disposed, then `finished` resolves.
   */
  private end(state: ExecutionEnd['state'], reusable: boolean, exit?: WorkerExit): void {
    if (this.settled) return;
    this.settled = true;
    this.placement.state = state;
    this.onEnd(this);
    this.pool.release(this.worker, reusable);
    this.task.onPlacement({ ...this.placement });
    this.resolveEnd({
      state,
      exit: {
        code: exit?.code ?? null,
        signal: exit?.signal ?? null,
        // This task's own output; a worker that died before saying anything left only its start.
        stderrTail: this.stderr || (exit?.stderrTail ?? ''),
      },
    });
  }
}
