import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Answer, RunInfo } from '../../preload/contract';
import type { DistilleryBridge } from '../../preload/bridge';
import { ClientError, type ConnectionState } from '../../renderer/src/api/client';
import { IpcClient } from '../../renderer/src/api/ipc-client';
import { HttpClient, takeToken, TOKEN_STORAGE_KEY } from '../../renderer/src/api/ws-client';
import { formatHash, parseHash, type Route } from '../../renderer/src/stores/navigation';
import { describeBackend } from '../../renderer/src/stores/system';

afterEach(() => {
  vi.useRealTimers();
});

/** A WebSocket stand-in the test drives: open, deliver messages, drop the connection. */
class FakeSocket {
  static instances: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((message: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;

  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }

  open(): void {
    this.onopen?.();
  }

  deliver(message: unknown): void {
    this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) });
  }

  drop(): void {
    this.onclose?.();
  }

  close(): void {
    this.closed = true;
  }
}

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

describe('serve-mode client', () => {
  it('posts params as JSON with the bearer token and unwraps the answer', async () => {
    const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) =>
      jsonResponse(200, { ok: true, result: [] }),
    );
    const client = new HttpClient({
      baseUrl: 'http://127.0.0.1:7860',
      token: 'secret',
      fetch: fetchMock as unknown as typeof fetch,
    });
    expect(await client.request('runs.list', { limit: 5 })).toEqual([]);
    const [url, init] = fetchMock.mock.calls[0]!;
    expect(url).toBe('http://127.0.0.1:7860/api/runs.list');
    expect(init).toMatchObject({ method: 'POST', body: '{"limit":5}' });
    expect((init!.headers as Record<string, string>).Authorization).toBe('Bearer secret');
  });

  it('rethrows failed answers as ClientError with code and details', async () => {
    const answer: Answer<never> = {
      ok: false,
      error: {
        code: 'INVALID_REQUEST',
        message: 'Invalid params for runs.get: runId: Expected string',
        details: { method: 'runs.get' },
      },
    };
    const client = new HttpClient({ baseUrl: '', token: 't', fetch: async () => jsonResponse(400, answer) });
    const error = await client.request('runs.get', { runId: '' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', details: { method: 'runs.get' } });

    const unreachable = new HttpClient({
      baseUrl: '',
      token: 't',
      fetch: async () => {
        throw new TypeError('connection refused');
      },
    });
    await expect(unreachable.request('system.info', {})).rejects.toMatchObject({ code: 'NETWORK' });

    const html = new HttpClient({
      baseUrl: '',
      token: null,
      fetch: async () => new Response('nope', { status: 401 }),
    });
    await expect(html.request('system.info', {})).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('streams events from the socket and reconnects with backoff', async () => {
    vi.useFakeTimers();
    FakeSocket.instances = [];
    const client = new HttpClient({
      baseUrl: 'http://127.0.0.1:7860',
      token: 'a b',
      WebSocket: FakeSocket as unknown as typeof WebSocket,
      backoffMs: 100,
      maxBackoffMs: 1000,
    });
    const states: ConnectionState[] = [];
    client.onConnectionChange((state) => states.push(state));
    const seen: string[] = [];
    const off = client.on('run.status', (run) => seen.push(run.status));
    client.on('task.log', () => seen.push('log'));

    expect(FakeSocket.instances).toHaveLength(1);
    const first = FakeSocket.instances[0]!;
    expect(first.url).toBe('ws://127.0.0.1:7860/events?token=a%20b');
    first.open();
    first.deliver({ event: 'hello', payload: { protocol: 1 } });
    first.deliver({ event: 'run.status', payload: { status: 'running' } as RunInfo });
    first.deliver('not json');
    expect(seen).toEqual(['running']);

    first.drop();
    expect(client.connection).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(200);
    expect(FakeSocket.instances).toHaveLength(2);
    FakeSocket.instances[1]!.open();
    FakeSocket.instances[1]!.deliver({ event: 'run.status', payload: { status: 'done' } as RunInfo });
    expect(seen).toEqual(['running', 'done']);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);

    off();
    FakeSocket.instances[1]!.deliver({ event: 'run.status', payload: { status: 'failed' } as RunInfo });
    expect(seen).toEqual(['running', 'done']);

    client.dispose();
    expect(FakeSocket.instances[1]!.closed).toBe(true);
    FakeSocket.instances[1]!.drop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it('takes the token from the URL once, hides it, and keeps it for reloads', () => {
    const stored = new Map<string, string>();
    const replaced: string[] = [];
    const surface = (href: string) => ({
      location: { href },
      history: {
        replaceState: (_data: unknown, _unused: string, url?: string | URL | null) =>
          replaced.push(String(url)),
      },
      sessionStorage: {
        getItem: (key: string) => stored.get(key) ?? null,
        setItem: (key: string, value: string) => void stored.set(key, value),
      },
    });
    expect(takeToken(surface('http://127.0.0.1:7860/?token=abc&x=1#/runs'))).toBe('abc');
    expect(replaced).toEqual(['/?x=1#/runs']);
    expect(stored.get(TOKEN_STORAGE_KEY)).toBe('abc');
    expect(takeToken(surface('http://127.0.0.1:7860/#/editor'))).toBe('abc');
    expect(replaced).toHaveLength(1);
  });
});

describe('Electron client', () => {
  it('calls the bridge method named by the contract and unwraps its envelope', async () => {
    const calls: Array<[string, unknown]> = [];
    const listeners = new Set<(payload: unknown) => void>();
    const bridge = {
      'runs.cancel': async (params: unknown) => {
        calls.push(['runs.cancel', params]);
        return {
          ok: false,
          error: { code: 'RUN_NOT_FOUND', message: 'No run "x"', details: { runId: 'x' } },
        };
      },
      'system.info': async () => ({ ok: true, result: { cores: 8 } }),
      on: (_event: string, listener: (payload: unknown) => void) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    } as unknown as DistilleryBridge;
    const client = new IpcClient(bridge);
    expect(await client.request('system.info', {})).toEqual({ cores: 8 });
    await expect(client.request('runs.cancel', { runId: 'x' })).rejects.toMatchObject({
      code: 'RUN_NOT_FOUND',
      details: { runId: 'x' },
    });
    expect(calls).toEqual([['runs.cancel', { runId: 'x' }]]);
    client.on('task.log', () => {});
    expect(listeners.size).toBe(1);
    client.dispose();
    expect(listeners.size).toBe(0);
  });
});

describe('small renderer helpers', () => {
  it('routes by hash both ways', () => {
    const routes: Route[] = [
      { name: 'editor' },
      { name: 'runs' },
      { name: 'run', runId: 'r1' },
      { name: 'compare', runIds: ['r1', 'r2'] },
      { name: 'registry' },
      { name: 'model', ref: 'mv_0123456789' },
    ];
    for (const route of routes) expect(parseHash(formatHash(route))).toEqual(route);
    expect(parseHash('')).toEqual({ name: 'editor' });
  });

  it('says which backend runs and why the faster ones were skipped', () => {
    const described = describeBackend({
      version: '0.1.0',
      backend: {
        name: 'wasm',
        package: '@tensorflow/tfjs-backend-wasm',
        skipped: [
          { name: 'tensorflow-gpu', reason: '@tensorflow/tfjs-node-gpu is not installed' },
          { name: 'tensorflow', reason: '@tensorflow/tfjs-node is not installed' },
        ],
        features: { simd: true },
      },
      cores: 2,
      memoryBytes: 1,
      freeMemoryBytes: 1,
      dataDir: '/tmp',
      queueLength: 0,
      exportFormats: [{ format: 'tfjs', title: 'TensorFlow.js layers model' }],
      versions: {},
    });
    expect(`${described.label} — ${described.why}`).toBe('wasm — tfjs-node not installed');
    expect(described.detail).toContain('skipped tensorflow-gpu: @tensorflow/tfjs-node-gpu is not installed');
    expect(describeBackend(null).label).toBe('backend unknown');
  });
});
