/**
 * `distillery serve` stops when told to, however it was started: a real server process holding a
 * keep-alive HTTP connection, an open WebSocket and a training worker, sent SIGTERM directly or
 * through a shell wrapper that does not pass the signal on (as `npx` and `npm run` run it). It must
 * close its connections, cancel its run, leave no process behind, and exit.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Answer, PipelineDoc, RunInfo } from '../../preload/contract';
import { startedThroughWrapper } from '../../main/serve/stop-signals';
import { cliJson, REPO_ROOT, startServe, type ServeProcess } from '../helpers/cli';
import { ensureNoLeaks, liveDescendants } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

/** Fails with `what` unless `promise` settles first; the bound only keeps a hang from lasting. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Everything a user of the server holds open while a run trains. */
interface Held {
  runId: string;
  workerPid: number;
  httpSocketClosed: Promise<void>;
  webSocketClosed: Promise<void>;
  agent: Agent;
}

/**
 * Starts a long MNIST run over a keep-alive connection (which then stays open, idle), opens the
 * event socket, and waits until the worker streams training metrics.
 */
async function holdConnectionsWhileTraining(serve: ServeProcess): Promise<Held> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const socket = new WebSocket(`${serve.origin.replace('http', 'ws')}/events?token=${serve.token}`);
  const webSocketClosed = once(socket, 'close').then(() => undefined);
  await once(socket, 'open');
  const doc = JSON.parse(
    readFileSync(join(REPO_ROOT, 'resources/pipelines/mnist-mlp.distillery.json'), 'utf8'),
  ) as PipelineDoc;
  // Long enough never to finish within the test: only a stop can end it.
  for (const node of doc.nodes) if (node.type === 'train') node.params = { ...node.params, epochs: 1000 };
  let httpSocket: Socket | undefined;
  const answer = await new Promise<Answer<RunInfo>>((resolve, reject) => {
    const req = request(
      `${serve.origin}/api/runs.start`,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
      },
      (res: IncomingMessage) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(JSON.parse(body) as Answer<RunInfo>));
      },
    );
    req.on('socket', (assigned: Socket) => (httpSocket = assigned));
    req.on('error', reject);
    req.end(JSON.stringify({ doc }));
  });
  if (!answer.ok) throw new Error(`runs.start failed: ${answer.error.message}`);
  const runId = answer.result.id;
  expect(httpSocket?.destroyed).toBe(false);
  const httpSocketClosed = once(httpSocket!, 'close').then(() => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('close', () => reject(new Error(`the server closed the event socket:\n${serve.stderr()}`)));
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as {
        event: string;
        payload: { runId?: string; id?: string; status?: string; error?: unknown };
      };
      if (message.event === 'task.metrics' && message.payload.runId === runId) resolve();
      const settled = message.payload.status !== 'queued' && message.payload.status !== 'running';
      if (message.event === 'run.status' && message.payload.id === runId && settled)
        reject(new Error(`the run ended before training: ${JSON.stringify(message.payload)}`));
    });
  });
  const worker = (liveDescendants(serve.child.pid) ?? []).find((entry) =>
    commandOf(entry.pid).includes('worker/main'),
  );
  if (!worker) throw new Error('no worker process under the server while its run trains');
  return { runId, workerPid: worker.pid, httpSocketClosed, webSocketClosed, agent };
}

describe('distillery serve stops on SIGTERM', () => {
  // Checks every process the server started, the workers included, after each test.
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  let serve: ServeProcess | undefined;

  beforeEach(() => {
    tmp = makeTempDir();
    serve = undefined;
  });

  afterEach(() => {
    if (serve?.child.exitCode === null) serve.child.kill('SIGKILL');
    tmp.cleanup();
  });

  it('closes keep-alive HTTP and WebSocket connections, cancels its run and exits', async () => {
    serve = await startServe(tmp.dir);
    const held = await holdConnectionsWhileTraining(serve);
    serve.child.kill('SIGTERM');
    const exit = await within(serve.exited, 20_000, 'the server exiting after SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    await held.httpSocketClosed;
    await held.webSocketClosed;
    held.agent.destroy();
    // Cancelled, so it can be resumed from its checkpoint, rather than killed mid-step.
    const { json: run } = await cliJson<RunInfo>(['runs', 'show', held.runId], tmp.dir);
    expect(run.status).toBe('cancelled');
    expect(run.tasks.find((task) => task.nodeId === 'fit')?.status).toBe('cancelled');
    expect(serve.stderr()).toContain(`Stopping (SIGTERM): cancelling ${held.runId}`);
    expect(serve.stderr()).not.toContain('unexpected error');
  }, 120_000);

  it.each([
    ['the bin entry (npx)', 'sh', 'distillery.mjs serve'],
    ["tsx's CLI (npm run cli)", 'sh-tsx', 'preflight.cjs'],
  ] as const)(
    'stops too when a wrapper shell around %s dies of SIGTERM without passing it on',
    async (_name, wrapper, serverCommand) => {
      serve = await startServe(tmp.dir, { wrapper });
      const held = await holdConnectionsWhileTraining(serve);
      const server = (liveDescendants(serve.child.pid) ?? []).find((entry) =>
        commandOf(entry.pid).includes(serverCommand),
      );
      expect(server, 'the server runs below the shell, not in its place').toBeDefined();
      serve.child.kill('SIGTERM');
      // The shell dies at once and the server never gets the signal: it must notice on its own.
      expect(await serve.exited).toEqual({ code: null, signal: 'SIGTERM' });
      // The server shares the shell's stdout: it closes when the server is gone.
      await within(serve.stdoutClosed, 20_000, 'the server exiting after its wrapper died');
      await held.httpSocketClosed;
      await held.webSocketClosed;
      held.agent.destroy();
      const { json: run } = await cliJson<RunInfo>(['runs', 'show', held.runId], tmp.dir);
      expect(run.status).toBe('cancelled');
      expect(serve.stderr()).not.toContain('unexpected error');
    },
    120_000,
  );
});

describe('when the server watches the processes that started it', () => {
  it('does so under npm (npx, npm run) or when asked, not when started directly', () => {
    expect(startedThroughWrapper({ npm_lifecycle_event: 'serve', npm_execpath: '/usr/lib/npm-cli.js' })).toBe(
      true,
    );
    expect(startedThroughWrapper({ npm_execpath: '/usr/lib/npm-cli.js' })).toBe(true);
    expect(startedThroughWrapper({})).toBe(false);
    expect(startedThroughWrapper({ DISTILLERY_STOP_WITH_PARENT: '1' })).toBe(true);
    expect(startedThroughWrapper({ npm_lifecycle_event: 'serve', DISTILLERY_STOP_WITH_PARENT: '0' })).toBe(
      false,
    );
  });
});
