/**
 * What tells a long-running `distillery serve` to stop: SIGINT, SIGTERM, or the process that started
 * it (or one above that) going away. The last matters under wrappers: `npx`, `npm run` and `sh -c`
 * pass SIGTERM to their own child, a shell, which dies of it without passing it on; the server is
 * then orphaned and, unless it notices, keeps serving and keeps its workers training with nobody
 * to stop them.
 */
import { readFileSync } from 'node:fs';
import { toDisposable, type IDisposable } from '../base/lifecycle';

/** Why the server was asked to stop. */
export type StopReason = 'SIGINT' | 'SIGTERM' | 'parent-exit';

export interface StopSignalOptions {
  /** How often to look whether the processes that started us are still there. Default 500 ms. */
  parentPollMs?: number;
  /**
   * Watch the parent and its ancestors at all; default: when started through npm (`npx`, `npm run`),
   * whose shells swallow SIGTERM, or when DISTILLERY_STOP_WITH_PARENT=1. A server started directly
   * (`distillery serve &`, `nohup …`) outlives the shell that started it, as servers do.
   */
  watchParent?: boolean;
}

/** The parent of `pid` as /proc tells it; undefined once it has exited, or where there is no /proc. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return state === 'Z' || parent === undefined ? undefined : Number(parent);
  } catch {
    return undefined;
  }
}

/** Whether npm (`npx`, `npm run`) started this process, or the user asked to stop with the parent. */
export function startedThroughWrapper(env: NodeJS.ProcessEnv = process.env): boolean {
  return (
    env.DISTILLERY_STOP_WITH_PARENT === '1' ||
    (env.DISTILLERY_STOP_WITH_PARENT !== '0' &&
      (env.npm_execpath !== undefined || env.npm_lifecycle_event !== undefined))
  );
}

/** Beyond this many generations the chain is not followed (a guard, not a limit met in practice). */
const MAX_ANCESTORS = 64;

/** A process and the parent it had when the watch began. */
interface Link {
  pid: number;
  parent: number;
}

/**
 * This process and each of its ancestors up to init, with their parents. Beyond our own parent it
 * needs /proc; without it (not Linux) only the parent is watched.
 */
function ancestry(): Link[] {
  const links: Link[] = [{ pid: process.pid, parent: process.ppid }];
  for (let pid = process.ppid; pid > 1 && links.length < MAX_ANCESTORS;) {
    const parent = parentOf(pid);
    if (parent === undefined) break;
    links.push({ pid, parent });
    pid = parent;
  }
  return links;
}

/**
 * Whether a process we descend from has exited since `links` was taken: its child then has
 * another parent. Launchers between a wrapper and us (tsx's CLI, which runs the script in a child
 * of its own and relays signals; `npm run serve`'s launcher) outlive a dead wrapper just as we
 * would, so the whole chain is watched, not only our parent.
 */
function ancestorExited(links: readonly Link[]): boolean {
  return links.some(({ pid, parent }) => (pid === process.pid ? process.ppid : parentOf(pid)) !== parent);
}

/**
 * Calls `onStop` for each SIGINT and SIGTERM (the caller decides what a second one means), and
 * once when the parent process, or any process above it, exits.
 * Installing SIGINT/SIGTERM listeners replaces Node's default of dying at once, so the caller
 * must stop the process itself. Dispose to remove the listeners.
 */
export function watchStopSignals(
  onStop: (reason: StopReason) => void,
  options: StopSignalOptions = {},
): IDisposable {
  const onSigint = () => onStop('SIGINT');
  const onSigterm = () => onStop('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  let timer: NodeJS.Timeout | undefined;
  if (options.watchParent ?? startedThroughWrapper()) {
    const links = ancestry();
    timer = setInterval(() => {
      if (!ancestorExited(links)) return;
      clearInterval(timer);
      onStop('parent-exit');
    }, options.parentPollMs ?? 500);
    // Watching must never be what keeps the process alive.
    timer.unref();
  }
  return toDisposable(() => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    if (timer) clearInterval(timer);
  });
}
