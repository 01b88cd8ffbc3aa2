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
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { serializeError } from '../base/errors';
import { Disposable, toDisposable } from '../base/lifecycle';
import { dispatch, type Handlers } from '../api/handlers';
import type { ContractEvent, EventFanout } from '../jobs/event-fanout';
import { AddressPolicy, type Refusal } from './address-policy';
import {
  cookieToken,
  decodeComponent,
  MAX_REQUEST_BODY_BYTES,
  parseTarget,
  readBody,
  TOKEN_COOKIE,
  tooLarge,
} from './request-input';
import { refuse, refuseUpgrade, sendJson, statusFor, statusForCode } from './responses';
import { serveFile, serveStatic } from './static-files';

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

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
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
        `${TOKEN_COOKIE}=${encodeURIComponent(this.token)}; HttpOnly; SameSite=Strict; Path=/`,
      );
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/files')
      return serveFile(res, url.searchParams.get('path') ?? '', this.options.fileRoots);
    return serveStatic(res, decodeComponent(url.pathname, 'path'), this.options.staticDir);
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
}
