/**
 * `distillery serve` as a script would use it: a real server process, token auth, zod-validated
 * requests with coded errors, a run started over HTTP and its events streamed over the WebSocket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answer, NodeSpecInfo, PipelineDoc, RunInfo } from '../../preload/contract';
import { REPO_ROOT } from '../helpers/cli';
import { makeTempDir } from '../helpers/tmp';

describe('distillery serve', () => {
  const tmp = makeTempDir();
  let server: ChildProcess;
  let base: string;
  let token: string;

  beforeAll(async () => {
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
