/**
 * `distillery serve`: the contract over HTTP + WebSocket for browsers and scripts. Requests are
 * `POST /api/<method>` with the params object as JSON and `Authorization: Bearer <token>`; events
 * stream over a WebSocket at `/events`. Every request needs the random token printed at start.
 * The built renderer is served from `staticDir`; opening `/?token=…` sets a cookie so the page's
 * own assets and images load without the token in every URL. Before the token is looked at, a
 * request must name this server in `Host` and, when it has an `Origin`, come from one of its own
 * pages (address-policy.ts); bodies are capped at MAX_REQUEST_BODY_BYTES.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline, type Duplex } from 'node:stream';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Answer, ErrorInfo } from '../../preload/contract';
import { DistilleryError, serializeError } from '../base/errors';
import { Disposable, toDisposable } from '../base/lifecycle';
import { dispatch, type Handlers } from '../api/handlers';
import type { ContractEvent, EventFanout } from '../jobs/event-fanout';
import { PIPELINE_LIMITS } from '../pipeline/limits';
import { AddressPolicy, type Refusal } from './address-policy';

export interface ServeOptions {
  port: number;
  host: string;
  /** Fixed token (tests); default: 32 random bytes as hex. */
  token?: string;
  /** Built renderer (index.html + assets). */
  staticDir: string;
  /** Folders whose files `/files?path=` may serve (run folders with sample grids). */
  fileRoots: string[];
}

/**
 * The largest request body read (64 MiB): four times the largest pipeline document as compact JSON
 * (PIPELINE_LIMITS.bytes), so that document still fits pretty-printed or with escaped characters,
 * wrapped in its request's params. A larger body is refused with 413 before it is read.
 */
export const MAX_REQUEST_BODY_BYTES = 4 * PIPELINE_LIMITS.bytes;
const COOKIE = 'distillery_token';
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};
/** The page may load its own scripts, styles, images and connect back to this server only. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function statusForCode(code: string): number {
  if (code === 'INVALID_REQUEST') return 400;
  if (code === 'UNAUTHORIZED') return 401;
  if (code === 'FORBIDDEN_HOST' || code === 'FORBIDDEN_ORIGIN') return 403;
  if (code === 'PAYLOAD_TOO_LARGE') return 413;
  if (code === 'UNKNOWN_METHOD' || code.endsWith('_NOT_FOUND')) return 404;
  if (code === 'INTERNAL') return 500;
  return 422;
}

function statusFor(answer: Answer<unknown>): number {
  return answer.ok ? 200 : statusForCode(answer.error.code);
}

function sendJson(res: ServerResponse, status: number, body: Answer<unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * How long the rest of a refused request's body is read and dropped once the answer is out, before
 * the connection is cut: closing at once, with the client's data still unread, makes the kernel
 * reset the connection, and a client still sending may lose the answer with it.
 */
const LINGER_MS = 2000;

/**
 * A failed answer that never reached a handler (host, origin, auth, method, body), in the envelope
 * they use. When the body was left unread, the connection then closes: our side first (the
 * client sees the answer is all), the rest after LINGER_MS of dropping what it still sends.
 */
function refuse(res: ServerResponse, status: number, error: ErrorInfo): void {
  const req = res.req;
  if (req.complete) {
    sendJson(res, status, { ok: false, error });
    return;
  }
  // Otherwise Node would close the socket itself as soon as the answer is written (whenever the
  // client asked to close, or an unread body makes it unusable): kept, it is ours to close.
  res.shouldKeepAlive = true;
  res.removeHeader('connection');
  sendJson(res, status, { ok: false, error });
  res.once('finish', () => {
    const socket = req.socket;
    req.resume();
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
};

/** The same refusal on a socket that asked for an upgrade, which has no ServerResponse. */
function refuseUpgrade(socket: Duplex, { status, error }: Refusal): void {
  const text = JSON.stringify({ ok: false, error } satisfies Answer<unknown>);
  // The client may already be gone; the refusal then has no one to reach.
  socket.on('error', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(text)}\r\n` +
      'connection: close\r\n\r\n' +
      text,
  );
}

function tooLarge(declared: number | undefined): DistilleryError {
  return new DistilleryError(
    'PAYLOAD_TOO_LARGE',
    `Request body ${declared === undefined ? 'is over' : `of ${declared} bytes is over`} the limit of ${MAX_REQUEST_BODY_BYTES} bytes (${MAX_REQUEST_BODY_BYTES / 2 ** 20} MiB)`,
    {
      field: 'body',
      expected: `at most ${MAX_REQUEST_BODY_BYTES} bytes`,
      received: declared ?? `more than ${MAX_REQUEST_BODY_BYTES} bytes`,
    },
  );
}

/**
 * Reads the body up to MAX_REQUEST_BODY_BYTES (a declared length over it is refused before this is
 * called); a chunked body stops being read as soon as it passes the limit.
 */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BODY_BYTES) {
        // What is left is dropped, not kept, while the refusal goes out.
        req.off('data', onData);
        reject(tooLarge(undefined));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolvePromise(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('The client closed the connection before sending the whole body'));
    });
  });
}

/** The request target as a URL; refuses the absolute and authority forms (only proxies use them). */
function parseTarget(target: string | undefined): URL {
  if (target?.startsWith('/')) {
    try {
      // Prefixed, not resolved against a base: "//x/y" is a path here, not another host.
      return new URL(`http://serve.invalid${target}`);
    } catch {
      // Falls through to the refusal.
    }
  }
  throw new DistilleryError('INVALID_REQUEST', `Request target "${target ?? ''}" is not a path`, {
    field: 'url',
    expected: 'a path starting with "/"',
    received: target ?? null,
  });
}

/** A %-decoded URL component, or a coded 400 that names it when its encoding is broken. */
function decodeComponent(raw: string, field: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new DistilleryError('INVALID_REQUEST', `The ${field} "${raw}" is not valid %-encoded UTF-8`, {
      field,
      expected: '%XX escapes that decode to UTF-8',
      received: raw,
    });
  }
  if (decoded.includes('\0')) {
    throw new DistilleryError('INVALID_REQUEST', `The ${field} "${raw}" holds a NUL character`, {
      field,
      expected: 'no %00',
      received: raw,
    });
  }
  return decoded;
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== COOKIE) continue;
    try {
      return decodeURIComponent(value.join('='));
    } catch {
      return undefined; // a mangled cookie is no token
    }
  }
  return undefined;
}

function within(root: string, path: string): boolean {
  const base = resolve(root) + sep;
  return (resolve(path) + sep).startsWith(base) || resolve(path) === resolve(root);
}

/** The real path (symlinks resolved), or undefined when there is none (missing, unreadable). */
async function realPathOf(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch {
    return undefined;
  }
}

export class ServeServer extends Disposable {
  readonly token: string;
  private readonly server: Server;
  private readonly sockets = new WebSocketServer({ noServer: true });
  private readonly tokenBytes: Buffer;
  /** Set once listening, when the port is known; nothing is answered before. */
  private policy: AddressPolicy | undefined;

  private constructor(
    private readonly handlers: Handlers,
    fanout: EventFanout,
    private readonly options: ServeOptions,
  ) {
    super();
    this.token = options.token ?? randomBytes(32).toString('hex');
    this.tokenBytes = Buffer.from(this.token);
    const onRequest = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => {
      this.handle(req, res, expectsContinue).catch((error: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const data = serializeError(error);
        refuse(res, statusForCode(data.code), data);
      });
    };
    this.server = createServer((req, res) => onRequest(req, res, false));
    // `Expect: 100-continue` (curl, for large bodies): the body is asked for only once the
    // request has passed every check, so an oversized or unauthorized one is never sent.
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, true));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const refusal = this.upgradeRefusal(req);
      if (refusal) {
        refuseUpgrade(socket, refusal);
        return;
      }
      this.sockets.handleUpgrade(req, socket, head, (ws) => this.sockets.emit('connection', ws, req));
    });
    this._register(
      fanout.onDidEvent((event: ContractEvent) => {
        const text = JSON.stringify(event);
        for (const client of this.sockets.clients) if (client.readyState === 1) client.send(text);
      }),
    );
    this.sockets.on('connection', (ws: WebSocket) =>
      ws.send(JSON.stringify({ event: 'hello', payload: { protocol: 1 } })),
    );
    this._register(
      toDisposable(() => {
        for (const client of this.sockets.clients) client.terminate();
        this.sockets.close();
        this.server.closeAllConnections();
        this.server.close();
      }),
    );
  }

  static async start(handlers: Handlers, fanout: EventFanout, options: ServeOptions): Promise<ServeServer> {
    const server = new ServeServer(handlers, fanout, options);
    await new Promise<void>((resolvePromise, reject) => {
      server.server.once('error', reject);
      server.server.listen(options.port, options.host, () => {
        server.policy = new AddressPolicy(options.host, server.port);
        resolvePromise();
      });
    });
    return server;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `http://${host}:${this.port}/?token=${this.token}`;
  }

  private tokenMatches(candidate: string | undefined | null): boolean {
    if (!candidate) return false;
    const bytes = Buffer.from(candidate);
    return bytes.length === this.tokenBytes.length && timingSafeEqual(bytes, this.tokenBytes);
  }

  /** Bearer header, `?token=` or the cookie set when the page was opened with the token. */
  private authorized(req: IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ') && this.tokenMatches(header.slice(7))) return true;
    return this.tokenMatches(url.searchParams.get('token')) || this.tokenMatches(cookieToken(req));
  }

  /** Host, then Origin: checked before the token, on every request and upgrade. */
  private addressRefusal(req: IncomingMessage): Refusal | undefined {
    if (!this.policy) {
      return { status: 403, error: { code: 'FORBIDDEN_HOST', message: 'The server is not listening yet' } };
    }
    return this.policy.checkHost(req.headers.host) ?? this.policy.checkOrigin(req.headers.origin);
  }

  private upgradeRefusal(req: IncomingMessage): Refusal | undefined {
    const refusal = this.addressRefusal(req);
    if (refusal) return refusal;
    let url: URL;
    try {
      url = parseTarget(req.url);
    } catch (error) {
      return { status: 400, error: serializeError(error) };
    }
    if (url.pathname !== '/events') {
      return {
        status: 404,
        error: {
          code: 'INVALID_REQUEST',
          message: `No WebSocket at "${url.pathname}"; events stream at /events`,
          details: { field: 'url', expected: '/events', received: url.pathname },
        },
      };
    }
    if (!this.authorized(req, url)) {
      return {
        status: 401,
        error: {
          code: 'UNAUTHORIZED',
          message: 'Missing or wrong token: open /events?token=<token> as printed by distillery serve',
        },
      };
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> {
    const refusal = this.addressRefusal(req);
    if (refusal) {
      refuse(res, refusal.status, refusal.error);
      return;
    }
    const url = parseTarget(req.url);
    if (url.pathname.startsWith('/api/')) return this.handleApi(req, res, url, expectsContinue);
    if (!this.authorized(req, url)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Distillery: open the URL with its token, as printed by "distillery serve".\n');
      return;
    }
    if (url.searchParams.has('token')) {
      res.setHeader(
        'set-cookie',
        `${COOKIE}=${encodeURIComponent(this.token)}; HttpOnly; SameSite=Strict; Path=/`,
      );
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/files') return this.serveFile(res, url.searchParams.get('path') ?? '');
    return this.serveStatic(res, decodeComponent(url.pathname, 'path'));
  }

  private async handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    expectsContinue: boolean,
  ): Promise<void> {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ') || !this.tokenMatches(header.slice(7))) {
      refuse(res, 401, {
        code: 'UNAUTHORIZED',
        message:
          'Missing or wrong token: send "Authorization: Bearer <token>" as printed by distillery serve',
      });
      return;
    }
    if (req.method !== 'POST') {
      refuse(res, 405, { code: 'INVALID_REQUEST', message: 'Use POST with a JSON body' });
      return;
    }
    const method = decodeComponent(url.pathname.slice('/api/'.length), 'method');
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > MAX_REQUEST_BODY_BYTES) throw tooLarge(Number(declared));
    if (expectsContinue) res.writeContinue();
    let params: unknown = {};
    const body = await readBody(req);
    if (body.trim() !== '') {
      try {
        params = JSON.parse(body);
      } catch (error) {
        refuse(res, 400, {
          code: 'INVALID_REQUEST',
          message: `Body is not valid JSON: ${(error as Error).message}`,
          details: { method },
        });
        return;
      }
    }
    const answer = await dispatch(this.handlers, method, params);
    sendJson(res, statusFor(answer), answer);
  }

  /**
   * A file under one of the file roots. Compared as real paths: a symlink inside a run folder
   * that points outside it (to a file, or to a folder above) serves nothing.
   */
  private async serveFile(res: ServerResponse, path: string): Promise<void> {
    const real = path ? await realPathOf(path) : undefined;
    const roots = await Promise.all(this.options.fileRoots.map((root) => realPathOf(root)));
    if (!real || !roots.some((root) => root !== undefined && within(root, real))) {
      res.writeHead(404).end();
      return;
    }
    await this.sendFile(res, real, CONTENT_TYPES[extname(real)] ?? 'application/octet-stream', {
      'cache-control': 'no-store',
    });
  }

  private async serveStatic(res: ServerResponse, pathname: string): Promise<void> {
    const root = await realPathOf(this.options.staticDir);
    if (!root) {
      this.notBuilt(res);
      return;
    }
    const requested = normalize(join(root, pathname));
    let file = within(root, requested) ? await realPathOf(requested) : requested;
    if (file !== undefined && !within(root, file)) {
      res.writeHead(404).end();
      return;
    }
    // Anything that is not a file is a route of the single-page app.
    if (file === undefined || !(await this.sendable(file))) file = await realPathOf(join(root, 'index.html'));
    if (file === undefined || !within(root, file)) {
      this.notBuilt(res);
      return;
    }
    const headers: Record<string, string> = {};
    if (file.endsWith('.html')) {
      headers['content-security-policy'] = CSP;
      headers['cache-control'] = 'no-store';
    }
    await this.sendFile(res, file, CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', headers);
  }

  private notBuilt(res: ServerResponse): void {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(
      'Distillery: the workbench is not built. Run "npm run build:renderer", then reload. The API at /api/ works.\n',
    );
  }

  private async sendable(path: string): Promise<boolean> {
    return (await stat(path).catch(() => undefined))?.isFile() ?? false;
  }

  /**
   * Streams a regular file opened without following a final symlink, so one swapped in after
   * the real-path check is not followed; a file that cannot be opened is a 404, never a crash.
   */
  private async sendFile(
    res: ServerResponse,
    path: string,
    contentType: string,
    headers: Record<string, string>,
  ): Promise<void> {
    let handle;
    try {
      handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch {
      res.writeHead(404).end();
      return;
    }
    const stat = await handle.stat().catch(() => undefined);
    if (!stat?.isFile()) {
      await handle.close();
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': contentType, 'content-length': String(stat.size), ...headers });
    // Either side failing (a read error, the client gone) closes both, and the file with them.
    pipeline(handle.createReadStream(), res, () => undefined);
  }
}
