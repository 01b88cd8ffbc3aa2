/** `distillery serve`: starts the HTTP + WebSocket transport and runs until interrupted. */
import { join } from 'node:path';
import type { DistilleryApp } from '../app/app';
import { appRoot } from '../app/paths';
import { createHandlers } from '../api/handlers';
import { EventFanout } from '../jobs/event-fanout';
import { isLoopback, ServeServer } from './server';

export interface ServeCommandOptions {
  port?: string | undefined;
  host?: string | undefined;
}

export async function serveCommand(app: DistilleryApp, options: ServeCommandOptions): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port !== undefined ? Number(options.port) : 7860;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be 0–65535, got ${options.port}`);
  const fanout = new EventFanout(app.runner);
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
  await new Promise<void>((resolvePromise) => {
    process.once('SIGINT', () => resolvePromise());
    process.once('SIGTERM', () => resolvePromise());
  });
  server.dispose();
  fanout.dispose();
  app.dispose();
  return 0;
}
