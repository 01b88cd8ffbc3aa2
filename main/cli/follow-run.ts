/**
 * Following a run to its end (`distillery run`, `resume`): live progress on stderr, Ctrl+C cancels
 * the run (checkpointing), a second Ctrl+C stops at once.
 */
import type { DistilleryApp } from '../app/app';
import { EXIT, print, type Flags } from './command-line';
import { runDetail } from './format';
import { RunProgress } from './progress';

/**
 * A Ctrl+C that arrives while a run is being started (before followRun listens) is held, not
 * left to kill the process: followRun then acts on it as on one that came later.
 */
export function holdInterrupts(): { readonly count: number; dispose(): void } {
  let count = 0;
  const onSigint = () => (count += 1);
  process.on('SIGINT', onSigint);
  return {
    get count() {
      return count;
    },
    dispose: () => process.off('SIGINT', onSigint),
  };
}

/** Follows a run to its end; prints the run when it settles; its exit code says how it ended. */
export async function followRun(
  app: DistilleryApp,
  runId: string,
  flags: Flags,
  held?: { readonly count: number; dispose(): void },
): Promise<number> {
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      process.stderr.write(`\nCancelling ${runId} (checkpointing; Ctrl+C again to stop at once)…\n`);
      app.runner.cancel(runId);
    } else {
      app.dispose();
      process.exit(EXIT.cancelled);
    }
  };
  process.on('SIGINT', onSigint);
  held?.dispose();
  for (let i = 0; i < Math.min(held?.count ?? 0, 1); i++) onSigint();
  const progress = flags.json ? undefined : new RunProgress(app.runner, runId, process.stderr);
  progress?.seed(app.runs.getRun(runId));
  const info = await app.runner.waitForRun(runId);
  process.off('SIGINT', onSigint);
  progress?.dispose();
  print(
    flags,
    info,
    () =>
      runDetail(info) +
      (info.status === 'cancelled' || info.status === 'failed'
        ? `\n\nResume with: distillery resume ${info.id}`
        : ''),
  );
  return info.status === 'done' ? EXIT.ok : info.status === 'cancelled' ? EXIT.cancelled : EXIT.failed;
}
