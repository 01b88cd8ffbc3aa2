/**
 * One training subprocess, from fork to exit. Resolves `start()` only after the worker's `ready`
 * handshake. Cancel = `cancel` message, then SIGTERM after a grace period, then SIGKILL.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { DistilleryError } from '../base/errors';
import { Emitter } from '../base/event';
import { Disposable, toDisposable } from '../base/lifecycle';
import { decodeEvent, PROTOCOL_VERSION, type WorkerEvent, type WorkerRequest } from '../worker/protocol';

export type ReadyEvent = Extract<WorkerEvent, { type: 'ready' }>;

export interface WorkerProcessOptions {
  /** Worker entry: a `.ts` file is run through tsx, a `.js` file directly. */
  entry: string;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for `ready`. */
  readyTimeoutMs?: number;
  /** Aborting it kills a worker that is still starting: its owner is gone and would not stop it. */
  signal?: AbortSignal;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last lines the worker wrote to stderr, for crash reports. */
  stderrTail: string;
}

const STDERR_TAIL = 4000;

/** tsx's ESM loader, resolved from this package so workers start from any working directory. */
function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

export class WorkerProcess extends Disposable {
  private readonly _onDidEmit = this._register(new Emitter<WorkerEvent>());
  readonly onDidEmit = this._onDidEmit.event;
  private readonly _onDidExit = this._register(new Emitter<WorkerExit>());
  readonly onDidExit = this._onDidExit.event;
  private readonly _onDidWriteOutput = this._register(
    new Emitter<{ stream: 'stdout' | 'stderr'; text: string }>(),
  );
  readonly onDidWriteOutput = this._onDidWriteOutput.event;

  private stderrTail = '';
  private exitInfo: WorkerExit | undefined;
  private readonly exited: Promise<WorkerExit>;
  private escalation: NodeJS.Timeout[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly ready: ReadyEvent,
  ) {
    super();
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitInfo) return;
        this.exitInfo = { code, signal, stderrTail: this.stderrTail };
        for (const timer of this.escalation) clearTimeout(timer);
        this._onDidExit.fire(this.exitInfo);
        resolve(this.exitInfo);
      };
      if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode, child.signalCode);
      else child.once('exit', done);
    });
    const onMessage = (message: unknown) => {
      let event: WorkerEvent;
      try {
        event = decodeEvent(message);
      } catch (error) {
        this.stderrTail = (this.stderrTail + `\n[protocol] ${(error as Error).message}`).slice(-STDERR_TAIL);
        return;
      }
      this._onDidEmit.fire(event);
    };
    child.on('message', onMessage);
    const onStderr = (chunk: Buffer) => {
      const text = chunk.toString();
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL);
      this._onDidWriteOutput.fire({ stream: 'stderr', text });
    };
    const onStdout = (chunk: Buffer) =>
      this._onDidWriteOutput.fire({ stream: 'stdout', text: chunk.toString() });
    // A send to (or kill of) a worker that is exiting fails asynchronously with an 'error' event;
    // unheard, it would be an uncaught exception in the runner's process. Its exit reports it.
    const onError = (error: Error) => {
      this.stderrTail = (this.stderrTail + `\n[runner] ${error.message}`).slice(-STDERR_TAIL);
    };
    child.on('error', onError);
    child.stderr?.on('data', onStderr);
    child.stdout?.on('data', onStdout);
    this._register(
      toDisposable(() => {
        child.off('message', onMessage);
        // 'error' stays heard after dispose: a disposed worker may still fail to take its kill.
        child.stderr?.off('data', onStderr);
        child.stdout?.off('data', onStdout);
      }),
    );
  }

  /** Forks the worker and waits for its `ready` handshake. */
  static async start(options: WorkerProcessOptions): Promise<WorkerProcess> {
    if (options.signal?.aborted)
      throw new DistilleryError('WORKER_START_FAILED', 'Worker not started: its owner was disposed');
    const execArgv = options.entry.endsWith('.ts') ? ['--import', tsxLoaderUrl()] : [];
    const child = fork(options.entry, [], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...options.env },
      // Its own process group: Ctrl+C in a terminal signals the whole foreground group, and a
      // worker killed by that SIGINT would die without its checkpoint (or, still loading, fail its
      // task) before the runner could cancel it. The runner stops it (cancel → SIGTERM → SIGKILL),
      // and it exits by itself when the runner's IPC channel closes.
      detached: true,
    });
    let stderr = '';
    const collect = (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL);
    };
    child.stderr?.on('data', collect);
    const onAbort = () => child.kill('SIGKILL');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const ready = await new Promise<ReadyEvent>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new DistilleryError(
              'WORKER_START_FAILED',
              `Worker did not say ready within ${options.readyTimeoutMs ?? 60_000} ms`,
              { stderr },
            ),
          );
        }, options.readyTimeoutMs ?? 60_000);
        child.on('message', function onMessage(message: unknown) {
          let event: WorkerEvent;
          try {
            event = decodeEvent(message);
          } catch {
            return;
          }
          if (event.type === 'ready') {
            clearTimeout(timer);
            child.off('message', onMessage);
            if (event.protocol !== PROTOCOL_VERSION) {
              reject(
                new DistilleryError(
                  'WORKER_PROTOCOL',
                  `Worker speaks protocol ${event.protocol}, runner speaks ${PROTOCOL_VERSION}`,
                  { expected: String(PROTOCOL_VERSION), received: event.protocol },
                ),
              );
            } else {
              resolve(event);
            }
          } else if (event.type === 'error') {
            clearTimeout(timer);
            reject(
              new DistilleryError('WORKER_START_FAILED', `Worker failed to start: ${event.error.message}`, {
                cause: event.error,
              }),
            );
          }
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(
            new DistilleryError(
              'WORKER_START_FAILED',
              `Worker exited before it was ready (code ${code}, signal ${signal}): ${stderr.trim().split('\n').slice(-5).join('\n')}`,
              { code, signal },
            ),
          );
        });
        child.once('error', (error) => {
          clearTimeout(timer);
          reject(new DistilleryError('WORKER_START_FAILED', `Cannot start worker: ${error.message}`));
        });
      });
      child.stderr?.off('data', collect);
      const worker = new WorkerProcess(child, ready);
      worker.stderrTail = stderr;
      return worker;
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      // From here the WorkerProcess owns the child; its owner disposes it.
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  send(request: WorkerRequest): void {
    if (this.child.connected) this.child.send(request);
  }

  /** Resolves when the process has exited. */
  waitForExit(): Promise<WorkerExit> {
    return this.exited;
  }

  /**
   * Asks the task to stop: `cancel` now, SIGTERM after `graceMs`, SIGKILL `graceMs` later.
   * Resolves when the process has exited.
   */
  cancel(taskId: string, graceMs: number): Promise<WorkerExit> {
    if (!this.exitInfo) {
      this.send({ type: 'cancel', taskId });
      this.escalation.push(
        setTimeout(() => this.child.kill('SIGTERM'), graceMs),
        setTimeout(() => this.child.kill('SIGKILL'), graceMs * 2),
      );
    }
    return this.exited;
  }

  kill(): Promise<WorkerExit> {
    if (!this.exitInfo) this.child.kill('SIGKILL');
    return this.exited;
  }

  override dispose(): void {
    if (!this.exitInfo) this.child.kill('SIGKILL');
    for (const timer of this.escalation) clearTimeout(timer);
    super.dispose();
  }
}
