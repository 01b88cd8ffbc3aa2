/**
 * The end of a trial's run: the trial ends (done with its objective, pruned, failed), waits to
 * continue from a checkpoint, or is cancelled; the best trial's models get the sweep's alias; and
 * the sweep finishes once no trial is left.
 */
import type { ErrorInfo, RunInfo, SweepBest, SweepSummary } from '../../preload/contract';
import { onUnexpectedError } from '../base/unexpected-error';
import { compareByMode, type TrialEnd } from '../pipeline/sweep/index';
import type { TrialPatch } from '../registry/sweep-store';
import { pruneKept } from './kept-checkpoints';
import { bestAlias, EPOCH_METRIC, type ActiveSweep, type SweepHost } from './sweep-state';

/** A trial's run has settled: the trial ends, or waits to continue from a checkpoint. */
export function settleRun(host: SweepHost, state: ActiveSweep, index: number, run: RunInfo): void {
  const live = state.live.get(index);
  if (!live || live.runId !== run.id) return;
  state.live.delete(index);
  host.byRun.delete(run.id);
  if (host.disposed) return;
  const trial = state.trials.get(index)!;
  const trained = trainedEpochs(host, state, run);
  const epochsTrained = trial.epochsTrained + trained.trained;
  const epochs = Math.max(trial.epochs, trained.reached);
  if (live.decision === 'stop') {
    endTrial(host, state, index, 'pruned', { epochs, epochsTrained });
  } else if (live.decision === 'pause' || live.decision === 'exploit') {
    host.updateTrial(state, index, { status: 'queued', epochs, epochsTrained });
  } else if (run.status === 'done') {
    const objective = objectiveOf(host, state, run);
    if (objective.value === undefined) {
      endTrial(host, state, index, 'failed', { epochs, epochsTrained, error: objective.error! });
    } else {
      // The best first: the sweep's change that ending the trial fires then carries it.
      updateBest(host, state, index, objective.value, run);
      endTrial(host, state, index, 'done', { epochs, epochsTrained, objective: objective.value });
    }
  } else if (run.status === 'failed' && !state.cancelRequested) {
    endTrial(host, state, index, 'failed', {
      epochs,
      epochsTrained,
      error: run.error ?? { code: 'TASK_FAILED', message: `Trial ${index}: run ${run.id} failed` },
    });
  } else {
    // Cancelled with the sweep, or its run on its own: a resume continues it.
    host.updateTrial(state, index, {
      status: 'cancelled',
      epochs,
      epochsTrained,
      finishedAt: new Date().toISOString(),
    });
  }
  host.pump(state);
}

/**
 * The epochs the run's budget node finished (each counted once, also across a resume of the run),
 * and the furthest one: a run started from a checkpoint reports only the epochs after it, and a
 * reused task trained none.
 */
function trainedEpochs(
  host: SweepHost,
  state: ActiveSweep,
  run: RunInfo,
): { trained: number; reached: number } {
  const task = state.budgetNode
    ? run.tasks.find((candidate) => candidate.nodeId === state.budgetNode)
    : undefined;
  if (!task) return { trained: 0, reached: 0 };
  const source = task.status === 'reused' && task.reusedFrom ? task.reusedFrom : task.id;
  const epochs = new Set<number>();
  for (const point of host.runs.getMetrics(source, { names: [EPOCH_METRIC] }))
    if (point.epoch !== undefined) epochs.add(point.epoch);
  const reached = epochs.size > 0 ? Math.max(...epochs) : 0;
  return { trained: task.status === 'reused' ? 0 : epochs.size, reached };
}

/** The objective's last value in the run (a reused task's is its source's). */
function objectiveOf(
  host: SweepHost,
  state: ActiveSweep,
  run: RunInfo,
): { value?: number; error?: ErrorInfo } {
  const { node, metric } = state.sweep.objective;
  const task = run.tasks.find((candidate) => candidate.nodeId === node);
  const source = task && task.status === 'reused' && task.reusedFrom ? task.reusedFrom : task?.id;
  const points = source ? host.runs.getMetrics(source, { names: [metric] }) : [];
  const last = points.at(-1);
  if (!last) {
    return {
      error: {
        code: 'TRIAL_NO_OBJECTIVE',
        message: `Node "${node}" finished without reporting "${metric}", the sweep's objective`,
        details: { nodeId: node, expected: `a "${metric}" metric`, received: null, runId: run.id },
      },
    };
  }
  return { value: last.value };
}

/** Moves the best alias to the trial's models when it beats the best so far. */
function updateBest(
  host: SweepHost,
  state: ActiveSweep,
  index: number,
  objective: number,
  run: RunInfo,
): void {
  const current = host.store.getSummary(state.id).best;
  if (current && compareByMode(objective, current.objective, state.sweep.objective.mode) >= 0) return;
  if (Number.isNaN(objective)) return;
  const alias = bestAlias(state.id);
  const models: Record<string, string> = {};
  for (const task of run.tasks)
    for (const [port, versionId] of Object.entries(task.models)) models[`${task.nodeId}.${port}`] = versionId;
  for (const versionId of new Set(Object.values(models))) {
    try {
      host.registry.tag(versionId, alias);
    } catch (error) {
      onUnexpectedError(error);
    }
  }
  const best: SweepBest = { trial: index, objective, runId: run.id, models, alias };
  host.store.updateSweep(state.id, { best });
}

/** Ends a trial for the scheduler and the records, and tells the sweep's change. */
export function endTrial(
  host: SweepHost,
  state: ActiveSweep,
  index: number,
  end: Exclude<TrialEnd, 'cancelled'>,
  patch: Omit<TrialPatch, 'status'>,
): void {
  state.scheduler.onTrialEnd(index, end);
  host.store.transaction(() => {
    host.store.appendEvent(state.id, { trial: index, kind: 'end', data: { end } });
    host.updateTrial(state, index, { ...patch, status: end, finishedAt: new Date().toISOString() });
  });
  pruneKept(state);
  host.emitSweep(state.id);
}

/** Finishes the sweep once no trial runs and none is left to start (or it was cancelled). */
export function maybeFinish(host: SweepHost, state: ActiveSweep): void {
  if (state.live.size > 0 || !host.sweeps.has(state.id)) return;
  if (!state.cancelRequested) {
    const waiting = [...state.trials.values()].some((trial) => trial.status === 'queued');
    if (waiting || state.nextIndex < state.sweep.trials) return;
  }
  const trials = [...state.trials.values()];
  const allFailed = trials.length > 0 && trials.every((trial) => trial.status === 'failed');
  const status = state.cancelRequested ? 'cancelled' : allFailed ? 'failed' : 'done';
  const error = allFailed ? (trials[0]!.error ?? null) : null;
  let summary: SweepSummary;
  try {
    summary = host.store.updateSweep(state.id, { status, error, finishedAt: new Date().toISOString() });
  } catch (failure) {
    onUnexpectedError(failure);
    summary = host.store.getSummary(state.id);
  }
  host.sweeps.delete(state.id);
  try {
    host.folders.release(state.id);
  } catch (failure) {
    onUnexpectedError(failure);
  }
  host.fireSweep(summary);
  state.resolve(summary);
}
