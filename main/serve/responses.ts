/**
 * How the server answers: the HTTP status for each error code, JSON answers in the contract's
 * envelope, and refusals of requests and upgrades that never reached a handler.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Answer, ErrorInfo } from '../../preload/contract';
import type { Refusal } from './address-policy';

/** The HTTP status that answers an error code. */
export function statusForCode(code: string): number {
  if (code === 'INVALID_REQUEST') return 400;
  if (code === 'UNAUTHORIZED') return 401;
  if (code === 'FORBIDDEN_HOST' || code === 'FORBIDDEN_ORIGIN') return 403;
  if (code === 'PAYLOAD_TOO_LARGE') return 413;
  if (code === 'UNKNOWN_METHOD' || code.endsWith('_NOT_FOUND')) return 404;
  if (code === 'INTERNAL') return 500;
  return 422;
}

/** The HTTP status of an answer. */
export function statusFor(answer: Answer<unknown>): number {
  return answer.ok ? 200 : statusForCode(answer.error.code);
}

/** Sends an answer as JSON, never cached. */
export function sendJson(res: ServerResponse, status: number, body: Answer<unknown>): void {
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
export function refuse(res: ServerResponse, status: number, error: ErrorInfo): void {
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
export function refuseUpgrade(socket: Duplex, { status, error }: Refusal): void {
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
