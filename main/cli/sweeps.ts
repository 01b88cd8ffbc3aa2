/**
 * `distillery sweeps list | show ID | resume ID [--rerun-failed] | cancel ID`, and following a
 * sweep to its end (`distillery run FILE` on a pipeline with a `sweep` block, `sweeps resume`):
 * live progress, Ctrl+C cancels the sweep (resumable), a second Ctrl+C stops at once. Every verb
 * answers through the api handlers and takes `--json`; `sweeps show --json` prints the sweep
 * record with its `trials`.
 */
import type { SweepInfo } from '../../preload/contract';
import type { Handlers } from '../api/handlers';
import type { DistilleryApp } from '../app/app';
import { SweepProgress } from './sweep-progress';
import { bestText, countsText, sweepDetail, sweepsTable } from './sweep-format';

/** The flags the sweep verbs read. */
export interface SweepFlags {
  json: boolean;
  limit?: string | undefined;
  'rerun-failed'?: boolean | undefined;
}

/** Exit codes, as the CLI's: 0 ok, 1 failed, 130 cancelled. */
const EXIT = { ok: 0, failed: 1, cancelled: 130 } as const;

function print(flags: SweepFlags, json: unknown, text: () => string): void {
  process.stdout.write(flags.json ? JSON.stringify(json, null, 2) + '\n' : text() + '\n');
}

/** Follows a sweep to its end; prints the sweep (with its trials) when it settles. */
export async function followSweep(app: DistilleryApp, sweepId: string, flags: SweepFlags): Promise<number> {
  const progress = flags.json ? undefined : new SweepProgress(app.sweeps, sweepId, process.stderr);
  const current = app.sweepStore.getSweep(sweepId);
  progress?.seed(current, current.trials);
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      process.stderr.write(
        `\nCancelling sweep ${sweepId} (running trials checkpoint; Ctrl+C again to stop at once)…\n`,
      );
      app.sweeps.cancel(sweepId);
    } else {
      app.dispose();
      process.exit(EXIT.cancelled);
    }
  };
  process.on('SIGINT', onSigint);
  const summary = await app.sweeps.waitForSweep(sweepId);
  process.off('SIGINT', onSigint);
  progress?.dispose();
  const sweep = app.sweepStore.getSweep(sweepId);
  print(
    flags,
    sweep,
    () =>
      sweepDetail(sweep) +
      (summary.status === 'cancelled' || summary.status === 'failed'
        ? `\n\nResume with: distillery sweeps resume ${sweepId}`
        : summary.counts.failed > 0
          ? `\n\nRun the failed trials again with: distillery sweeps resume ${sweepId} --rerun-failed`
          : ''),
  );
  return summary.status === 'done' ? EXIT.ok : summary.status === 'cancelled' ? EXIT.cancelled : EXIT.failed;
}

/** `distillery run FILE` on a pipeline with a sweep: starts it and follows it. */
export async function runSweep(
  app: DistilleryApp,
  handlers: Handlers,
  doc: SweepInfo['pipeline'],
  file: string,
  flags: SweepFlags,
): Promise<number> {
  const sweep = await handlers['sweeps.start']({ doc, pipelineFile: file });
  if (!flags.json) {
    process.stderr.write(
      `Sweep ${sweep.id} (${sweep.name}): ${sweep.trialCount} trials, ${sweep.algorithm}, ` +
        `${sweep.scheduler === 'none' ? 'no scheduler' : `${sweep.scheduler} on ${sweep.resource ?? '?'}`}, ` +
        `${sweep.concurrency} at once — data in ${app.layout.root}\n`,
    );
  }
  return followSweep(app, sweep.id, flags);
}

/** The `sweeps` verbs. */
export async function sweepsCommand(
  app: DistilleryApp,
  handlers: Handlers,
  sub: string | undefined,
  id: string | undefined,
  flags: SweepFlags,
  usage: (message: string) => Error,
): Promise<number> {
  const need = () => {
    if (!id) throw usage(`missing sweep ID; see "distillery sweeps list"`);
    return id;
  };
  switch (sub) {
    case 'list': {
      const limit = flags.limit !== undefined ? Number(flags.limit) : 50;
      if (!Number.isInteger(limit) || limit < 1) throw usage('--limit must be a positive integer');
      const sweeps = await handlers['sweeps.list']({ limit });
      print(flags, sweeps, () => (sweeps.length > 0 ? sweepsTable(sweeps) : 'No sweeps yet.'));
      return EXIT.ok;
    }
    case 'show': {
      const sweep = await handlers['sweeps.get']({ sweepId: need() });
      print(flags, sweep, () => sweepDetail(sweep));
      return EXIT.ok;
    }
    case 'resume': {
      const sweep = await handlers['sweeps.resume']({
        sweepId: need(),
        rerunFailed: flags['rerun-failed'] ?? false,
      });
      if (!flags.json)
        process.stderr.write(`Resuming sweep ${sweep.id}: ${countsText(sweep)} — best ${bestText(sweep)}\n`);
      return followSweep(app, sweep.id, flags);
    }
    case 'cancel': {
      const sweep = await handlers['sweeps.cancel']({ sweepId: need() });
      print(flags, sweep, () => `Cancel requested for sweep ${sweep.id} (${sweep.status})`);
      return EXIT.ok;
    }
    default:
      throw usage('usage: distillery sweeps list|show ID|resume ID [--rerun-failed]|cancel ID');
  }
}
