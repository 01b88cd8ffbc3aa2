/**
 * Follows a worker's events file (`events.jsonl`, written by worker/event-file.ts) as it grows, as
 * `tail -F` would: the runner's side of an executor whose worker has no IPC channel to it (a SLURM
 * job on a compute node). Events come out in file order, each exactly once; a follower started at
 * the byte offset an earlier one reached (`FollowedEvent.nextOffset`) goes on from there, so a
 * runner that restarts neither loses nor repeats events.
 *
 * Growth is noticed through `fs.watch` on the task folder and, because shared filesystems (NFS)
 * deliver no inotify events for writes made on another machine, by polling too. The file is opened
 * afresh for every read: on NFS, opening is what revalidates the cached size and pages
 * (close-to-open consistency).
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { DistilleryError } from '../../base/errors';
import { Emitter } from '../../base/event';
import { Disposable, toDisposable } from '../../base/lifecycle';
import { decodeEvent, type EventsFileLine, type WorkerEvent } from '../../worker/protocol';

/** One event read from the file, with where its line lies. */
export interface FollowedEvent {
  event: WorkerEvent;
  /** When the worker wrote it (ms since the epoch). */
  time: number;
  /** When the worker process that wrote it started (ms since the epoch): one per execution. */
  execution: number;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** Byte offset just past the line's newline: where a follower resumes to read the next event. */
  nextOffset: number;
}

/** A whole line that is not an event: a torn line left by a killed writer, or damage. */
export interface SkippedLine {
  offset: number;
  nextOffset: number;
  reason: string;
  /** The line's start, for the log. */
  text: string;
}

export interface EventFollowerOptions {
  /** Byte offset to start reading at: 0 (the default), or a `nextOffset` an earlier follower reached. */
  offset?: number;
  /** How often the file is checked for growth, whether or not `fs.watch` reports it (ms, default 500). */
  pollIntervalMs?: number;
  /** Whether to watch the folder for changes besides polling (default true). */
  watch?: boolean;
  /**
   * How long a line that holds NUL bytes is read again before it is skipped as damage (ms, default
   * 5000). NFS can show a file's new size before its new bytes, which then read as zeros; the
   * writer never writes a NUL byte, so such a line is not there yet rather than wrong.
   */
  staleLineMs?: number;
}

const READ_CHUNK_BYTES = 64 * 1024;
const SKIPPED_TEXT_CHARS = 200;
const NEWLINE = 0x0a;

/**
 * Tails one events file. Subscribe, then `start()`; `readNow()` delivers everything written so far
 * (call it once the job has ended, before disposing); `dispose()` stops watching and polling.
 */
export class EventFileFollower extends Disposable {
  private readonly _onDidEvent = this._register(new Emitter<FollowedEvent>());
  /** Each event of the file, in order, once. */
  readonly onDidEvent = this._onDidEvent.event;
  private readonly _onDidSkip = this._register(new Emitter<SkippedLine>());
  /** Each whole line that is not an event; reading goes on after it. */
  readonly onDidSkip = this._onDidSkip.event;
  private readonly _onDidError = this._register(new Emitter<DistilleryError>());
  /** The file cannot be read (other than not existing yet) or it shrank; each distinct cause once. */
  readonly onDidError = this._onDidError.event;

  private readonly pollIntervalMs: number;
  private readonly useWatch: boolean;
  private readonly staleLineMs: number;
  /** Everything before this byte has been delivered (or skipped). */
  private consumed: number;
  /** Bytes read past `consumed` that do not end in a newline yet. */
  private pending: Buffer = Buffer.alloc(0);
  private stalledSince: number | undefined;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private disposed = false;
  private readonly reportedErrors = new Set<string>();

  constructor(
    readonly path: string,
    options: EventFollowerOptions = {},
  ) {
    super();
    this.consumed = options.offset ?? 0;
    if (!Number.isSafeInteger(this.consumed) || this.consumed < 0) {
      // Nothing to hold yet, but the tracked lifetime has begun: end it before refusing.
      this.dispose();
      throw new DistilleryError(
        'EVENTS_FILE_INVALID',
        `Cannot follow ${path} from offset ${this.consumed}: an offset is a byte count, 0 or more`,
        { file: path, expected: 'an integer ≥ 0', received: options.offset },
      );
    }
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.useWatch = options.watch ?? true;
    this.staleLineMs = options.staleLineMs ?? 5000;
    this._register(
      toDisposable(() => {
        this.disposed = true;
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
        this.watcher?.close();
        this.watcher = undefined;
      }),
    );
  }

  /** Byte offset up to which lines have been delivered: where a new follower would resume. */
  get offset(): number {
    return this.consumed;
  }

  /** Begins watching and polling, and reads what the file already holds. Calling it again does nothing. */
  start(): void {
    if (this.started || this.disposed) return;
    this.started = true;
    this.timer = setInterval(() => {
      if (this.useWatch && !this.watcher) this.startWatching();
      void this.pump();
    }, this.pollIntervalMs);
    if (this.useWatch) this.startWatching();
    void this.pump();
  }

  /**
   * Reads the file up to its current end and delivers every whole line in it; resolves once they
   * have been delivered. A partial last line stays for a later read.
   */
  readNow(): Promise<void> {
    return this.pump();
  }

  /** Asks for a pass over the file; a pass under way is followed by one more. */
  private pump(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    // A pass under way may have read past the end already, so another one follows it.
    this.readAgain = true;
    this.reading ??= this.drain();
    return this.reading;
  }

  private async drain(): Promise<void> {
    try {
      while (this.readAgain && !this.disposed) {
        this.readAgain = false;
        await this.readOnce();
      }
    } finally {
      // Cleared in the same step as the last check of `readAgain`, so no request falls between.
      this.reading = undefined;
    }
  }

  private startWatching(): void {
    const name = basename(this.path);
    try {
      const watcher = watch(dirname(this.path), (_type, changed) => {
        // Some platforms do not say which file changed; reading once too often costs one stat.
        if (changed === null || changed === name) void this.pump();
      });
      watcher.on('error', () => {
        // The folder went away or the watch broke: polling goes on, and re-establishes the watch.
        watcher.close();
        if (this.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = watcher;
    } catch {
      // No folder yet, or no watch support here: polling covers it, and retries the watch.
      this.watcher = undefined;
    }
  }

  private async readOnce(): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.reportReadError('open', error);
      return;
    }
    try {
      const { size } = await handle.stat();
      const known = this.consumed + this.pending.length;
      if (size < known) {
        this.report(
          'shrank',
          new DistilleryError(
            'EVENTS_FILE_INVALID',
            `Events file ${this.path} shrank from at least ${known} to ${size} bytes: it was replaced or truncated, so no further events are read from it`,
            { file: this.path, expected: `at least ${known} bytes`, received: size },
          ),
        );
        return;
      }
      const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      for (;;) {
        if (this.disposed) return;
        const position = this.consumed + this.pending.length;
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
        if (bytesRead === 0) break;
        this.pending = Buffer.concat([this.pending, chunk.subarray(0, bytesRead)]);
        if (!this.deliverLines()) break;
      }
    } catch (error) {
      this.reportReadError('read', error);
    } finally {
      await handle.close().catch(() => {
        // Closing a file opened for reading fails only if it is already closed; nothing is lost.
      });
    }
  }

  /** Delivers the whole lines in `pending`; false when a line is not readable yet (NUL bytes). */
  private deliverLines(): boolean {
    let start = 0;
    try {
      for (;;) {
        if (this.disposed) return false;
        const newline = this.pending.indexOf(NEWLINE, start);
        if (newline < 0) return true;
        const bytes = this.pending.subarray(start, newline);
        if (bytes.includes(0) && !this.staleLineExpired()) {
          // Read these bytes again next time: by then the filesystem shows what was written.
          this.pending = Buffer.alloc(0);
          start = 0;
          return false;
        }
        this.stalledSince = undefined;
        const offset = this.consumed;
        const nextOffset = offset + (newline - start) + 1;
        this.consumed = nextOffset;
        start = newline + 1;
        this.deliver(bytes.toString('utf8'), offset, nextOffset);
      }
    } finally {
      if (start > 0) this.pending = this.pending.subarray(start);
    }
  }

  private staleLineExpired(): boolean {
    const now = Date.now();
    this.stalledSince ??= now;
    return now - this.stalledSince >= this.staleLineMs;
  }

  private deliver(text: string, offset: number, nextOffset: number): void {
    // A blank line carries nothing; the writer's own torn-line repair can leave one.
    if (text.trim().length === 0) return;
    const parsed = parseLine(text);
    if (typeof parsed === 'string') {
      this._onDidSkip.fire({ offset, nextOffset, reason: parsed, text: text.slice(0, SKIPPED_TEXT_CHARS) });
      return;
    }
    this._onDidEvent.fire({ ...parsed, offset, nextOffset });
  }

  private reportReadError(doing: string, error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    const reason = error instanceof Error ? error.message : String(error);
    this.report(
      `${doing}:${code}`,
      new DistilleryError(
        'EVENTS_FILE_INVALID',
        `Cannot ${doing} the events file ${this.path}: ${reason}`,
        { file: this.path, expected: 'a readable file', received: reason },
        { cause: error },
      ),
    );
  }

  private report(key: string, error: DistilleryError): void {
    if (this.reportedErrors.has(key)) return;
    this.reportedErrors.add(key);
    this._onDidError.fire(error);
  }
}

/** The line as an event with its time and execution, or why it is not one. */
function parseLine(text: string): Omit<FollowedEvent, 'offset' | 'nextOffset'> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON (a torn line of a writer that was killed mid-line, or damage)';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const line = value as Partial<Record<keyof EventsFileLine, unknown>>;
  if (typeof line.time !== 'number' || typeof line.execution !== 'number') {
    return 'no numeric "time" and "execution"';
  }
  try {
    return { event: decodeEvent(line.event), time: line.time, execution: line.execution };
  } catch (error) {
    return `not a worker event: ${(error as Error).message}`;
  }
}
