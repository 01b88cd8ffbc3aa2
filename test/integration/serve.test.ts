/**
 * `distillery serve` as a script would use it: a real server process, token auth, zod-validated
 * requests with coded errors, a run started over HTTP and its events streamed over the WebSocket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Answer, NodeSpecInfo, PipelineDoc, RunInfo, TaskInfo } from '../../preload/contract';
import { createHandlers } from '../../main/api/handlers';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { EventFanout } from '../../main/jobs/event-fanout';
import { ServeServer } from '../../main/serve/server';
import { REPO_ROOT } from '../helpers/cli';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';
import { missingFilesPipeline } from '../helpers/pipelines';

describe('distillery serve', () => {
  // The server is one process for the whole suite; each test must leave none of its workers behind.
  ensureNoLeaks();
  const tmp = makeTempDir();
  let server: ChildProcess;
  let base: string;
  let token: string;

  beforeAll(async () => {
    // Warm workers outlive the runs they serve by design (test/integration/warm-workers.test.ts);
    // without a pool, every worker a test starts must be gone after it.
    writeFileSync(join(tmp.dir, 'executors.json'), JSON.stringify({ local: { warmWorkers: 0 } }));
    server = spawn(
      process.execPath,
      ['--import', 'tsx', 'main/cli.ts', 'serve', '--port', '0', '--data-dir', tmp.dir],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /serving at (\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      server.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const parsed = new URL(url);
    token = parsed.searchParams.get('token')!;
    base = parsed.origin;
    expect(parsed.hostname).toBe('127.0.0.1');
    expect(token).toMatch(/^[0-9a-f]{64}$/);
  });

  afterAll(async () => {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    tmp.cleanup();
  });

  async function call<T>(
    method: string,
    params: unknown,
    auth = token,
  ): Promise<{ status: number; answer: Answer<T> }> {
    const res = await fetch(`${base}/api/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      body: typeof params === 'string' ? params : JSON.stringify(params),
    });
    return { status: res.status, answer: (await res.json()) as Answer<T> };
  }

  it('refuses requests and sockets without the right token (401)', async () => {
    expect((await call('catalog.list', {}, '')).status).toBe(401);
    const wrong = await call('catalog.list', {}, 'f'.repeat(64));
    expect(wrong.status).toBe(401);
    expect(wrong.answer).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect((await fetch(`${base}/`)).status).toBe(401);
    const socket = new WebSocket(`${base.replace('http', 'ws')}/events`);
    const status = await new Promise<number>((resolve) =>
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });

  it('answers malformed requests with 400 and a coded error', async () => {
    const notJson = await call('runs.get', '{"runId": ');
    expect(notJson.status).toBe(400);
    expect(notJson.answer).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    const badShape = await call('runs.get', { runId: 42 });
    expect(badShape.status).toBe(400);
    expect(badShape.answer).toMatchObject({
      ok: false,
      error: { code: 'INVALID_REQUEST', details: { method: 'runs.get', issues: [{ path: 'runId' }] } },
    });
    const unknown = await call('runs.explode', {});
    expect(unknown).toMatchObject({ status: 404, answer: { ok: false, error: { code: 'UNKNOWN_METHOD' } } });
    const missing = await call('runs.get', { runId: 'r-nope' });
    expect(missing).toMatchObject({ status: 404, answer: { ok: false, error: { code: 'RUN_NOT_FOUND' } } });
  });

  it('serves the catalog and validates pipelines with every issue', async () => {
    const catalog = await call<NodeSpecInfo[]>('catalog.list', {});
    expect(catalog.status).toBe(200);
    const types = catalog.answer.ok ? catalog.answer.result.map((s) => s.type) : [];
    expect(types).toEqual(
      expect.arrayContaining(['dataset.mnist', 'model.mlp', 'train', 'evaluate', 'export']),
    );
    const issues = await call<Array<{ code: string }>>('pipelines.validate', {
      doc: { format: 1, name: 'x', seed: 1, nodes: [{ id: 'a', type: 'nope', params: {} }], edges: [] },
    });
    expect(issues.answer.ok && issues.answer.result.map((i) => i.code)).toEqual(['UNKNOWN_NODE_TYPE']);
    // Told which file the document came from, every issue names it (as the CLI's validate prints).
    const named = await call<Array<{ code: string; file?: string }>>('pipelines.validate', {
      doc: { format: 1, name: 'x', seed: 1, nodes: [{ id: 'a', type: 'nope', params: {} }], edges: [] },
      file: 'x.distillery.json',
    });
    expect(named.answer.ok && named.answer.result.map((i) => i.file)).toEqual(['x.distillery.json']);
    // The schema requires what RequestMap declares: a validate request without its document is malformed.
    const withoutDoc = await call('pipelines.validate', {});
    expect(withoutDoc).toMatchObject({
      status: 400,
      answer: { ok: false, error: { code: 'INVALID_REQUEST', details: { issues: [{ path: 'doc' }] } } },
    });
  });

  it('starts a run over HTTP and streams its status and metrics over the WebSocket', async () => {
    const socket = new WebSocket(`${base.replace('http', 'ws')}/events?token=${token}`);
    const events: Array<{
      event: string;
      payload: { runId?: string; id?: string; status?: string; points?: unknown[] };
    }> = [];
    socket.on('message', (data: Buffer) =>
      events.push(JSON.parse(data.toString()) as (typeof events)[number]),
    );
    await new Promise((resolve) => socket.once('open', resolve));

    const doc = JSON.parse(
      readFileSync(join(REPO_ROOT, 'resources/pipelines/mnist-mlp.distillery.json'), 'utf8'),
    ) as PipelineDoc;
    doc.nodes[0]!.params = { trainLimit: 600, testLimit: 200 };
    const started = await call<RunInfo>('runs.start', { doc });
    expect(started.status).toBe(200);
    const runId = started.answer.ok ? started.answer.result.id : '';
    const done = await new Promise<RunInfo>((resolve) => {
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { event: string; payload: RunInfo };
        if (
          message.event === 'run.status' &&
          message.payload.id === runId &&
          message.payload.status !== 'running'
        )
          resolve(message.payload);
      });
    });
    socket.close();
    expect(done.status).toBe('done');
    const metricPoints = events
      .filter((e) => e.event === 'task.metrics' && e.payload.runId === runId)
      .flatMap((e) => e.payload.points ?? []);
    expect(metricPoints.length).toBeGreaterThan(20);
    expect(events.some((e) => e.event === 'task.status' && e.payload.status === 'running')).toBe(true);
    const listed = await call<RunInfo[]>('runs.list', {});
    expect(listed.answer.ok && listed.answer.result[0]!.id).toBe(runId);
  }, 90_000);
});

describe('serve server in process', () => {
  // Here the server, the fanout, the runner and its workers live in the test process, so the
  // check sees every disposable they create and every worker they fork.
  ensureNoLeaks();
  const token = 'a'.repeat(64);
  let tmp: ReturnType<typeof makeTempDir>;
  let app: DistilleryApp;
  let fanout: EventFanout;
  let server: ServeServer;

  beforeEach(async () => {
    tmp = makeTempDir();
    app = createApp({ dataDir: tmp.dir, concurrency: 1 });
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

  it('streams a run to a socket, and stops listening once disposed', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/events?token=${token}`);
    const events: Array<{ event: string; payload: unknown }> = [];
    // The only run of this app; whichever settled status it reaches first ends the wait.
    const settled = new Promise<RunInfo>((resolve) =>
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { event: string; payload: unknown };
        events.push(message);
        const run = message.payload as RunInfo;
        if (message.event === 'run.status' && run.status !== 'queued' && run.status !== 'running')
          resolve(run);
      }),
    );
    await once(socket, 'open');

    // A worker starts, fails on the missing files and exits: the whole path, without training.
    const doc = missingFilesPipeline();
    const response = await fetch(`${base}/api/runs.start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ doc }),
    });
    const started = (await response.json()) as Answer<RunInfo>;
    expect(started.ok).toBe(true);
    const run = await settled;
    expect(run).toMatchObject({ id: started.ok ? started.result.id : '', status: 'failed' });
    expect(events[0]).toEqual({ event: 'hello', payload: { protocol: 1 } });
    expect(
      events.some((e) => e.event === 'task.status' && (e.payload as TaskInfo).status === 'running'),
    ).toBe(true);
    const closed = once(socket, 'close');

    server.dispose();
    await closed;
    await expect(fetch(`${base}/api/runs.list`, { method: 'POST' })).rejects.toThrow();
  }, 60_000);
});
