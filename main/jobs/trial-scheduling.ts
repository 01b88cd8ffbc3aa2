/**
 * The trial scheduling loop: while slots are free, the next trial (a queued one, or a new proposal
 * from the sampler) starts as a run, or resumes its run, and is followed until the run settles.
 */
import type { JsonValue, RunInfo, TaskInfo } from '../../preload/contract';
import { serializeError } from '../base/errors';
import { onUnexpectedError } from '../base/unexpected-error';
import type { TrialObservation } from '../pipeline/sweep/index';
import type { TrialRecord } from '../registry/sweep-store';
import { orderedParams, trialDocument } from './sweep-plan';
import { bestAlias, SETTLED_TRIALS, type ActiveSweep, type LiveTrial, type SweepHost } from './sweep-state';
import { endTrial, maybeFinish, settleRun } from './trial-settling';

/** Starts trials while slots are free, then finishes the sweep when nothing is left. */
export function pump(host: SweepHost, state: ActiveSweep): void {
  if (host.disposed || !host.sweeps.has(state.id)) return;
  while (!state.cancelRequested && state.live.size < state.sweep.concurrency) {
    if (!state.warm && state.live.size > 0) break;
    const trial = nextTrial(host, state);
    if (!trial) break;
    launch(host, state, trial);
  }
  maybeFinish(host, state);
}

/**
 * The next trial to start: a queued one (resumed, paused or sent to another checkpoint), or a new
 * proposal; the one furthest behind first, so a PBT population advances together.
 */
function nextTrial(host: SweepHost, state: ActiveSweep): TrialRecord | undefined {
  let best: TrialRecord | undefined;
  for (const trial of state.trials.values()) {
    if (trial.status !== 'queued' || state.live.has(trial.index)) continue;
    const at = trial.next?.resource ?? 0;
    if (!best || at < (best.next?.resource ?? 0)) best = trial;
  }
  if ((!best || (best.next?.resource ?? 0) > 0) && state.nextIndex < state.sweep.trials)
    return propose(host, state);
  return best;
}

/** Proposes trial `nextIndex` from the trials finished so far, and records it. */
function propose(host: SweepHost, state: ActiveSweep): TrialRecord {
  const index = state.nextIndex++;
  const observations: TrialObservation[] = [];
  for (const trial of state.trials.values()) {
    if (trial.index >= index || !SETTLED_TRIALS.has(trial.status)) continue;
    const observation: TrialObservation = {
      index: trial.index,
      params: trial.params,
      objective: trial.status === 'done' ? trial.objective : null,
    };
    if (trial.status === 'pruned' && trial.lastResult) observation.intermediate = trial.lastResult;
    observations.push(observation);
  }
  const params = orderedParams(state.sweep, state.sampler.propose(index, observations));
  const record = host.store.transaction(() => {
    const created = host.store.createTrial(
      state.id,
      index,
      params,
      observations.map((observation) => observation.index),
    );
    schedulerAdd(host, state, index, params);
    return created;
  });
  state.trials.set(index, record);
  host.emitTrial(record);
  return record;
}

/** Adds the trial to the scheduler and records the call, so that a resume replays it. */
export function schedulerAdd(
  host: SweepHost,
  state: ActiveSweep,
  index: number,
  params: Record<string, JsonValue>,
): void {
  state.scheduler.addTrial(index, params);
  host.store.appendEvent(state.id, { trial: index, kind: 'add', data: { params } });
}

/** Starts (or resumes) the trial's run; a trial whose document is invalid fails with its issues. */
function launch(host: SweepHost, state: ActiveSweep, trial: TrialRecord): void {
  const modelMeta = { sweep: { id: state.id, trial: trial.index, alias: bestAlias(state.id) } };
  let run: RunInfo;
  let startResource = trial.next?.resource ?? 0;
  try {
    const previous = trial.runId && !trial.next ? host.runs.getRun(trial.runId) : undefined;
    if (previous && (previous.status === 'cancelled' || previous.status === 'failed')) {
      // Interrupted or cancelled with the sweep: its run continues from its checkpoints.
      run = host.runner.resume(previous.id, { modelMeta });
      startResource = trial.lastResult?.resource ?? 0;
    } else if (previous && previous.status === 'done') {
      // It finished while nobody recorded it (the sweep's process died at that moment).
      track(host, state, trial, previous, trial.lastResult?.resource ?? 0);
      settleRun(host, state, trial.index, previous);
      return;
    } else {
      const doc = trialDocument(state.doc, state.sweep, host.catalog, trial.params);
      run = host.runner.start(doc, {
        pipelineFile: null,
        modelMeta,
        ...(trial.next && state.resource
          ? { startFrom: { nodeId: state.resource.nodeId, checkpoint: trial.next.checkpoint } }
          : {}),
      });
    }
  } catch (error) {
    const info = serializeError(error);
    const invalid = Array.isArray(info.details?.issues);
    endTrial(host, state, trial.index, 'failed', {
      error: invalid
        ? {
            code: 'TRIAL_INVALID',
            message: `Trial ${trial.index}: its values make the pipeline invalid: ${info.message}`,
            details: { ...info.details, trial: trial.index, params: trial.params },
          }
        : { ...info, details: { ...info.details, trial: trial.index } },
    });
    return;
  }
  host.counters.trialsStarted += 1;
  const exploits = trial.exploits.map((exploit, i) =>
    i === trial.exploits.length - 1 && exploit.runId === null && trial.next
      ? { ...exploit, runId: run.id }
      : exploit,
  );
  const runs = trial.runs.includes(run.id) ? trial.runs : [...trial.runs, run.id];
  const record = host.updateTrial(state, trial.index, {
    status: 'running',
    runId: run.id,
    runs,
    next: null,
    exploits,
    error: null,
    finishedAt: null,
    ...(trial.startedAt ? {} : { startedAt: new Date().toISOString() }),
  });
  track(host, state, record, run, startResource);
  checkWarm(host, state, run);
  void host.runner.waitForRun(run.id).then(
    (info) => host.timed(() => settleRun(host, state, trial.index, info)),
    (error: unknown) => onUnexpectedError(error),
  );
}

function track(
  host: SweepHost,
  state: ActiveSweep,
  trial: TrialRecord,
  run: RunInfo,
  startResource: number,
): void {
  const live: LiveTrial = {
    index: trial.index,
    runId: run.id,
    resourceTaskId: state.resource
      ? run.tasks.find((task) => task.nodeId === state.resource!.nodeId)?.id
      : undefined,
    startResource,
    reported: Math.max(startResource, trial.lastResult?.resource ?? 0),
    waiting: new Map(),
    checkpoints: new Map(),
  };
  state.live.set(trial.index, live);
  host.byRun.set(run.id, { sweep: state, index: trial.index });
}

/** Opens the other slots once the first trial has run (or reused) every task all trials share. */
export function checkWarm(host: SweepHost, state: ActiveSweep, run: RunInfo): void {
  if (state.warm) return;
  const shared = run.tasks.filter((task) => state.shared.has(task.nodeId));
  const settled = (task: TaskInfo) => task.status !== 'queued' && task.status !== 'running';
  if (run.status !== 'running' && run.status !== 'queued') state.warm = true;
  else if (shared.every(settled)) state.warm = true;
  if (state.warm) pump(host, state);
}

/** Cancels a trial's run if it still runs; a failure is reported, never thrown. */
export function cancelRun(host: SweepHost, runId: string): void {
  try {
    if (host.runner.isActive(runId)) host.runner.cancel(runId);
  } catch (error) {
    onUnexpectedError(error);
  }
}
