/**
 * A leak check in the manner of VS Code's `ensureNoDisposablesAreLeakedInTestSuite`: call
 * `ensureNoLeaks()` at the top of a `describe` and each of its tests fails when it leaves behind a
 * disposable it created and never disposed, or a child process (of this process, or of one of its
 * children) that is still alive after the test.
 *
 * Child processes are found by reading `/proc`, not by wrapping `child_process`: builtin ESM
 * bindings cannot be patched reliably, and `/proc` also sees processes that a child spawned (the
 * workers of a `distillery serve` or CLI subprocess), whatever API spawned them. A process whose
 * parent exits is reparented out of this tree, so each test also tags the environment its
 * processes inherit, and descendants are sampled while it runs; every one found is checked by pid
 * and start time at the end.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach } from 'vitest';
import { setDisposableTracker, type IDisposable, type IDisposableTracker } from '../../main/base/lifecycle';

/** A disposable created while the tracker was installed and not disposed since. */
export interface DisposableLeak {
  /** Class name of the leaked object (`FunctionDisposable` for a `toDisposable` result). */
  className: string;
  /** Where it was created, without the tracker's own frames. */
  creationStack: string;
}

/** Frames of the tracker itself, the test runner and Node, which say nothing about who created it. */
const UNINFORMATIVE_FRAMES =
  /[\\/](?:main[\\/]base[\\/]lifecycle|test[\\/]helpers[\\/]leak-check)\.ts|[\\/]node_modules[\\/]|\(node:internal|at new Promise \(<anonymous>\)/;
const MAX_STACK_FRAMES = 12;

function creationStack(): string {
  const previousLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = MAX_STACK_FRAMES + 8;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = previousLimit;
  return stack
    .split('\n')
    .slice(1)
    .filter((line) => !UNINFORMATIVE_FRAMES.test(line))
    .slice(0, MAX_STACK_FRAMES)
    .join('\n');
}

/**
 * Records every disposable created while it is installed and forgets it when it is disposed.
 * What is left are leaks; members of a leaked owner are reported through their owner only.
 */
export class DisposableLeakTracker implements IDisposableTracker {
  private readonly living = new Map<IDisposable, string>();
  private readonly parents = new WeakMap<IDisposable, IDisposable>();
  private readonly singletons = new WeakSet<IDisposable>();

  trackDisposable(disposable: IDisposable): void {
    this.living.set(disposable, creationStack());
  }

  setParent(child: IDisposable, parent: IDisposable | null): void {
    if (parent) this.parents.set(child, parent);
    else this.parents.delete(child);
  }

  markAsDisposed(disposable: IDisposable): void {
    this.living.delete(disposable);
  }

  markAsSingleton(disposable: IDisposable): void {
    this.singletons.add(disposable);
  }

  /** Disposables still alive, leaving out members of leaked owners and anything a singleton owns. */
  leaks(): DisposableLeak[] {
    const leaking = [...this.living.keys()].filter((disposable) => !this.ownedBySingleton(disposable));
    const leakingSet = new Set(leaking);
    return leaking
      .filter((disposable) => {
        const parent = this.parents.get(disposable);
        return !(parent && leakingSet.has(parent));
      })
      .map((disposable) => ({
        className: disposable.constructor.name || 'anonymous disposable',
        creationStack: this.living.get(disposable) ?? '',
      }));
  }

  private ownedBySingleton(disposable: IDisposable): boolean {
    const seen = new Set<IDisposable>();
    for (let current: IDisposable | undefined = disposable; current; current = this.parents.get(current)) {
      if (this.singletons.has(current)) return true;
      // Ownership has no cycles by construction; the guard only keeps a bug from hanging a test.
      if (seen.has(current)) return false;
      seen.add(current);
    }
    return false;
  }
}

/** One process as `/proc/<pid>/stat` describes it. */
export interface ProcessEntry {
  pid: number;
  parentPid: number;
  /** Kernel ticks since boot when it started: with the pid, identifies it across pid reuse. */
  startTime: string;
  /** Its command line, for the report. */
  command: string;
}

/** Every live (non-zombie) process, by pid; undefined where there is no `/proc`. */
function readProcessTable(): Map<number, ProcessEntry> | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const table = new Map<number, ProcessEntry>();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited while we were reading
    }
    // The command name in parentheses may hold spaces and parentheses; fields follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [state, parentPid] = fields;
    const startTime = fields[19];
    if (state === undefined || parentPid === undefined || startTime === undefined || state === 'Z') continue;
    table.set(Number(name), { pid: Number(name), parentPid: Number(parentPid), startTime, command: '' });
  }
  return table;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Live descendants of `root` (children, their children, …); undefined where there is no `/proc`. */
export function liveDescendants(root = process.pid): ProcessEntry[] | undefined {
  const table = readProcessTable();
  if (!table) return undefined;
  const children = new Map<number, ProcessEntry[]>();
  for (const entry of table.values()) {
    const siblings = children.get(entry.parentPid);
    if (siblings) siblings.push(entry);
    else children.set(entry.parentPid, [entry]);
  }
  const found: ProcessEntry[] = [];
  const pending = [root];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      pending.push(child.pid);
    }
  }
  return found;
}

const key = (entry: ProcessEntry): string => `${entry.pid}:${entry.startTime}`;

/**
 * Environment variable the processes started during a watch inherit (and pass on to theirs), so
 * the watch still finds one whose parent exited and left it to be reparented outside our tree.
 */
export const LEAK_CHECK_TAG_VARIABLE = 'DISTILLERY_LEAK_CHECK_TAG';
let watchCount = 0;

function hasEnvironmentEntry(pid: number, entry: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(entry);
  } catch {
    return false; // another user's process, or it has exited
  }
}

/**
 * Watches the processes this process starts: remembers which descendants existed when it began,
 * tags the environment new ones inherit, samples descendants while it runs, and at the end names
 * those still alive.
 */
export class ChildProcessWatch {
  private readonly baseline = new Set<string>();
  private readonly seen = new Map<string, ProcessEntry>();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly tagEntry: string;
  private readonly previousTag: string | undefined;
  private stopped = false;
  /** False where there is no `/proc` to read; the watch then reports nothing. */
  readonly supported: boolean;

  constructor(sampleIntervalMs = 200) {
    const initial = liveDescendants();
    this.supported = initial !== undefined;
    for (const entry of initial ?? []) this.baseline.add(key(entry));
    const tag = `${process.pid}.${++watchCount}.${Date.now()}`;
    this.tagEntry = `${LEAK_CHECK_TAG_VARIABLE}=${tag}`;
    this.previousTag = process.env[LEAK_CHECK_TAG_VARIABLE];
    process.env[LEAK_CHECK_TAG_VARIABLE] = tag;
    if (this.supported) {
      this.timer = setInterval(() => this.sample(), sampleIntervalMs);
      // The watch must never be what keeps a test process alive.
      this.timer.unref();
    }
  }

  /**
   * Records the descendants alive now. Sampling catches processes started with an environment of
   * their own that were orphaned before the end; the tag catches every other orphan.
   */
  sample(): void {
    for (const entry of liveDescendants() ?? []) this.remember(entry);
  }

  private remember(entry: ProcessEntry): void {
    const id = key(entry);
    if (this.baseline.has(id) || this.seen.has(id)) return;
    this.seen.set(id, { ...entry, command: commandOf(entry.pid) });
  }

  /** Processes started since the watch began that are alive now, wherever they were reparented. */
  survivors(): ProcessEntry[] {
    this.sample();
    const table = readProcessTable();
    if (!table) return [];
    for (const entry of table.values()) {
      if (entry.pid === process.pid || this.baseline.has(key(entry)) || this.seen.has(key(entry))) continue;
      if (hasEnvironmentEntry(entry.pid, this.tagEntry)) this.remember(entry);
    }
    const alive: ProcessEntry[] = [];
    for (const entry of this.seen.values()) {
      const now = table.get(entry.pid);
      // Its parent and command as they are now: it may have been reparented, or exec'd since.
      if (now?.startTime === entry.startTime)
        alive.push({ ...now, command: commandOf(entry.pid) || entry.command });
    }
    return alive;
  }

  /**
   * Survivors after waiting up to `graceMs` for them to exit: a worker sent SIGKILL by `dispose`
   * takes a moment to die, and that is not a leak.
   */
  async survivorsAfter(graceMs: number): Promise<ProcessEntry[]> {
    const deadline = Date.now() + graceMs;
    let alive = this.survivors();
    while (alive.length > 0 && Date.now() < deadline) {
      await delay(50);
      alive = this.survivors();
    }
    return alive;
  }

  /** Stops sampling and takes the tag out of the environment new processes inherit. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.previousTag === undefined) delete process.env[LEAK_CHECK_TAG_VARIABLE];
    else process.env[LEAK_CHECK_TAG_VARIABLE] = this.previousTag;
  }
}

const MAX_REPORTED = 10;

/** The failure message for what leaked, or undefined when nothing did. */
export function describeLeaks(
  disposables: readonly DisposableLeak[],
  processes: readonly ProcessEntry[] = [],
  graceMs = 0,
): string | undefined {
  const parts: string[] = [];
  if (disposables.length > 0) {
    const listed = disposables
      .slice(0, MAX_REPORTED)
      .map((leak) => `  ${leak.className}, created\n${leak.creationStack.replace(/^/gm, '    ')}`);
    if (disposables.length > MAX_REPORTED) listed.push(`  … and ${disposables.length - MAX_REPORTED} more`);
    parts.push(
      `${disposables.length} disposable(s) created during the test were not disposed:\n${listed.join('\n')}`,
    );
  }
  if (processes.length > 0) {
    const listed = processes.map(
      (entry) => `  pid ${entry.pid} (parent ${entry.parentPid}): ${entry.command || '(command unknown)'}`,
    );
    parts.push(
      `${processes.length} child process(es) started during the test were still alive ${graceMs} ms after it:\n${listed.join('\n')}`,
    );
  }
  return parts.length > 0 ? parts.join('\n\n') : undefined;
}

export interface LeakCheckOptions {
  /** How long a process started by the test may take to exit after it ends. Default 5000 ms. */
  processGraceMs?: number;
}

/**
 * Fails every test of the enclosing `describe` that leaks a disposable or a child process. Call it
 * first in the `describe`, so its `afterEach` runs after the suite's own (vitest runs after-hooks
 * last registered first) and sees what that cleanup left. Fixtures must be created per test
 * (`beforeEach`): members a suite-wide fixture registers during a test are reported too. Leaked
 * processes are killed after they are reported, so one leak does not spill into the next test.
 */
export function ensureNoLeaks(options: LeakCheckOptions = {}): void {
  const graceMs = options.processGraceMs ?? 5000;
  let tracker: DisposableLeakTracker | undefined;
  let watch: ChildProcessWatch | undefined;

  beforeEach(() => {
    // A suite afterEach that threw skipped ours last time; do not let its watch keep sampling.
    watch?.stop();
    tracker = new DisposableLeakTracker();
    setDisposableTracker(tracker);
    watch = new ChildProcessWatch();
  });

  afterEach(async (context) => {
    setDisposableTracker(null);
    const disposables = tracker?.leaks() ?? [];
    const processes = (await watch?.survivorsAfter(graceMs)) ?? [];
    watch?.stop();
    tracker = undefined;
    watch = undefined;
    for (const entry of processes) {
      try {
        process.kill(entry.pid, 'SIGKILL');
      } catch {
        // Exited between the check and the kill.
      }
    }
    // A failed test usually leaves its run unfinished; the leak would only bury the real failure.
    if (context.task.result?.state === 'fail') return;
    const message = describeLeaks(disposables, processes, graceMs);
    if (message) throw new Error(message);
  });
}
