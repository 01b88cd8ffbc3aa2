/**
 * Files in a run's folder that coordinate processes: `runner.pid` names the runner that owns a
 * running run; `cancel-requested` is how another process (`distillery cancel`) asks it to stop.
 *
 * Whether an owner is alive must survive pid reuse (a dead runner's pid given to an unrelated
 * process would otherwise keep its runs `running` for ever), so the owner file records the pid
 * together with the kernel's start time of that process (Linux: `/proc/<pid>/stat` field 22) and
 * the host. Where that cannot be checked (no `/proc`, or the owner is on another host sharing the
 * folder), the owner's heartbeat decides: a live runner touches its owner files every few seconds,
 * and one not touched for {@link LEASE_MS} is taken for dead.
 */
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Disposable, toDisposable } from '../base/lifecycle';
import { assertWritable, toStorageError } from '../registry/storage-errors';
import { metricsFilePath } from './metrics-file';

const CANCEL_MARKER = 'cancel-requested';
const OWNER_FILE = 'runner.pid';
/** How often a runner touches the owner files of its runs. */
export const HEARTBEAT_MS = 5_000;
/** An owner file not touched for this long names a dead runner, where pid checks cannot tell. */
export const LEASE_MS = 30_000;

/** What `runner.pid` holds (older versions wrote the bare pid). */
interface OwnerRecord {
  pid: number;
  /** Kernel start time of `pid` (clock ticks since boot), where `/proc` has it. */
  startTime?: string;
  host?: string;
  /** Unique per runner: tells runners apart inside one process. */
  token?: string;
}

/** Tokens of the runners alive in this process. */
const liveTokens = new Set<string>();

/** `/proc/<pid>/stat` field 22 (start time), undefined when the process does not exist or is a zombie. */
function procStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name in parentheses may hold spaces; the fields after it start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z') return undefined;
  return fields[19];
}

const HAS_PROC = existsSync('/proc/self/stat');
const OWN_START_TIME = HAS_PROC ? procStartTime(process.pid) : undefined;

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseOwner(text: string): OwnerRecord | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const value = JSON.parse(trimmed) as Partial<OwnerRecord>;
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
    const owner: OwnerRecord = { pid: value.pid };
    if (typeof value.startTime === 'string') owner.startTime = value.startTime;
    if (typeof value.host === 'string') owner.host = value.host;
    if (typeof value.token === 'string') owner.token = value.token;
    return owner;
  } catch {
    return undefined;
  }
}

export class RunFolders extends Disposable {
  /** This runner's token, written into the owner files it claims. */
  private readonly token = randomBytes(8).toString('hex');
  private readonly claimed = new Set<string>();

  constructor(private readonly runsDir: string) {
    super();
    try {
      mkdirSync(runsDir, { recursive: true });
    } catch (error) {
      throw toStorageError(error, runsDir, 'the runs folder');
    }
    liveTokens.add(this.token);
    const heartbeat = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    heartbeat.unref();
    this._register(
      toDisposable(() => {
        clearInterval(heartbeat);
        liveTokens.delete(this.token);
      }),
    );
  }

  dir(runId: string): string {
    return join(this.runsDir, runId);
  }

  taskDir(runId: string, nodeId: string): string {
    return join(this.dir(runId), nodeId);
  }

  /**
   * Marks this runner as the run's owner, creating the run folder; STORAGE_NOT_WRITABLE names the
   * folder when it cannot.
   */
  claim(runId: string): void {
    const dir = this.dir(runId);
    const owner: OwnerRecord = { pid: process.pid, host: hostname(), token: this.token };
    if (OWN_START_TIME !== undefined) owner.startTime = OWN_START_TIME;
    const temp = join(dir, `${OWNER_FILE}.${this.token}.tmp`);
    try {
      mkdirSync(dir, { recursive: true });
      // Written whole then renamed, so a reader never sees half an owner.
      writeFileSync(temp, JSON.stringify(owner));
      renameSync(temp, join(dir, OWNER_FILE));
    } catch (error) {
      rmSync(temp, { force: true });
      throw toStorageError(error, dir, 'the run folder', { runId });
    }
    this.claimed.add(runId);
  }

  release(runId: string): void {
    this.claimed.delete(runId);
    rmSync(join(this.dir(runId), OWNER_FILE), { force: true });
    this.clearCancel(runId);
  }

  /**
   * Creates the task folder and checks that the worker can write it (and the files and folders an
   * earlier attempt left in it), so that a read-only folder fails the task with its path instead of
   * crashing the worker. Returns the folder.
   */
  prepareTaskDir(runId: string, nodeId: string, details: Record<string, unknown> = {}): string {
    const dir = this.taskDir(runId, nodeId);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw toStorageError(error, dir, 'the task folder', details);
    }
    assertWritable(dir, 'the task folder', details);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) assertWritable(join(dir, entry.name), 'a folder in the task folder', details);
    }
    const metrics = metricsFilePath(dir);
    if (existsSync(metrics)) assertWritable(metrics, 'the metrics file', details);
    return dir;
  }

  /** Whether a runner other than this one, alive now, owns the run. */
  ownedElsewhere(runId: string): boolean {
    const owner = this.owner(runId);
    if (!owner || owner.token === this.token) return false;
    return this.isAlive(owner, join(this.dir(runId), OWNER_FILE));
  }

  requestCancel(runId: string): void {
    const marker = join(this.dir(runId), CANCEL_MARKER);
    try {
      writeFileSync(marker, String(process.pid));
    } catch (error) {
      throw toStorageError(error, marker, 'the cancel request', { runId });
    }
  }

  cancelRequested(runId: string): boolean {
    return existsSync(join(this.dir(runId), CANCEL_MARKER));
  }

  clearCancel(runId: string): void {
    rmSync(join(this.dir(runId), CANCEL_MARKER), { force: true });
  }

  private owner(runId: string): OwnerRecord | undefined {
    try {
      return parseOwner(readFileSync(join(this.dir(runId), OWNER_FILE), 'utf8'));
    } catch {
      return undefined;
    }
  }

  private isAlive(owner: OwnerRecord, file: string): boolean {
    if (owner.token !== undefined && liveTokens.has(owner.token)) return true;
    const sameHost = owner.host === undefined || owner.host === hostname();
    // A runner of this process whose token is gone was disposed without finishing its runs.
    if (sameHost && owner.pid === process.pid && owner.token !== undefined) return false;
    if (sameHost && HAS_PROC && owner.startTime !== undefined)
      return procStartTime(owner.pid) === owner.startTime;
    if (sameHost && !pidExists(owner.pid)) return false;
    // Files of older versions have no heartbeat to go by: a live pid is all they can tell.
    if (owner.token === undefined) return sameHost;
    return this.leaseFresh(file);
  }

  private leaseFresh(file: string): boolean {
    try {
      return Date.now() - statSync(file).mtimeMs < LEASE_MS;
    } catch {
      return false;
    }
  }

  private heartbeat(): void {
    const now = new Date();
    for (const runId of this.claimed) {
      try {
        utimesSync(join(this.dir(runId), OWNER_FILE), now, now);
      } catch {
        // The folder went away or turned read-only; the run itself reports that when it writes.
      }
    }
  }
}
