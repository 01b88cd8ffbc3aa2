/**
 * An open workbench follows runs that another process starts in its data directory: a serve
 * server (in this process) and a `distillery run` in a child process on the same folder. The
 * server's WebSocket carries the CLI run's `run.status`, `task.status`, `task.metrics` and
 * `task.log` events as it goes, and `registry.changed` with the new version count, with no
 * request from the client.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetricBatch, PipelineDoc, RegistryChange, RunInfo } from '../../preload/contract';
import { createHandlers } from '../../main/api/handlers';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { EventFanout } from '../../main/jobs/event-fanout';
import { ServeServer } from '../../main/serve/server';
import { runCli } from '../helpers/cli';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';
import { mnistMlpPipeline } from '../helpers/pipelines';

const doc: PipelineDoc = mnistMlpPipeline({
  name: 'from-cli',
  seed: 4,
  data: { trainLimit: 400, testLimit: 100 },
  net: { hidden: [8] },
  fit: { epochs: 2, batchSize: 32 },
  score: false,
});

describe('runs started by another process', () => {
  ensureNoLeaks();
  const token = 'b'.repeat(64);
  let tmp: ReturnType<typeof makeTempDir>;
  let app: DistilleryApp;
  let fanout: EventFanout;
  let server: ServeServer;

  beforeEach(async () => {
    tmp = makeTempDir();
    app = createApp({ dataDir: tmp.dir, concurrency: 1, externalPollMs: 200 });
    fanout = new EventFanout(app.runner, 20);
    server = await ServeServer.start(createHandlers(app), fanout, {
      port: 0,
      host: '127.0.0.1',
      token,
      staticDir: join(tmp.dir, 'renderer'),
      fileRoots: [app.layout.runs],
    });
  });

  afterEach(() => {
    server.dispose();
    fanout.dispose();
    app.dispose();
    tmp.cleanup();
  });

  it('reach the open WebSocket as they run, with the registry count', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/events?token=${token}`);
    const events: Array<{ event: string; payload: unknown }> = [];
    const settled = new Promise<RunInfo>((resolve) =>
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { event: string; payload: unknown };
        events.push(message);
        const run = message.payload as RunInfo;
        if (message.event === 'run.status' && (run.status === 'done' || run.status === 'failed'))
          resolve(run);
      }),
    );
    await once(socket, 'open');

    const file = join(tmp.dir, 'from-cli.distillery.json');
    writeFileSync(file, JSON.stringify(doc));
    const cli = runCli(['run', file, '--json'], { dataDir: tmp.dir });
    const run = await settled;
    const result = await cli;
    expect(result.code, result.stderr).toBe(0);
    const cliRunId = (JSON.parse(result.stdout) as RunInfo).id;
    expect(run).toMatchObject({ id: cliRunId, status: 'done' });

    const ofRun = events.filter((e) => (e.payload as { runId?: string; id?: string }).runId === cliRunId);
    const statuses = events.filter((e) => e.event === 'run.status').map((e) => (e.payload as RunInfo).status);
    // Seen while it ran, not only once it had finished.
    expect(statuses[0]).toMatch(/queued|running/);
    expect(ofRun.some((e) => e.event === 'task.status')).toBe(true);
    const points = ofRun
      .filter((e) => e.event === 'task.metrics')
      .flatMap((e) => (e.payload as MetricBatch).points);
    expect(points.some((point) => point.name === 'loss')).toBe(true);
    expect(ofRun.some((e) => e.event === 'task.log')).toBe(true);

    // The registry changed under the server: the client learns how big it is now. The CLI's
    // last registration may land in the poll after its run settled.
    const counts = (): RegistryChange[] =>
      events.filter((e) => e.event === 'registry.changed').map((e) => e.payload as RegistryChange);
    if (!counts().some((change) => change.versions === 2))
      await new Promise<void>((resolve) =>
        socket.on('message', () => counts().some((change) => change.versions === 2) && resolve()),
      );
    expect(counts().at(-1)).toEqual({ versions: 2, models: 2 });
    // And the runs list the client would fetch on reconnect agrees.
    expect(app.runs.listRuns(10).map((listed) => listed.id)).toEqual([cliRunId]);
    socket.close();
    await once(socket, 'close');
  }, 120_000);
});
