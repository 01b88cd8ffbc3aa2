/**
 * What a request brings, read with the server's limits: its target as a URL, its %-decoded
 * components, its body up to MAX_REQUEST_BODY_BYTES, and the token in its cookie.
 */
import type { IncomingMessage } from 'node:http';
import { DistilleryError } from '../base/errors';
import { PIPELINE_LIMITS } from '../pipeline/limits';

/**
 * The largest request body read (64 MiB): four times the largest pipeline document as compact JSON
 * (PIPELINE_LIMITS.bytes), so that document still fits pretty-printed or with escaped characters,
 * wrapped in its request's params. A larger body is refused with 413 before it is read.
 */
export const MAX_REQUEST_BODY_BYTES = 4 * PIPELINE_LIMITS.bytes;
/** The cookie that holds the token once a page was opened with it. */
export const TOKEN_COOKIE = 'distillery_token';

/** PAYLOAD_TOO_LARGE for a body over MAX_REQUEST_BODY_BYTES (its declared length, when it has one). */
export function tooLarge(declared: number | undefined): DistilleryError {
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
export function readBody(req: IncomingMessage): Promise<string> {
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
export function parseTarget(target: string | undefined): URL {
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
export function decodeComponent(raw: string, field: string): string {
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

/** The token in the request's cookie, if it has one that decodes. */
export function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== TOKEN_COOKIE) continue;
    try {
      return decodeURIComponent(value.join('='));
    } catch {
      return undefined; // a mangled cookie is no token
    }
  }
  return undefined;
}
