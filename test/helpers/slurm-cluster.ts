/**
 * The SLURM suites' common ground: whether SLURM is installed, the single-node cluster of
 * test/cluster/slurm.sh, and polling, since SLURM tells of state changes only when asked.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { REPO_ROOT } from './cli';

/** The script that starts, stops and reports on the test cluster. */
export const CLUSTER_SCRIPT = join(REPO_ROOT, 'test', 'cluster', 'slurm.sh');

/** Whether an executable named `command` is in a folder on PATH. */
export function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((folder) => {
    try {
      accessSync(join(folder, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Starts the test cluster unless it runs already; returns this process's environment pointed at it. */
export function startCluster(): NodeJS.ProcessEnv {
  const started = execFileSync(CLUSTER_SCRIPT, ['start'], { encoding: 'utf8', timeout: 120_000 });
  const conf = /export SLURM_CONF=(\S+)/.exec(started)?.[1];
  if (!conf) throw new Error(`slurm.sh start did not say where slurm.conf is:\n${started}`);
  return { ...process.env, SLURM_CONF: conf };
}

/** Waits until `done` holds for what `read` gives, reading again every `everyMs`. */
export type Until = <T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs?: number,
) => Promise<T>;

/**
 * An {@link Until} that reads every `everyMs` and, after `timeoutMs` (60 s unless told), throws
 * naming `what` and the last value it read.
 */
export function pollingEvery(everyMs: number): Until {
  return async (read, done, what, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    let value = await read();
    while (!done(value)) {
      if (Date.now() > deadline)
        throw new Error(`Timed out waiting for ${what}; last seen: ${JSON.stringify(value)}`);
      await delay(everyMs);
      value = await read();
    }
    return value;
  };
}
