/**
 * The checkpoints a PBT sweep keeps in its own folder: a segment's checkpoint copied out of the
 * trial's task folder, for exploits to copy and for paused trials to continue from, removed once
 * nothing can use it.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { onUnexpectedError } from '../base/unexpected-error';
import { CHECKPOINTS_DIR, keptKey, type ActiveSweep, type SweepHost } from './sweep-state';

/**
 * Copies a segment's checkpoint out of the trial's task folder (which keeps only its newest
 * checkpoints) into the sweep's folder, where it stays while an exploit may copy it or a queued
 * trial waits to start from it. Each copy has a folder of its own and is never overwritten.
 */
export function keep(
  host: SweepHost,
  state: ActiveSweep,
  trial: number,
  resource: number,
  checkpoint: string,
): string | undefined {
  const folder = join(
    host.folders.dir(state.id),
    CHECKPOINTS_DIR,
    `trial-${trial}`,
    `epoch-${resource}-${randomBytes(3).toString('hex')}`,
  );
  const target = join(folder, basename(checkpoint));
  try {
    mkdirSync(folder, { recursive: true });
    cpSync(checkpoint, target, { recursive: true });
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    onUnexpectedError(error);
    return undefined;
  }
  state.kept.set(keptKey(trial, resource), target);
  state.keptPaths.add(target);
  return target;
}

/** Removes kept checkpoints no future exploit can copy and no queued trial waits to start from. */
export function pruneKept(state: ActiveSweep): void {
  if (state.sweep.scheduler.type !== 'pbt') return;
  const needed = new Set<string>();
  for (const { trial, resource } of state.scheduler.retainedCheckpoints()) {
    const path = state.kept.get(keptKey(trial, resource));
    if (path) needed.add(path);
  }
  for (const trial of state.trials.values()) if (trial.next) needed.add(trial.next.checkpoint);
  for (const [key, path] of state.kept) if (!needed.has(path)) state.kept.delete(key);
  for (const path of state.keptPaths) {
    if (needed.has(path)) continue;
    state.keptPaths.delete(path);
    rmSync(dirname(path), { recursive: true, force: true });
  }
}

/** A trial's kept checkpoint folders, for tests and `gc` checks: `<sweep>/checkpoints/trial-i/epoch-r/step-n`. */
export function keptCheckpoints(
  sweepsDir: string,
  sweepId: string,
): Array<{ trial: number; resource: number; path: string }> {
  const root = join(sweepsDir, sweepId, CHECKPOINTS_DIR);
  if (!existsSync(root)) return [];
  const found: Array<{ trial: number; resource: number; path: string }> = [];
  for (const trialDir of readdirSync(root)) {
    const trial = Number(trialDir.replace('trial-', ''));
    for (const epochDir of readdirSync(join(root, trialDir))) {
      const resource = Number(/^epoch-(\d+)/.exec(epochDir)?.[1]);
      for (const step of readdirSync(join(root, trialDir, epochDir)))
        found.push({ trial, resource, path: join(root, trialDir, epochDir, step) });
    }
  }
  return found.sort((a, b) => a.trial - b.trial || a.resource - b.resource);
}
