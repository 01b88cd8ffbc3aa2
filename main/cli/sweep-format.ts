/** Plain-text views of sweeps and trials for the CLI (`sweeps list`, `sweeps show`, progress lines). */
import type { JsonValue, SweepInfo, SweepMode, SweepSummary, TrialInfo } from '../../preload/contract';
import { compareByMode } from '../pipeline/sweep/spec';
import { duration, table } from './format';

function span(start: string | null, end: string | null): number | null {
  if (!start) return null;
  return ((end ? Date.parse(end) : Date.now()) - Date.parse(start)) / 1000;
}

/** A number as a figure: 4 significant digits, integers as they are. */
export function figure(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (Number.isNaN(value)) return 'NaN';
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/** A param value, short: numbers as figures, everything else as compact JSON. */
export function paramValue(value: JsonValue | undefined): string {
  if (typeof value === 'number') return figure(value);
  return JSON.stringify(value) ?? '—';
}

export function paramsText(params: Record<string, JsonValue>): string {
  return Object.entries(params)
    .map(([key, value]) => `${key}=${paramValue(value)}`)
    .join(' ');
}

/** "12 done · 2 running · 5 pruned": the non-zero counts of a sweep's trials. */
export function countsText(summary: SweepSummary): string {
  const order = ['done', 'running', 'pruned', 'queued', 'failed', 'cancelled'] as const;
  const parts = order
    .filter((status) => summary.counts[status] > 0)
    .map((status) => `${summary.counts[status]} ${status}`);
  return parts.length > 0 ? parts.join(' · ') : 'no trials yet';
}

export function bestText(summary: SweepSummary): string {
  const best = summary.best;
  if (!best) return 'no finished trial yet';
  return `${summary.objective.metric} ${figure(best.objective)} (trial ${best.trial})`;
}

function schedulerText(summary: SweepSummary): string {
  return summary.scheduler === 'none' ? 'no scheduler' : `${summary.scheduler} on ${summary.resource ?? '?'}`;
}

export function sweepsTable(sweeps: SweepSummary[]): string {
  return table(
    ['SWEEP', 'NAME', 'STATUS', 'ALGORITHM', 'SCHEDULER', 'TRIALS', 'BEST', 'STARTED', 'DURATION'],
    sweeps.map((sweep) => [
      sweep.id,
      sweep.name,
      sweep.status,
      sweep.algorithm,
      schedulerText(sweep),
      `${sweep.counts.done + sweep.counts.pruned + sweep.counts.failed}/${sweep.trialCount}`,
      sweep.best ? `${figure(sweep.best.objective)} (#${sweep.best.trial})` : '—',
      sweep.startedAt ? sweep.startedAt.replace('T', ' ').slice(0, 19) : '—',
      duration(span(sweep.startedAt, sweep.finishedAt)),
    ]),
  );
}

const STATUS_ORDER: Record<TrialInfo['status'], number> = {
  done: 0,
  pruned: 1,
  running: 2,
  queued: 3,
  cancelled: 4,
  failed: 5,
};

/**
 * Trials best first: finished ones by objective, then pruned ones by how far they got and their
 * last reading, then the rest by index.
 */
export function trialsBestFirst(
  trials: readonly TrialInfo[],
  mode: SweepMode,
  schedulerMode: SweepMode = mode,
): TrialInfo[] {
  return [...trials].sort((a, b) => {
    const byStatus = STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
    if (byStatus !== 0) return byStatus;
    if (a.status === 'done') {
      const byObjective = compareByMode(a.objective ?? Number.NaN, b.objective ?? Number.NaN, mode);
      if (byObjective !== 0) return byObjective;
    }
    if (a.status === 'pruned') {
      const byReach = b.epochs - a.epochs;
      if (byReach !== 0) return byReach;
      const byValue = compareByMode(
        a.lastResult?.value ?? Number.NaN,
        b.lastResult?.value ?? Number.NaN,
        schedulerMode,
      );
      if (byValue !== 0) return byValue;
    }
    return a.index - b.index;
  });
}

/** The scheduler metric's direction, as the sweep block gives it or the objective's. */
function schedulerMode(sweep: SweepSummary): SweepMode {
  const scheduler = sweep.spec.scheduler;
  return scheduler && scheduler.type !== 'none' && scheduler.mode ? scheduler.mode : sweep.objective.mode;
}

export function sweepDetail(sweep: SweepInfo): string {
  const objective = sweep.objective;
  const lines = [
    `Sweep ${sweep.id}  ${sweep.name}  ${sweep.status}`,
    `  objective  ${objective.node}.${objective.metric} (${objective.mode}) · ${sweep.algorithm} · ${schedulerText(sweep)} · ${sweep.trialCount} trials, ${sweep.concurrency} at once · seed ${sweep.seed}`,
    `  trials     ${countsText(sweep)}`,
    `  best       ${bestText(sweep)}`,
  ];
  if (sweep.best) {
    const names = Object.entries(sweep.best.models).map(
      ([output]) => `${sweep.name}/${output.split('.')[0]!}@${sweep.best!.alias}`,
    );
    if (names.length > 0) lines.push(`  models     ${[...new Set(names)].join(', ')}`);
  }
  if (sweep.pipelineFile) lines.push(`  file       ${sweep.pipelineFile}`);
  lines.push(`  time       ${duration(span(sweep.startedAt, sweep.finishedAt))}`);
  if (sweep.error) lines.push(`  error      ${sweep.error.code}: ${sweep.error.message.split('\n')[0]}`);
  if (sweep.trials.length === 0) return lines.join('\n');
  const rows = trialsBestFirst(sweep.trials, objective.mode, schedulerMode(sweep)).map((trial) => [
    String(trial.index),
    trial.status,
    figure(trial.objective),
    figure(trial.epochs),
    trial.runId ?? '—',
    trialNote(trial),
    paramsText(trial.params),
  ]);
  return `${lines.join('\n')}\n\n${table(['TRIAL', 'STATUS', 'OBJECTIVE', 'EPOCHS', 'RUN', 'NOTE', 'PARAMS'], rows)}`;
}

/** Why a trial is where it is: the rung it was stopped at, its exploits, its error. */
export function trialNote(trial: TrialInfo): string {
  if (trial.error) return `${trial.error.code}`;
  if (trial.stopped) return `stopped at ${figure(trial.stopped.rung)}`;
  if (trial.exploits.length > 0) {
    const last = trial.exploits.at(-1)!;
    return `${trial.exploits.length} exploit${trial.exploits.length === 1 ? '' : 's'} (last from #${last.from} at ${figure(last.atResource)})`;
  }
  return '';
}
