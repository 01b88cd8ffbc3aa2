/**
 * `distillery serve`: the contract over HTTP + WebSocket for browsers and scripts. Requests are
 * `POST /api/<method>` with the params object as JSON and `Authorization: Bearer <token>`; events
 * stream over a WebSocket at `/events`. Every request needs the random token printed at start.
 * The built renderer is served from `staticDir`; opening `/?token=…` sets a cookie so the page's
 * own assets and images load without the token in every URL.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Answer, ErrorInfo } from '../../preload/contract';
import { Disposable, toDisposable } from '../base/lifecycle';
import { dispatch, type Handlers } from '../api/handlers';
import type { ContractEvent, EventFanout } from '../jobs/event-fanout';

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

const MAX_BODY_BYTES = 16 * 1024 * 1024;
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

function statusFor(answer: Answer<unknown>): number {
  if (answer.ok) return 200;
  const code = answer.error.code;
  if (code === 'INVALID_REQUEST') return 400;
  if (code === 'UNAUTHORIZED') return 401;
  if (code === 'UNKNOWN_METHOD' || code.endsWith('_NOT_FOUND')) return 404;
  if (code === 'INTERNAL') return 500;
  return 422;
}

function sendJson(res: ServerResponse, status: number, body: Answer<unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** A failed answer that never reached a handler (auth, method, body), in the envelope they use. */
function refuse(res: ServerResponse, status: number, error: ErrorInfo): void {
  sendJson(res, status, { ok: false, error });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolvePromise(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

function within(root: string, path: string): boolean {
  const base = resolve(root) + sep;
  return (resolve(path) + sep).startsWith(base) || resolve(path) === resolve(root);
}

export class ServeServer extends Disposable {
  readonly token: string;
  private readonly server: Server;
  private readonly sockets = new WebSocketServer({ noServer: true });
  private readonly tokenBytes: Buffer;

  private constructor(
    private readonly handlers: Handlers,
    fanout: EventFanout,
    private readonly options: ServeOptions,
  ) {
    super();
    this.token = options.token ?? randomBytes(32).toString('hex');
    this.tokenBytes = Buffer.from(this.token);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) refuse(res, 500, { code: 'INTERNAL', message: (error as Error).message });
        else res.destroy();
      });
    });
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== '/events' || !this.authorized(req, url)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
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
      server.server.listen(options.port, options.host, () => resolvePromise());
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/api/')) return this.handleApi(req, res, url);
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
    return this.serveStatic(res, url.pathname);
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
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
    const method = decodeURIComponent(url.pathname.slice('/api/'.length));
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

  private serveFile(res: ServerResponse, path: string): void {
    if (
      !path ||
      !this.options.fileRoots.some((root) => within(root, path)) ||
      !existsSync(path) ||
      !statSync(path).isFile()
    ) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    createReadStream(path).pipe(res);
  }

  private serveStatic(res: ServerResponse, pathname: string): void {
    const root = resolve(this.options.staticDir);
    let file = normalize(join(root, decodeURIComponent(pathname)));
    if (!within(root, file)) {
      res.writeHead(404).end();
      return;
    }
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(root, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        'Distillery: the workbench is not built. Run "npm run build:renderer", then reload. The API at /api/ works.\n',
      );
      return;
    }
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    };
    if (file.endsWith('.html')) {
      headers['content-security-policy'] = CSP;
      headers['cache-control'] = 'no-store';
    }
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  }
}
