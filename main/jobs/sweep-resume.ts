/**
 * What a sweep's records give back: a resumed sweep's trials, scheduler and kept checkpoints
 * rebuilt from its records, its unfinished trials queued again, and a sweep whose process died
 * settled so that it can be resumed.
 */
import { existsSync } from 'node:fs';
import type { ErrorInfo, SweepSummary } from '../../preload/contract';
import { onUnexpectedError } from '../base/unexpected-error';
import type { TrialEnd, TrialParams } from '../pipeline/sweep/index';
import type { TrialRecord } from '../registry/sweep-store';
import { keptCheckpoints } from './kept-checkpoints';
import { keptKey, type ActiveSweep, type SweepHost } from './sweep-state';
import { schedulerAdd } from './trial-scheduling';
import { endTrial } from './trial-settling';

/** Rebuilds a resumed sweep's trials, scheduler and kept checkpoints from its records. */
export function replay(host: SweepHost, state: ActiveSweep): void {
  for (const trial of host.store.trialRecords(state.id)) state.trials.set(trial.index, trial);
  state.nextIndex = state.trials.size === 0 ? 0 : Math.max(...state.trials.keys()) + 1;
  for (const event of host.store.events(state.id)) {
    switch (event.kind) {
      case 'add':
        state.scheduler.addTrial(event.trial, (event.data as { params: TrialParams }).params);
        break;
      case 'result': {
        state.scheduler.onResult(event.trial, event.resource ?? 0, event.value ?? Number.NaN);
        const data = event.data as
          { checkpoint?: string; inherited?: { resource: number; checkpoint: string } } | undefined;
        if (data?.checkpoint) state.kept.set(keptKey(event.trial, event.resource ?? 0), data.checkpoint);
        if (data?.inherited)
          state.kept.set(keptKey(event.trial, data.inherited.resource), data.inherited.checkpoint);
        break;
      }
      case 'end':
        state.scheduler.onTrialEnd(event.trial, (event.data as { end: TrialEnd }).end);
        break;
    }
  }
  for (const entry of keptCheckpoints(host.sweepsDir, state.id)) state.keptPaths.add(entry.path);
  for (const [key, path] of state.kept) if (!existsSync(path)) state.kept.delete(key);
}

/** Settles the sweep as interrupted when it is unsettled and no live process runs it. */
export function settleIfAbandoned(host: SweepHost, summary: SweepSummary): void {
  if (summary.status !== 'running' && summary.status !== 'queued') return;
  if (host.sweeps.has(summary.id) || host.folders.ownedElsewhere(summary.id)) return;
  markAbandoned(host, summary, 'failed', {
    code: 'SWEEP_INTERRUPTED',
    message: `Sweep "${summary.id}" was interrupted: the process running it exited before it finished; resume it to continue`,
    details: { sweepId: summary.id },
  });
}

/** Settles a sweep whose process is gone; its running trials become cancelled (resumable). */
export function markAbandoned(
  host: SweepHost,
  summary: SweepSummary,
  status: 'failed' | 'cancelled',
  error: ErrorInfo,
): void {
  const finishedAt = new Date().toISOString();
  const changed: TrialRecord[] = [];
  host.store.transaction(() => {
    for (const trial of host.store.trialRecords(summary.id)) {
      if (trial.status !== 'running') continue;
      changed.push(
        host.store.updateTrial(summary.id, trial.index, { status: 'cancelled', error, finishedAt }),
      );
    }
    host.store.updateSweep(summary.id, { status, error, finishedAt });
  });
  for (const trial of changed) {
    // Its run, owned by the same dead process, is settled the same way.
    if (trial.runId) {
      try {
        const run = host.runs.getRun(trial.runId);
        if (run.status === 'running' || run.status === 'queued') host.runner.cancel(trial.runId);
      } catch (failure) {
        onUnexpectedError(failure);
      }
    }
    host.emitTrial(trial);
  }
  host.folders.release(summary.id);
  host.emitSweep(summary.id);
}

/**
 * Queues a resumed sweep's unfinished trials again: cancelled and running ones continue, failed
 * ones run again only with `rerunFailed`, and a trial its scheduler had stopped ends pruned.
 */
export function requeueTrials(host: SweepHost, state: ActiveSweep, rerunFailed: boolean | undefined): void {
  for (const trial of state.trials.values()) {
    if (trial.status === 'failed' && rerunFailed) {
      host.updateTrial(state, trial.index, {
        status: 'queued',
        error: null,
        objective: null,
        stopped: null,
        finishedAt: null,
        next: null,
      });
      // A trial that runs again starts its scheduler record afresh (PBT forgets it had ended).
      schedulerAdd(host, state, trial.index, trial.params);
    } else if (trial.status === 'running' && trial.stopped) {
      // Stopped by its scheduler, then interrupted before its run had settled.
      endTrial(host, state, trial.index, 'pruned', {});
    } else if (trial.status === 'running' || trial.status === 'cancelled') {
      host.updateTrial(state, trial.index, { status: 'queued', error: null, finishedAt: null });
    }
  }
}
