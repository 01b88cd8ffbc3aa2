/**
 * Serve mode under hostile requests: a real server on a real port, real HTTP and WebSocket
 * requests with crafted Host, Origin and Cookie headers, broken %-encoding, oversized bodies, and
 * symlinks planted in a run folder.
 */
import { once } from 'node:events';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Answer, ErrorInfo } from '../../preload/contract';
import { createHandlers } from '../../main/api/handlers';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { EventFanout } from '../../main/jobs/event-fanout';
import { PIPELINE_LIMITS } from '../../main/pipeline/limits';
import { AddressPolicy } from '../../main/serve/address-policy';
import { MAX_REQUEST_BODY_BYTES } from '../../main/serve/request-input';
import { ServeServer } from '../../main/serve/server';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** The error of a refused JSON answer. */
function errorOf(reply: Reply): ErrorInfo {
  const answer = JSON.parse(reply.body) as Answer<unknown>;
  if (answer.ok) throw new Error(`expected a refusal, got ${reply.status} ${reply.body}`);
  return answer.error;
}

describe('serve mode refuses what it must', () => {
  ensureNoLeaks();
  const token = 'b'.repeat(64);
  let tmp: ReturnType<typeof makeTempDir>;
  let app: DistilleryApp;
  let fanout: EventFanout;
  let server: ServeServer;
  let port: number;

  beforeEach(async () => {
    tmp = makeTempDir();
    app = createApp({ dataDir: tmp.dir, concurrency: 1 });
    fanout = new EventFanout(app.runner, 20);
    const staticDir = join(tmp.dir, 'renderer');
    mkdirSync(staticDir, { recursive: true });
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>workbench</title>');
    server = await ServeServer.start(createHandlers(app), fanout, {
      port: 0,
      host: '127.0.0.1',
      token,
      staticDir,
      fileRoots: [app.layout.runs],
    });
    port = server.port;
  });

  afterEach(() => {
    server.dispose();
    fanout.dispose();
    app.dispose();
    tmp.cleanup();
  });

  /** One request with exactly these headers (node:http lets a test set Host, which fetch does not). */
  function send(
    path: string,
    options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: options.method ?? 'GET',
          headers: { host: `127.0.0.1:${port}`, ...options.headers },
          agent: false,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  const api = (method: string, headers: Record<string, string> = {}, body = '{}') =>
    send(`/api/${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body,
    });

  /** Status and body of a WebSocket upgrade that was refused, or 101 when it opened. */
  function upgrade(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
    return new Promise((resolve, reject) => {
      socket.on('open', () => {
        socket.close();
        resolve({ status: 101, body: '' });
      });
      socket.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      socket.on('error', reject);
    });
  }

  it('answers only requests that name it in Host, on its port (DNS rebinding)', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      expect((await api('catalog.list', { host })).status, host).toBe(200);
    }
    const rebound = await api('catalog.list', { host: `evil.example.com:${port}` });
    expect(rebound.status).toBe(403);
    expect(errorOf(rebound)).toMatchObject({
      code: 'FORBIDDEN_HOST',
      details: { header: 'host', received: `evil.example.com:${port}` },
    });
    expect(errorOf(rebound).message).toContain(`127.0.0.1:${port}`);
    // Right name, wrong port: a page on another local port rebinding to this one.
    expect(errorOf(await api('catalog.list', { host: `127.0.0.1:${port + 1}` })).code).toBe('FORBIDDEN_HOST');
    expect(errorOf(await api('catalog.list', { host: 'localhost' })).code).toBe('FORBIDDEN_HOST');
    // Pages and run files too, even with the token.
    const page = await send(`/?token=${token}`, { headers: { host: `evil.example.com:${port}` } });
    expect(page.status).toBe(403);
    expect(page.headers['set-cookie']).toBeUndefined();
    expect(errorOf(page).code).toBe('FORBIDDEN_HOST');
    const file = await send(`/files?path=${encodeURIComponent(app.layout.runs)}&token=${token}`, {
      headers: { host: `evil.example.com:${port}` },
    });
    expect(errorOf(file).code).toBe('FORBIDDEN_HOST');
  });

  it('refuses a request without Host (HTTP/1.0) with a coded 403', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.end(
      `POST /api/catalog.list HTTP/1.0\r\nauthorization: Bearer ${token}\r\ncontent-length: 2\r\n\r\n{}`,
    );
    let raw = '';
    socket.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    await once(socket, 'close');
    expect(raw.slice(0, raw.indexOf('\r\n'))).toBe('HTTP/1.1 403 Forbidden');
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN_HOST', details: { header: 'host', received: null } },
    });
  });

  it('answers only its own pages when a request carries an Origin; scripts without one still work', async () => {
    expect((await api('catalog.list')).status).toBe(200);
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      expect((await api('catalog.list', { origin })).status, origin).toBe(200);
    }
    for (const origin of [
      'https://evil.example',
      'null',
      `http://127.0.0.1:${port + 1}`,
      `https://127.0.0.1:${port}`,
    ]) {
      const reply = await api('catalog.list', { origin });
      expect(reply.status, origin).toBe(403);
      expect(errorOf(reply), origin).toMatchObject({
        code: 'FORBIDDEN_ORIGIN',
        details: { header: 'origin', received: origin },
      });
    }
    // A cross-site page that somehow holds the cookie gets no page either.
    const page = await send('/', {
      headers: { origin: 'https://evil.example', cookie: `distillery_token=${token}` },
    });
    expect(errorOf(page).code).toBe('FORBIDDEN_ORIGIN');
  });

  it('opens the event socket only for its own origin and Host (cross-site WebSocket hijacking)', async () => {
    const own = await upgrade(`/events?token=${token}`, { origin: `http://127.0.0.1:${port}` });
    expect(own.status).toBe(101);
    // With the token, the cookie, or both: a foreign origin is refused before the token matters.
    const foreign: Array<{ path: string; headers: Record<string, string> }> = [
      { path: `/events?token=${token}`, headers: { origin: 'https://evil.example' } },
      { path: '/events', headers: { origin: 'https://evil.example', cookie: `distillery_token=${token}` } },
    ];
    for (const { path, headers } of foreign) {
      const refused = await upgrade(path, headers);
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN_ORIGIN' } });
    }
    const rebound = await upgrade(`/events?token=${token}`, { host: `evil.example.com:${port}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: { code: 'FORBIDDEN_HOST' } });
    const noToken = await upgrade('/events', { origin: `http://127.0.0.1:${port}` });
    expect(noToken.status).toBe(401);
    expect(JSON.parse(noToken.body)).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    const elsewhere = await upgrade(`/socket?token=${token}`, {});
    expect(elsewhere.status).toBe(404);
    expect(JSON.parse(elsewhere.body)).toMatchObject({
      error: { code: 'INVALID_REQUEST', details: { received: '/socket' } },
    });
  });

  it('serves run files by real path: no symlink leads out of a run folder', async () => {
    const taskDir = join(app.layout.runs, 'r-1', 'sample');
    mkdirSync(taskDir, { recursive: true });
    writeFileSync(join(taskDir, 'grid.png'), 'grid-bytes');
    const outside = join(tmp.dir, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.txt'), 'secret-bytes');
    symlinkSync(join(outside, 'secret.txt'), join(taskDir, 'leak.png'));
    symlinkSync(outside, join(taskDir, 'up'));
    symlinkSync(join(taskDir, 'grid.png'), join(taskDir, 'alias.png'));
    const get = (path: string) => send(`/files?path=${encodeURIComponent(path)}&token=${token}`);

    const grid = await get(join(taskDir, 'grid.png'));
    expect(grid).toMatchObject({ status: 200, body: 'grid-bytes' });
    expect(grid.headers['content-type']).toBe('image/png');
    // A link that stays inside the run folders is still a run file.
    expect(await get(join(taskDir, 'alias.png'))).toMatchObject({ status: 200, body: 'grid-bytes' });
    for (const path of [
      join(taskDir, 'leak.png'),
      join(taskDir, 'up', 'secret.txt'),
      `${taskDir}/../../../outside/secret.txt`,
      join(outside, 'secret.txt'),
      join(taskDir, 'missing.png'),
      taskDir,
    ]) {
      const reply = await get(path);
      expect(reply.status, path).toBe(404);
      expect(reply.body, path).not.toContain('secret-bytes');
    }
  });

  it('serves the workbench from its own folder only, by real path', async () => {
    const staticDir = join(tmp.dir, 'renderer');
    mkdirSync(join(staticDir, 'assets'));
    writeFileSync(join(staticDir, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(tmp.dir, 'secret.js'), 'secret-bytes');
    symlinkSync(join(tmp.dir, 'secret.js'), join(staticDir, 'assets', 'leak.js'));
    const app = await send(`/assets/app.js?token=${token}`);
    expect(app).toMatchObject({ status: 200, body: 'console.log(1)' });
    expect(app.headers['content-type']).toBe('text/javascript; charset=utf-8');
    // A route of the single-page app is its index page, with the page's policy.
    const route = await send(`/runs/r-1?token=${token}`);
    expect(route.body).toContain('<title>workbench</title>');
    expect(route.headers['content-security-policy']).toContain("default-src 'self'");
    const leak = await send(`/assets/leak.js?token=${token}`);
    expect(leak.status).toBe(404);
    expect(leak.body).not.toContain('secret-bytes');
    const climb = await send(`/%2e%2e/secret.js?token=${token}`);
    expect(climb.body).not.toContain('secret-bytes');
  });

  it('answers broken %-encoding with a coded 400 that names the part, not a 500', async () => {
    const method = await api('%E0%A4%A');
    expect(method.status).toBe(400);
    expect(errorOf(method)).toMatchObject({
      code: 'INVALID_REQUEST',
      details: { field: 'method', received: '%E0%A4%A' },
    });
    const page = await send(`/assets/%C0%AF.js?token=${token}`);
    expect(page.status).toBe(400);
    expect(errorOf(page)).toMatchObject({ code: 'INVALID_REQUEST', details: { field: 'path' } });
    const nul = await send(`/index.html%00.png?token=${token}`);
    expect(nul.status).toBe(400);
    expect(errorOf(nul).message).toContain('NUL');
    // A mangled cookie is no token: 401, and the server is still fine.
    expect((await send('/', { headers: { cookie: 'distillery_token=%E0%A4%A' } })).status).toBe(401);
    expect((await send(`/?token=${token}`)).status).toBe(200);
  });

  it('lets a body over the document limit but within its own reach the validator, which names it', async () => {
    expect(MAX_REQUEST_BODY_BYTES).toBeGreaterThan(PIPELINE_LIMITS.bytes);
    const doc = {
      format: 1,
      name: 'big',
      seed: 1,
      description: 'x'.repeat(PIPELINE_LIMITS.bytes),
      nodes: [],
      edges: [],
    };
    const reply = await api('pipelines.validate', {}, JSON.stringify({ doc }));
    expect(reply.status).toBe(200);
    const answer = JSON.parse(reply.body) as Answer<Array<{ code: string }>>;
    expect(answer.ok && answer.result.map((issue) => issue.code)).toContain('PIPELINE_TOO_LARGE');
  }, 30_000);

  it('refuses a body over the limit with 413 before reading it', async () => {
    const declared = 100 * 1024 * 1024;
    expect(MAX_REQUEST_BODY_BYTES).toBe(64 * 1024 * 1024);
    // Declared 100 MB, of which only 1 MiB is ever sent: the answer comes without the rest.
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/api/pipelines.validate',
      method: 'POST',
      agent: false,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-length': String(declared),
      },
    });
    req.on('error', () => undefined); // the server closes the connection after answering
    req.write(Buffer.alloc(1024 * 1024, 0x20));
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    let body = '';
    for await (const chunk of res) body += (chunk as Buffer).toString();
    req.destroy();
    expect(res.statusCode).toBe(413);
    expect(JSON.parse(body)).toMatchObject({
      ok: false,
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        details: { field: 'body', received: declared, expected: `at most ${MAX_REQUEST_BODY_BYTES} bytes` },
      },
    });
  }, 15_000);

  it('refuses an oversized body announced with Expect: 100-continue before the client sends it', async () => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/api/pipelines.validate',
      method: 'POST',
      agent: false,
      headers: {
        authorization: `Bearer ${token}`,
        'content-length': String(MAX_REQUEST_BODY_BYTES + 1),
        expect: '100-continue',
      },
    });
    let continued = false;
    req.on('continue', () => (continued = true));
    req.on('error', () => undefined);
    req.flushHeaders();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    res.resume();
    req.destroy();
    expect(res.statusCode).toBe(413);
    expect(continued).toBe(false);

    // Within the limit, the same kind of request is invited to send its body and answered.
    const small = request({
      host: '127.0.0.1',
      port,
      path: '/api/catalog.list',
      method: 'POST',
      agent: false,
      headers: { authorization: `Bearer ${token}`, 'content-length': '2', expect: '100-continue' },
    });
    small.on('continue', () => small.end('{}'));
    small.flushHeaders();
    const [ok] = (await once(small, 'response')) as [IncomingMessage];
    ok.resume();
    expect(ok.statusCode).toBe(200);
  }, 15_000);

  it('stops reading a chunked body once it passes the limit and answers 413', async () => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/api/pipelines.validate',
      method: 'POST',
      agent: false,
      headers: { authorization: `Bearer ${token}`, 'transfer-encoding': 'chunked' },
    });
    req.on('error', () => undefined);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let answered = false;
    const response = once(req, 'response').then(([res]) => {
      answered = true;
      return res as IncomingMessage;
    });
    let sent = 0;
    let closed = false;
    req.once('close', () => (closed = true));
    // Writes until the server answers, as a streaming client does: between writes it reads what
    // arrives. The cap only keeps a broken server from taking forever.
    while (!answered && !closed && sent < 2 * MAX_REQUEST_BODY_BYTES) {
      const flushed = req.write(chunk);
      sent += chunk.length;
      // Not once(): it rejects on the EPIPE that writing into a closed connection ends with.
      await new Promise((resolve) => {
        if (flushed) setImmediate(resolve);
        else {
          req.once('drain', resolve);
          req.once('close', resolve);
          void response.then(resolve, resolve);
        }
      });
    }
    const res = await response;
    let body = '';
    for await (const part of res) body += (part as Buffer).toString();
    req.destroy();
    expect(res.statusCode).toBe(413);
    expect(JSON.parse(body)).toMatchObject({
      error: { code: 'PAYLOAD_TOO_LARGE', details: { field: 'body' } },
    });
    expect(sent).toBeLessThan(2 * MAX_REQUEST_BODY_BYTES);
  }, 60_000);

  it('answers a 100 MB fetch body with 413 rather than a reset connection', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/api/pipelines.validate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: Buffer.alloc(100 * 1024 * 1024, 0x20),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as Answer<unknown>).ok).toBe(false);
  }, 60_000);
});

describe('address policy for other binds', () => {
  it('accepts the --host name given, and the loopback names, on the bound port', () => {
    const policy = new AddressPolicy('192.168.7.5', 7860);
    for (const host of ['192.168.7.5:7860', '127.0.0.1:7860', 'localhost:7860', '[::1]:7860']) {
      expect(policy.checkHost(host), host).toBeUndefined();
    }
    expect(policy.checkHost('192.168.7.6:7860')?.error.code).toBe('FORBIDDEN_HOST');
    expect(policy.checkHost('192.168.7.5')?.error.code).toBe('FORBIDDEN_HOST');
    expect(policy.checkHost('192.168.7.5:7860@evil.example')?.error.code).toBe('FORBIDDEN_HOST');
    expect(policy.checkOrigin('http://192.168.7.5:7860')).toBeUndefined();
    expect(policy.checkOrigin('http://192.168.7.5.evil.example:7860')).toMatchObject({
      status: 403,
      error: { code: 'FORBIDDEN_ORIGIN' },
    });
  });

  it('writes IPv6 names in brackets and leaves the default port out, as browsers do', () => {
    const ipv6 = new AddressPolicy('::1', 7860);
    expect(ipv6.checkHost('[::1]:7860')).toBeUndefined();
    expect(ipv6.checkOrigin('http://[::1]:7860')).toBeUndefined();
    const port80 = new AddressPolicy('127.0.0.1', 80);
    expect(port80.checkHost('127.0.0.1')).toBeUndefined();
    expect(port80.checkHost('127.0.0.1:80')).toBeUndefined();
    expect(port80.checkOrigin('http://127.0.0.1')).toBeUndefined();
  });

  it('accepts every interface address and the host name when bound to all interfaces', () => {
    const policy = new AddressPolicy('0.0.0.0', 7860);
    const addresses = Object.values(networkInterfaces())
      .flat()
      .filter((address) => address !== undefined && address.family === 'IPv4')
      .map((address) => address.address);
    expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) expect(policy.checkHost(`${address}:7860`), address).toBeUndefined();
    expect(policy.checkHost(`${hostname()}:7860`)).toBeUndefined();
    expect(policy.checkHost('evil.example.com:7860')?.error.code).toBe('FORBIDDEN_HOST');
  });
});
