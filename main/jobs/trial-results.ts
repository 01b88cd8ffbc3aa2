/**
 * Trial results as they stream in: each epoch's validation metric of the resource node goes to the
 * scheduler (for PBT once its checkpoint exists, so an exploit may copy it), and the scheduler's
 * decision is acted on: the trial is stopped, paused, or sent to a better trial's checkpoint.
 */
import type { MetricBatch, TaskInfo, TrialExploitInfo } from '../../preload/contract';
import { onUnexpectedError } from '../base/unexpected-error';
import type { TrialPatch } from '../registry/sweep-store';
import { keep, pruneKept } from './kept-checkpoints';
import { orderedParams } from './sweep-plan';
import { keptKey, type ActiveSweep, type LiveTrial, type SweepHost } from './sweep-state';
import { cancelRun, checkWarm } from './trial-scheduling';

/** A task of a trial's run changed: the shared tasks may have settled, or a PBT checkpoint landed. */
export function onTask(host: SweepHost, task: TaskInfo): void {
  const owner = host.byRun.get(task.runId);
  if (!owner) return;
  const { sweep: state, index } = owner;
  const live = state.live.get(index);
  if (!live || live.runId !== task.runId) return;
  if (!state.warm && state.shared.has(task.nodeId)) checkWarm(host, state, host.runs.getRun(task.runId));
  if (
    state.sweep.scheduler.type === 'pbt' &&
    task.id === live.resourceTaskId &&
    task.checkpoint &&
    !live.checkpoints.has(task.checkpoint.step)
  ) {
    live.checkpoints.set(task.checkpoint.step, task.checkpoint.path);
    const waiting = live.waiting.get(task.checkpoint.step);
    if (waiting) {
      live.waiting.delete(task.checkpoint.step);
      report(host, state, live, waiting.resource, waiting.value, task.checkpoint.path);
    }
  }
}

/** Metrics of a trial's run: the resource node's per-epoch scheduler metric is reported. */
export function onMetrics(host: SweepHost, batch: MetricBatch): void {
  const owner = host.byRun.get(batch.runId);
  if (!owner) return;
  const { sweep: state, index } = owner;
  const live = state.live.get(index);
  if (!live || live.runId !== batch.runId || batch.taskId !== live.resourceTaskId || !state.metric) return;
  for (const point of batch.points) {
    if (point.name !== state.metric || point.epoch === undefined || live.decision) continue;
    if (point.epoch <= live.reported) continue;
    if (state.sweep.scheduler.type === 'pbt') {
      // Reported once its checkpoint exists: an exploit may copy it.
      const checkpoint = live.checkpoints.get(point.step);
      if (checkpoint) report(host, state, live, point.epoch, point.value, checkpoint);
      else live.waiting.set(point.step, { resource: point.epoch, value: point.value });
    } else {
      report(host, state, live, point.epoch, point.value);
    }
  }
}

/** Feeds one reading to the scheduler, records it, and acts on the decision. */
function report(
  host: SweepHost,
  state: ActiveSweep,
  live: LiveTrial,
  resource: number,
  value: number,
  checkpoint?: string,
): void {
  if (live.decision || resource <= live.reported) return;
  live.reported = resource;
  const scheduler = state.sweep.scheduler;
  let kept: string | undefined;
  if (
    scheduler.type === 'pbt' &&
    checkpoint &&
    resource < scheduler.max &&
    resource % scheduler.interval === 0
  )
    kept = keep(host, state, live.index, resource, checkpoint);
  const decision = state.scheduler.onResult(live.index, resource, value);
  const patch: TrialPatch = { lastResult: { resource, value }, epochs: resource };
  let inherited: { resource: number; checkpoint: string } | undefined;
  const trial = state.trials.get(live.index)!;
  if (decision.kind === 'stop') {
    live.decision = 'stop';
    patch.stopped = { rung: decision.rung, reason: decision.reason };
  } else if (decision.kind === 'exploit') {
    // The trial's latest segment end is now the source's (PBT ranks it, and others may copy it,
    // by the source's score there), so its kept checkpoint at that resource becomes a copy of it.
    const from = state.kept.get(keptKey(decision.from, decision.atResource));
    const source = from ? keep(host, state, live.index, decision.atResource, from) : undefined;
    if (source) {
      inherited = { resource: decision.atResource, checkpoint: source };
      live.decision = 'exploit';
      const exploit: TrialExploitInfo = {
        resource,
        from: decision.from,
        atResource: decision.atResource,
        before: trial.params,
        after: orderedParams(state.sweep, decision.params),
        changes: decision.changes.map((change) => ({
          key: change.key,
          ...(change.from !== undefined ? { from: change.from } : {}),
          ...(change.to !== undefined ? { to: change.to } : {}),
          how: change.how,
          ...(change.factor !== undefined ? { factor: change.factor } : {}),
        })),
        runId: null,
      };
      patch.params = exploit.after;
      patch.exploits = [...trial.exploits, exploit];
      patch.next = { checkpoint: source, trial: decision.from, resource: decision.atResource };
    } else {
      onUnexpectedError(
        new Error(
          `Sweep ${state.id}: trial ${decision.from}'s checkpoint at ${decision.atResource} is not kept`,
        ),
      );
    }
  } else if (kept && someoneWaits(state)) {
    // A PBT population larger than the free slots takes turns, one segment at a time.
    live.decision = 'pause';
    patch.next = { checkpoint: kept, trial: live.index, resource };
  }
  host.store.transaction(() => {
    host.store.appendEvent(state.id, {
      trial: live.index,
      kind: 'result',
      resource,
      value,
      ...(kept || inherited
        ? { data: { ...(kept ? { checkpoint: kept } : {}), ...(inherited ? { inherited } : {}) } }
        : {}),
    });
    host.updateTrial(state, live.index, patch);
  });
  // Cancelled after the runner has finished recording the event being handled.
  if (live.decision) void Promise.resolve().then(() => cancelRun(host, live.runId));
  pruneKept(state);
}

/** Whether a trial waits for a slot: a queued one, or one not yet proposed. */
function someoneWaits(state: ActiveSweep): boolean {
  if (state.nextIndex < state.sweep.trials) return true;
  for (const trial of state.trials.values())
    if (trial.status === 'queued' && !state.live.has(trial.index)) return true;
  return false;
}
