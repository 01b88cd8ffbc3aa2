/**
 * The events file of a worker with no IPC channel (worker/event-file.ts) and the runner's follower
 * of it (jobs/executors/event-follower.ts), on real files: a writer that appends in chunks which
 * split lines, a writer killed mid-line, a follower that restarts from an offset, polling alone,
 * and a filesystem that shows a file's size before its bytes.
 */
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { waitFor } from '../../main/base/event';
import {
  EventFileFollower,
  type FollowedEvent,
  type SkippedLine,
} from '../../main/jobs/executors/event-follower';
import { EventFileSink } from '../../main/worker/event-file';
import { EVENTS_FILE, type EventsFileLine, type WorkerEvent } from '../../main/worker/protocol';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

const log = (index: number, message = `line ${index}`): WorkerEvent => ({
  type: 'log',
  taskId: 'train',
  level: 'info',
  message,
  time: 1_700_000_000_000 + index,
});

/** The bytes a sink writes for `events`, one JSON line each. */
function lines(events: WorkerEvent[], execution = 1): Buffer {
  return Buffer.from(
    events
      .map(
        (event, index) =>
          `${JSON.stringify({ time: 10 + index, execution, event } satisfies EventsFileLine)}\n`,
      )
      .join(''),
  );
}

/** Collects what a follower delivers. */
function record(follower: EventFileFollower): {
  events: FollowedEvent[];
  skipped: SkippedLine[];
  errors: DistilleryError[];
} {
  const seen = {
    events: [] as FollowedEvent[],
    skipped: [] as SkippedLine[],
    errors: [] as DistilleryError[],
  };
  follower.onDidEvent((event) => seen.events.push(event));
  follower.onDidSkip((line) => seen.skipped.push(line));
  follower.onDidError((error) => seen.errors.push(error));
  return seen;
}

/** Resolves once `follower` has delivered `count` events in all. */
function eventsReach(
  follower: EventFileFollower,
  seen: { events: FollowedEvent[] },
  count: number,
): Promise<unknown> {
  if (seen.events.length >= count) return Promise.resolve();
  return waitFor(follower.onDidEvent, () => seen.events.length >= count);
}

describe('EventFileFollower', () => {
  ensureNoLeaks();
  let dir: string;
  let cleanup: () => void;
  let file: string;

  beforeEach(() => {
    ({ dir, cleanup } = makeTempDir('distillery-follower-'));
    file = join(dir, EVENTS_FILE);
  });
  afterEach(() => cleanup());

  it('delivers each event once, in order, however the writer splits its lines', async () => {
    const events = Array.from({ length: 300 }, (_, index) =>
      log(index, `step ${index} ${'é'.repeat(index % 7)}`),
    );
    const bytes = lines(events);
    writeFileSync(file, '');
    const follower = new EventFileFollower(file, { watch: false, pollIntervalMs: 60_000 });
    const seen = record(follower);
    // Chunks of 1 to 97 bytes: lines split anywhere, UTF-8 characters included.
    let position = 0;
    let chunk = 1;
    const fd = openSync(file, 'a');
    while (position < bytes.length) {
      const end = Math.min(bytes.length, position + chunk);
      writeSync(fd, bytes.subarray(position, end));
      position = end;
      chunk = (chunk * 31) % 97 || 1;
      await follower.readNow();
      // Only whole lines count: every event delivered so far ends at or before what was written.
      expect(seen.events.at(-1)?.nextOffset ?? 0).toBeLessThanOrEqual(position);
    }
    closeSync(fd);
    await follower.readNow();
    follower.dispose();
    expect(seen.events.map((item) => item.event)).toEqual(events);
    expect(seen.skipped).toEqual([]);
    // Offsets tile the file: each line starts where the previous one ended.
    seen.events.forEach((item, index) => expect(item.offset).toBe(seen.events[index - 1]?.nextOffset ?? 0));
    expect(follower.offset).toBe(bytes.length);
  });

  it('keeps a partial last line until its newline arrives', async () => {
    const [first, second] = [lines([log(0)]), lines([log(1)])];
    writeFileSync(file, Buffer.concat([first, second.subarray(0, 20)]));
    const follower = new EventFileFollower(file, { watch: false });
    const seen = record(follower);
    await follower.readNow();
    expect(seen.events.map((item) => item.event)).toEqual([log(0)]);
    expect(follower.offset).toBe(first.length);
    writeFileSync(file, second.subarray(20), { flag: 'a' });
    await follower.readNow();
    follower.dispose();
    expect(seen.events.map((item) => item.event)).toEqual([log(0), log(1)]);
  });

  it('goes on from the offset an earlier follower reached, neither losing nor repeating', async () => {
    const events = Array.from({ length: 20 }, (_, index) => log(index));
    const bytes = lines(events);
    writeFileSync(file, bytes.subarray(0, bytes.indexOf('\n', 700) + 1));
    const before = new EventFileFollower(file, { watch: false });
    const first = record(before);
    await before.readNow();
    const resumeAt = first.events.at(-1)!.nextOffset;
    expect(before.offset).toBe(resumeAt);
    before.dispose();

    writeFileSync(file, bytes.subarray(resumeAt), { flag: 'a' });
    const after = new EventFileFollower(file, { watch: false, offset: resumeAt });
    const second = record(after);
    await after.readNow();
    after.dispose();
    expect([...first.events, ...second.events].map((item) => item.event)).toEqual(events);
    expect(second.events[0]?.offset).toBe(resumeAt);
  });

  it('follows a file that does not exist yet, by polling alone', async () => {
    const follower = new EventFileFollower(file, { watch: false, pollIntervalMs: 20 });
    const seen = record(follower);
    follower.start();
    const sink = new EventFileSink(file);
    sink.write(log(0));
    sink.write({ type: 'progress', taskId: 'train', done: 1, total: 2, etaSeconds: null });
    await eventsReach(follower, seen, 2);
    sink.write({ type: 'done', taskId: 'train', summary: { accuracy: 0.9 } });
    sink.close();
    await eventsReach(follower, seen, 3);
    follower.dispose();
    expect(seen.events.map((item) => item.event.type)).toEqual(['log', 'progress', 'done']);
    expect(seen.errors).toEqual([]);
  });

  it('hears of growth through fs.watch before the next poll', async () => {
    writeFileSync(file, '');
    // A poll an hour away: only the watch can deliver within the test.
    const follower = new EventFileFollower(file, { pollIntervalMs: 3_600_000 });
    const seen = record(follower);
    follower.start();
    const sink = new EventFileSink(file);
    for (let index = 0; index < 5; index++) {
      sink.write(log(index));
      await eventsReach(follower, seen, index + 1);
    }
    sink.close();
    follower.dispose();
    expect(seen.events.map((item) => item.event)).toEqual([0, 1, 2, 3, 4].map((index) => log(index)));
  });

  it('skips the torn line of a writer killed mid-line, and reads the next execution whole', async () => {
    const whole = lines([log(0)], 1);
    const torn = lines([log(1)], 1).subarray(0, 30);
    writeFileSync(file, Buffer.concat([whole, torn]));
    // The next execution's sink closes the torn line before appending.
    const sink = new EventFileSink(file, { execution: 2 });
    sink.write(log(2));
    sink.close();
    const follower = new EventFileFollower(file, { watch: false });
    const seen = record(follower);
    await follower.readNow();
    follower.dispose();
    expect(seen.events.map((item) => [item.execution, item.event])).toEqual([
      [1, log(0)],
      [2, log(2)],
    ]);
    expect(seen.skipped).toHaveLength(1);
    expect(seen.skipped[0]).toMatchObject({
      offset: whole.length,
      nextOffset: whole.length + torn.length + 1,
    });
    expect(seen.skipped[0]?.reason).toContain('torn line');
    expect(seen.skipped[0]?.text).toBe(torn.toString('utf8'));
  });

  it('skips lines that are not events and says why', async () => {
    writeFileSync(
      file,
      Buffer.concat([
        lines([log(0)]),
        Buffer.from('[1,2]\n{"time":1}\n{"time":1,"execution":1,"event":{"type":"nonsense"}}\n\n'),
        lines([log(1)]),
      ]),
    );
    const follower = new EventFileFollower(file, { watch: false });
    const seen = record(follower);
    await follower.readNow();
    follower.dispose();
    expect(seen.events.map((item) => item.event)).toEqual([log(0), log(1)]);
    expect(seen.skipped.map((line) => line.reason)).toEqual([
      'not a JSON object',
      'no numeric "time" and "execution"',
      expect.stringContaining('not a worker event'),
    ]);
  });

  it('reads a line again while the filesystem shows zeros where its bytes will be', async () => {
    const first = lines([log(0)]);
    const second = lines([log(1)]);
    // What NFS can show for a moment: the new size, with the new bytes still zeros.
    writeFileSync(file, Buffer.concat([first, Buffer.alloc(second.length - 1), Buffer.from('\n')]));
    const follower = new EventFileFollower(file, { watch: false });
    const seen = record(follower);
    await follower.readNow();
    expect(seen.events.map((item) => item.event)).toEqual([log(0)]);
    expect(seen.skipped).toEqual([]);
    expect(follower.offset).toBe(first.length);
    const fd = openSync(file, 'r+');
    writeSync(fd, second, 0, second.length, first.length);
    closeSync(fd);
    await follower.readNow();
    follower.dispose();
    expect(seen.events.map((item) => item.event)).toEqual([log(0), log(1)]);
  });

  it('skips zeros that stay, once they have stayed longer than staleLineMs', async () => {
    writeFileSync(file, Buffer.concat([Buffer.alloc(40), Buffer.from('\n'), lines([log(0)])]));
    const follower = new EventFileFollower(file, { watch: false, staleLineMs: 0 });
    const seen = record(follower);
    await follower.readNow();
    follower.dispose();
    expect(seen.skipped).toHaveLength(1);
    expect(seen.events.map((item) => item.event)).toEqual([log(0)]);
  });

  it('reports a file that shrank, once, and delivers nothing from it', async () => {
    writeFileSync(file, lines([log(0), log(1)]));
    const follower = new EventFileFollower(file, { watch: false });
    const seen = record(follower);
    await follower.readNow();
    truncateSync(file, 10);
    await follower.readNow();
    await follower.readNow();
    follower.dispose();
    expect(seen.events).toHaveLength(2);
    expect(seen.errors.map((error) => error.code)).toEqual(['EVENTS_FILE_INVALID']);
    expect(seen.errors[0]?.message).toContain('shrank');
    expect(seen.errors[0]?.details.file).toBe(file);
  });

  it('refuses an offset that is not a byte count', () => {
    let error: unknown;
    try {
      new EventFileFollower(file, { offset: -1 }).dispose();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DistilleryError);
    expect((error as DistilleryError).code).toBe('EVENTS_FILE_INVALID');
  });

  it('delivers nothing once disposed', async () => {
    writeFileSync(file, '');
    const follower = new EventFileFollower(file, { pollIntervalMs: 10 });
    const seen = record(follower);
    follower.start();
    follower.dispose();
    writeFileSync(file, lines([log(0)]), { flag: 'a' });
    await follower.readNow();
    expect(seen.events).toEqual([]);
  });
});

describe('EventFileSink', () => {
  ensureNoLeaks();
  let dir: string;
  let cleanup: () => void;

  beforeEach(() => {
    ({ dir, cleanup } = makeTempDir('distillery-sink-'));
  });
  afterEach(() => cleanup());

  it('writes one JSON line per event, with its time and execution', () => {
    const file = join(dir, EVENTS_FILE);
    let clock = 100;
    const sink = new EventFileSink(file, { execution: 7, now: () => clock++ });
    sink.write(log(0));
    sink.write({ type: 'error', taskId: 'train', error: { code: 'TASK_FAILED', message: 'boom' } });
    sink.close();
    sink.close();
    const written = readFileSync(file, 'utf8').split('\n');
    expect(written.at(-1)).toBe('');
    expect(written.slice(0, -1).map((line) => JSON.parse(line) as EventsFileLine)).toEqual([
      { time: 100, execution: 7, event: log(0) },
      {
        time: 101,
        execution: 7,
        event: { type: 'error', taskId: 'train', error: { code: 'TASK_FAILED', message: 'boom' } },
      },
    ]);
  });

  it('refuses to write once closed, and names a file it cannot open', () => {
    const sink = new EventFileSink(join(dir, EVENTS_FILE));
    sink.close();
    expect(() => sink.write(log(0))).toThrow(/closed/);
    let error: unknown;
    try {
      new EventFileSink(dir);
    } catch (caught) {
      error = caught;
    }
    expect((error as DistilleryError).code).toBe('STORAGE_NOT_WRITABLE');
    expect((error as DistilleryError).details.file).toBe(dir);
  });
});
