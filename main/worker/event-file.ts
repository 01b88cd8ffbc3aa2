/**
 * The worker's events as a file: for a worker with no IPC channel to its runner (a SLURM batch job
 * on a compute node), every event is appended to `events.jsonl` in the task folder, beside
 * `metrics.jsonl`, and the runner follows the file (jobs/executors/event-follower.ts). The folder
 * is on a filesystem the runner's machine shares.
 *
 * A reader must never take a torn line for a whole one, so each line goes out in one write that
 * ends with its newline (a reader keeps what follows the last newline for later), and a file left
 * by a writer killed mid-line has that torn line closed with a newline of its own before anything
 * is appended: it stays one unreadable line instead of swallowing the next execution's first.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { DistilleryError } from '../base/errors';
import type { EventsFileLine, WorkerEvent } from './protocol';

/** Event types after which the file is flushed to disk: the task's outcome must survive a crash. */
const SYNCED_TYPES: ReadonlySet<WorkerEvent['type']> = new Set(['done', 'error']);

export interface EventFileSinkOptions {
  /** When this execution of the task started (ms since the epoch); the time of opening by default. */
  execution?: number;
  /** The clock the lines' `time` is read from; tests replace it. */
  now?: () => number;
}

/** Appends a worker's events to an events file, one JSON line per event. */
export class EventFileSink {
  private fd: number | undefined;
  private readonly execution: number;
  private readonly now: () => number;

  /** Opens (creating if needed) `path` for appending; STORAGE_NOT_WRITABLE names the file when it cannot. */
  constructor(
    readonly path: string,
    options: EventFileSinkOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.execution = options.execution ?? this.now();
    try {
      this.fd = openSync(path, 'a+');
      this.closeTornLine(this.fd);
    } catch (error) {
      if (this.fd !== undefined) closeSync(this.fd);
      throw notWritable(path, 'open', error);
    }
  }

  /**
   * Appends one event. `done` and `error` are flushed to disk before this returns, so the task's
   * outcome is on disk before the process exits.
   */
  write(event: WorkerEvent): void {
    const fd = this.fd;
    if (fd === undefined) throw new DistilleryError('INTERNAL', `Events file ${this.path} is closed`);
    const line: EventsFileLine = { time: this.now(), execution: this.execution, event };
    writeWhole(fd, this.path, Buffer.from(`${JSON.stringify(line)}\n`, 'utf8'));
    if (SYNCED_TYPES.has(event.type)) sync(fd, this.path);
  }

  /** Flushes to disk and closes; writing afterwards is an error. Safe to call twice. */
  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    try {
      sync(fd, this.path);
    } finally {
      closeSync(fd);
    }
  }

  /** A writer killed mid-line left bytes after the last newline: end them, so they stay apart. */
  private closeTornLine(fd: number): void {
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] !== 0x0a) writeWhole(fd, this.path, Buffer.from('\n'));
  }
}

/**
 * Writes all of `bytes`. A regular file takes a whole line in one write; the loop covers the short
 * write a full disk or a signal can cause, where the tail then follows at once.
 */
function writeWhole(fd: number, path: string, bytes: Buffer): void {
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  } catch (error) {
    throw notWritable(path, 'append to', error);
  }
}

function sync(fd: number, path: string): void {
  try {
    fsyncSync(fd);
  } catch (error) {
    // Some shared filesystems refuse fsync on some mounts; the write itself went through.
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return;
    throw notWritable(path, 'flush', error);
  }
}

function notWritable(path: string, doing: string, error: unknown): DistilleryError {
  const reason = error instanceof Error ? error.message : String(error);
  return new DistilleryError(
    'STORAGE_NOT_WRITABLE',
    `Cannot ${doing} the events file ${path}: ${reason}`,
    { file: path, expected: 'a writable file in the task folder', received: reason },
    { cause: error },
  );
}
