/** `distillery serve`: starts the HTTP + WebSocket transport and runs until interrupted. */
import { join } from 'node:path';
import type { DistilleryApp } from '../app/app';
import type { IDisposable } from '../base/lifecycle';
import { appRoot } from '../app/paths';
import { installProcessGuard } from '../app/process-guard';
import { createHandlers } from '../api/handlers';
import { EventFanout } from '../jobs/event-fanout';
import { isLoopback, ServeServer } from './server';
import { watchStopSignals, type StopReason } from './stop-signals';

export interface ServeCommandOptions {
  port?: string | undefined;
  host?: string | undefined;
}

export async function serveCommand(app: DistilleryApp, options: ServeCommandOptions): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port !== undefined ? Number(options.port) : 7860;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be 0–65535, got ${options.port}`);
  // One failing task or request must not end the server and every run it supervises.
  const recording = installProcessGuard().recordInto(app.runner);
  const fanout = new EventFanout(app.runner, undefined, app.sweeps);
  const server = await ServeServer.start(createHandlers(app), fanout, {
    port,
    host,
    staticDir: join(appRoot(), 'out', 'renderer'),
    fileRoots: [app.layout.runs],
  });
  process.stdout.write(`Distillery is serving at ${server.url}\n`);
  if (!isLoopback(host)) {
    process.stderr.write(
      `Warning: listening on ${host}, reachable from other machines. Anyone with the token can run code on this machine through pipelines; share it only over trusted networks.\n`,
    );
  }
  process.stderr.write(`Data in ${app.layout.root}. Press Ctrl+C to stop.\n`);
  await stopWhenAsked(app, server, fanout, recording);
  return 0;
}

/**
 * How long a stopping server lets its runs' workers checkpoint and exit after `cancel` before it
 * kills them; a second signal cuts it short.
 */
const STOP_GRACE_MS = 5000;
/** Past the grace period, how long disposal may take before the process exits regardless. */
const EXIT_BACKSTOP_MS = 2000;

/**
 * Waits for SIGINT, SIGTERM or the parent's exit, then stops in order: the listener and every open
 * connection (keep-alive HTTP, WebSockets) close, this process's runs are cancelled and given
 * STOP_GRACE_MS to checkpoint, and disposing the app kills any worker still alive.
 */
async function stopWhenAsked(
  app: DistilleryApp,
  server: ServeServer,
  fanout: EventFanout,
  recording: IDisposable,
): Promise<void> {
  const active = new Set<string>();
  const tracking = app.runner.onDidChangeRun((run) => {
    if (run.status === 'queued' || run.status === 'running') active.add(run.id);
    else active.delete(run.id);
  });
  let requested!: (reason: StopReason) => void;
  let forced!: () => void;
  const firstRequest = new Promise<StopReason>((resolve) => (requested = resolve));
  const secondRequest = new Promise<void>((resolve) => (forced = resolve));
  let requests = 0;
  const signals = watchStopSignals((reason) => {
    requests += 1;
    if (requests === 1) requested(reason);
    else forced();
  });
  const reason = await firstRequest;
  // From here the process ends whatever fails or hangs below; unref'd, it waits for nothing.
  setTimeout(() => process.exit(), STOP_GRACE_MS + EXIT_BACKSTOP_MS).unref();
  let graceTimer: NodeJS.Timeout | undefined;
  try {
    server.dispose();
    // Sweeps first, so that no trial starts a run while their running trials are cancelled.
    app.sweeps.cancelAll();
    const cancelling = [...active].filter((runId) => app.runner.isActive(runId));
    // After the parent's exit stderr may lead nowhere; writing to a closed pipe would only fail.
    if (reason !== 'parent-exit') {
      process.stderr.write(
        cancelling.length > 0
          ? `\nStopping (${reason}): cancelling ${cancelling.join(', ')}; ${reason === 'SIGINT' ? 'Ctrl+C' : 'a second signal'} again stops at once.\n`
          : `\nStopping (${reason}).\n`,
      );
    }
    for (const runId of cancelling) app.runner.cancel(runId);
    await Promise.race([
      Promise.all(cancelling.map((runId) => app.runner.waitForRun(runId))),
      new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, STOP_GRACE_MS))),
      secondRequest,
    ]);
  } finally {
    clearTimeout(graceTimer);
    tracking.dispose();
    signals.dispose();
    fanout.dispose();
    recording.dispose();
    app.dispose();
  }
}
