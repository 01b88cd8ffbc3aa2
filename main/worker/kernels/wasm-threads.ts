/**
 * Multithreaded tfjs-wasm under Node. The package ships the threaded-SIMD build, whose XNNPACK
 * thread pool runs matmuls and convolutions on every core, but tfjs turns it off under Node for
 * three reasons, each handled here:
 *
 *  1. The flag `WASM_HAS_MULTITHREAD_SUPPORT` answers false whenever `IS_NODE`; we set it.
 *  2. tfjs hands Emscripten the pthread worker script as a Blob URL and the main script as a Blob;
 *     Node's `worker_threads.Worker` opens files only (ERR_WORKER_PATH) and the worker's
 *     `importScripts` reads files only. Emscripten creates its workers with the global `Worker`,
 *     which it assigns itself; we pin that global to a Worker that reads the Blob, starts the
 *     thread from the source (`eval: true`), and passes the main script along as text. The main
 *     script is the factory function's source, lifted out of the CommonJS bundle, so it still names
 *     the bundle's module variables (`require$$0` = fs, …, `commonjsGlobal`): the worker defines
 *     them before it runs.
 *  3. The C++ side caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two hardware
 *     threads per core), computed once when the module starts, so a 2-core machine got a pool of
 *     one thread whatever `setThreadsCount` asked for. Emscripten reads the core count from
 *     `os.cpus()`; while the module starts we make that list twice the thread count we want.
 *
 * XNNPACK splits a matmul or convolution by output tiles, each tile summed in the same order as on
 * one thread, so results do not depend on the thread count (test/unit/kernels-threads.test.ts).
 */
import { resolveObjectURL } from 'node:buffer';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';

/** Environment variable that sets the wasm thread count (1 = the single-threaded build). */
export const WASM_THREADS_ENV_VAR = 'DISTILLERY_WASM_THREADS';

/** Emscripten pre-creates this many pthread workers; XNNPACK's pool cannot use more. */
export const MAX_WASM_THREADS = 8;

/** Prefix that marks a main script passed to a pthread worker as its source text. */
const SOURCE_MARKER = 'distillery-wasm-script:';

/**
 * Run in each pthread worker before Emscripten's worker script: the CommonJS bundle's module
 * variables that the factory's source refers to, and the three TypeScript helpers it calls.
 */
const WORKER_PRELUDE = [
  "globalThis.require$$0 = require('fs');",
  "globalThis.require$$1 = require('path');",
  "globalThis.require$$2 = require('worker_threads');",
  "globalThis.require$$3 = require('perf_hooks');",
  "globalThis.require$$4 = require('os');",
  'globalThis.commonjsGlobal = globalThis;',
  'globalThis._scriptDir = undefined;',
  'globalThis.__values = (o) => o[Symbol.iterator]();',
  'globalThis.__read = (o) => Array.from(o);',
  'globalThis.__spreadArray = (to, from) => to.concat(Array.from(from));',
  '',
].join('\n');

/** How long the main thread waits for a pthread to start before giving up on threads. */
const THREAD_START_TIMEOUT_MS = 60_000;

/**
 * Run after Emscripten's worker script: lets `importScripts` take a main script as text, and tells
 * the main thread, through the Int32Array in workerData, when the module has started in this
 * thread (1) or failed to (2).
 */
const WORKER_EPILOGUE = `
;(() => {
  const readFile = globalThis.importScripts;
  globalThis.importScripts = (file) => {
    if (typeof file === 'string' && file.startsWith(${JSON.stringify(SOURCE_MARKER)})) {
      (0, eval)(file.slice(${SOURCE_MARKER.length}));
      return;
    }
    readFile(file);
  };
  const signal = require('worker_threads').workerData?.startSignal;
  if (!(signal instanceof Int32Array)) return;
  const report = (state) => {
    Atomics.store(signal, 0, state);
    Atomics.notify(signal, 0);
  };
  const start = globalThis.startWorker;
  globalThis.startWorker = (instance) => {
    start(instance);
    report(1);
  };
  const receive = globalThis.onmessage;
  globalThis.onmessage = (event) => {
    try {
      receive(event);
    } catch (error) {
      report(2);
      throw error;
    }
  };
})();
`;

type Listener = (...args: unknown[]) => void;

interface WorkerMessage {
  cmd?: unknown;
  urlOrBlob?: unknown;
}

function commandOf(message: unknown): unknown {
  return message !== null && typeof message === 'object' ? (message as WorkerMessage).cmd : undefined;
}

/**
 * The `Worker` Emscripten gets: a `worker_threads.Worker` for a file path, and for a Blob URL a
 * stand-in that reads the Blob and starts the real thread only when a pthread is run on it.
 *
 * Emscripten pre-creates eight workers and waits for each to load the module, but XNNPACK's pool
 * runs threads − 1 pthreads: starting all eight would cost a V8 isolate each. So `load` is kept
 * (its main-script Blob read into text) and answered `loaded` at once; the first other message
 * starts the thread, hands it the kept `load`, then the message. That happens while Emscripten
 * blocks the main thread for the pthread to start, which is why nothing on that path may wait for
 * the event loop.
 *
 * The threads stay unreferenced: they are XNNPACK's idle pool, which must not keep a finished
 * worker process alive (Emscripten references a thread while it runs, meaning its pool forever).
 */
class BlobUrlWorker {
  private thread: NodeWorker | undefined;
  private workerSource: string | undefined;
  private load: WorkerMessage | undefined;
  private readonly ready: Promise<void>;
  private readonly listeners: Array<[string, Listener]> = [];
  private swallowLoaded = false;
  private terminated = false;

  constructor(url: string | URL, options?: WorkerOptions) {
    const href = String(url);
    const blob = href.startsWith('blob:') ? resolveObjectURL(href) : undefined;
    if (blob === undefined) {
      this.ready = Promise.resolve();
      this.attach(new NodeWorker(url, options));
      return;
    }
    URL.revokeObjectURL(href);
    this.ready = blob.text().then((source) => {
      this.workerSource = WORKER_PRELUDE + source + WORKER_EPILOGUE;
    });
  }

  private attach(thread: NodeWorker): void {
    this.thread = thread;
    for (const [event, listener] of this.listeners) thread.on(event, this.filtered(event, listener));
    // After the listeners: adding a 'message' listener references the worker again.
    thread.unref();
  }

  /** Drops the real thread's own `loaded`: Emscripten has had ours. */
  private filtered(event: string, listener: Listener): Listener {
    if (event !== 'message') return listener;
    return (message: unknown, ...rest: unknown[]) => {
      if (this.swallowLoaded && commandOf(message) === 'loaded') {
        this.swallowLoaded = false;
        return;
      }
      listener(message, ...rest);
    };
  }

  private emit(event: string, message: unknown): void {
    for (const [name, listener] of this.listeners) if (name === event) listener(message);
  }

  /**
   * Starts the thread with the kept `load` and waits, blocking, until the module runs in it: the
   * caller is about to block on that thread anyway, and a thread that fails to start would leave
   * it blocked for good, where an error here makes the backend fall back to one thread.
   */
  private startThread(): NodeWorker {
    if (this.workerSource === undefined || this.load === undefined) {
      throw new Error('wasm pthread worker: a message arrived before the module was loaded');
    }
    const signal = new Int32Array(new SharedArrayBuffer(4));
    // execArgv: [] — the worker is plain CommonJS; loader flags of this process (tsx, an ESM
    // input type) must not apply to it.
    const thread = new NodeWorker(this.workerSource, {
      eval: true,
      execArgv: [],
      workerData: { startSignal: signal },
    });
    this.attach(thread);
    this.swallowLoaded = true;
    thread.postMessage(this.load);
    const outcome = Atomics.wait(signal, 0, 0, THREAD_START_TIMEOUT_MS);
    if (Atomics.load(signal, 0) !== 1) {
      void thread.terminate();
      throw new Error(
        `wasm pthread worker did not start (${outcome === 'timed-out' ? 'timed out' : 'its module failed to load'})`,
      );
    }
    return thread;
  }

  on(event: string, listener: Listener): this {
    this.listeners.push([event, listener]);
    this.thread?.on(event, this.filtered(event, listener)).unref();
    return this;
  }

  postMessage(message: unknown, transferList?: readonly unknown[]): void {
    const transfer = transferList as Parameters<NodeWorker['postMessage']>[1];
    if (this.thread) {
      this.thread.postMessage(message, transfer);
      return;
    }
    if (commandOf(message) === 'load') {
      const load = message as WorkerMessage;
      void this.ready
        .then(async () => {
          const script = load.urlOrBlob instanceof Blob ? await load.urlOrBlob.text() : load.urlOrBlob;
          this.load = { ...load, urlOrBlob: typeof script === 'string' ? SOURCE_MARKER + script : script };
          this.emit('message', { cmd: 'loaded' });
        })
        .catch((error: unknown) => this.emit('error', error));
      return;
    }
    if (this.terminated) return;
    this.startThread().postMessage(message, transfer);
  }

  ref(): void {
    // See the class comment: the pool threads never hold the process open.
  }

  unref(): void {
    this.thread?.unref();
  }

  terminate(): Promise<number> {
    this.terminated = true;
    return this.thread?.terminate() ?? Promise.resolve(0);
  }
}

let workerInstalled = false;

/** Makes the global `Worker` ours for good (Emscripten may spawn more pthreads later). */
function installBlobUrlWorker(): void {
  if (workerInstalled) return;
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    get: () => BlobUrlWorker,
    // Emscripten assigns worker_threads.Worker here when its factory runs; keep ours.
    set: () => undefined,
  });
  workerInstalled = true;
}

/** The thread count a worker should use: DISTILLERY_WASM_THREADS, else every core (at most 8). */
export function wasmThreadsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[WASM_THREADS_ENV_VAR]?.trim();
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  if (raw === undefined || raw === '') return Math.max(1, Math.min(MAX_WASM_THREADS, cores));
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > MAX_WASM_THREADS) {
    throw new RangeError(
      `${WASM_THREADS_ENV_VAR} must be an integer from 1 to ${MAX_WASM_THREADS}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** The part of `@tensorflow/tfjs-backend-wasm` this module drives. */
export interface WasmThreadControls {
  setThreadsCount(threads: number): void;
}

/**
 * Prepares the next `tf.setBackend('wasm')` to load the threaded build with `threads` threads
 * (or the single-threaded build for 1). Call the returned function once the backend has
 * initialised, whether it succeeded or not: it puts `os.cpus` back.
 */
export function prepareWasmThreads(wasm: WasmThreadControls, threads: number): () => void {
  const multithreaded = threads > 1;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', multithreaded);
  wasm.setThreadsCount(threads);
  if (!multithreaded) return () => undefined;
  installBlobUrlWorker();
  // The CommonJS `os` module object, which the wasm bundle's `require('os')` also returns.
  const osModule = createRequire(import.meta.url)('os') as typeof os;
  const cpus = osModule.cpus;
  osModule.cpus = () => {
    const real = cpus();
    const one = real[0];
    if (one === undefined) return real;
    return Array.from({ length: 2 * threads }, (_, index) => real[index % real.length] ?? one);
  };
  return () => {
    osModule.cpus = cpus;
  };
}
