/**
 * Which `Host` and `Origin` headers serve mode answers. A token alone does not stop a page on
 * another site from reaching a loopback server: with DNS rebinding, `evil.example` resolves to
 * 127.0.0.1 and the browser sends the page's requests (and, once the user has opened the
 * workbench, its cookie) to us under `Host: evil.example`; a WebSocket may be opened from any
 * origin with the cookie attached. So every request must name this server in `Host`, and a
 * request that carries an `Origin` must come from a page this server served.
 */
import { hostname, networkInterfaces } from 'node:os';
import type { ErrorInfo } from '../../preload/contract';
import type { ErrorCode } from '../base/errors';

/** Loopback names accepted whatever address the server is bound to. */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'] as const;
/** Binding one of these listens on every interface: any of the machine's addresses may be used. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '']);
const DEFAULT_HTTP_PORT = 80;

/** A host name as it appears in a URL: lower case, IPv6 literals in brackets. */
export function urlHostName(host: string): string {
  const lower = host.toLowerCase();
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
}

/** The host names of this machine's interface addresses, for a server bound to all of them. */
function interfaceNames(): string[] {
  const names = [hostname().toLowerCase()];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      // A scoped (link-local) IPv6 address needs a zone id, which browsers do not put in Host.
      if (address.family === 'IPv6' && address.scopeid) continue;
      names.push(urlHostName(address.address));
    }
  }
  return names;
}

/** Splits a `Host` header into name and port; undefined when it is not `name[:port]`. */
function parseHostHeader(header: string): { name: string; port: number | undefined } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^\s:[\]/@]+)(?::(\d{1,5}))?$/i.exec(header);
  if (!match) return undefined;
  return { name: match[1]!.toLowerCase(), port: match[2] === undefined ? undefined : Number(match[2]) };
}

/** A refusal in the envelope every refused request uses. */
export interface Refusal {
  status: number;
  error: ErrorInfo<ErrorCode>;
}

/**
 * The names and origins one server answers to, fixed once it has its port. Both refusals are 403
 * (not 421: a client must not retry a rebinding attempt on another connection).
 */
export class AddressPolicy {
  private readonly names: ReadonlySet<string>;
  private readonly origins: ReadonlySet<string>;
  /** How a client should address the server, for the messages of refusals. */
  private readonly preferred: string;

  constructor(
    bindHost: string,
    private readonly port: number,
  ) {
    const bound = urlHostName(bindHost);
    const names = new Set<string>(LOOPBACK_NAMES);
    if (WILDCARD_HOSTS.has(bound)) for (const name of interfaceNames()) names.add(name);
    else names.add(bound);
    this.names = names;
    const origins = new Set<string>();
    for (const name of names) {
      origins.add(`http://${name}:${port}`);
      // Browsers leave the default port out of an origin.
      if (port === DEFAULT_HTTP_PORT) origins.add(`http://${name}`);
    }
    this.origins = origins;
    this.preferred = `${WILDCARD_HOSTS.has(bound) ? '127.0.0.1' : bound}:${port}`;
  }

  /** `name:port` forms accepted in `Host`. */
  get acceptedHosts(): string[] {
    return [...this.names].map((name) => `${name}:${this.port}`);
  }

  /** Origins accepted in `Origin`: the pages this server serves. */
  get acceptedOrigins(): string[] {
    return [...this.origins];
  }

  /** Undefined when `Host` names this server on its port; otherwise the refusal to send. */
  checkHost(header: string | undefined): Refusal | undefined {
    const parsed = header === undefined ? undefined : parseHostHeader(header.trim());
    const portMatches =
      parsed !== undefined && (parsed.port ?? DEFAULT_HTTP_PORT) === this.port && this.names.has(parsed.name);
    if (portMatches) return undefined;
    return {
      status: 403,
      error: {
        code: 'FORBIDDEN_HOST',
        message:
          header === undefined
            ? `Request without a Host header; address the server as ${this.preferred}`
            : `Host "${header}" is not this server; address it as ${this.preferred} (or another loopback name)`,
        details: {
          header: 'host',
          expected: `one of ${this.acceptedHosts.join(', ')}`,
          received: header ?? null,
        },
      },
    };
  }

  /**
   * Undefined when there is no `Origin` (scripts, curl: they hold the token themselves) or it is one
   * of this server's own; otherwise the refusal. `Origin: null` (a sandboxed frame, a file:// page)
   * is refused: it could be anyone.
   */
  checkOrigin(header: string | undefined): Refusal | undefined {
    if (header === undefined || this.origins.has(header.trim().toLowerCase())) return undefined;
    return {
      status: 403,
      error: {
        code: 'FORBIDDEN_ORIGIN',
        message: `Origin "${header}" may not use this server: only pages it serves (http://${this.preferred}) may`,
        details: {
          header: 'origin',
          expected: `one of ${this.acceptedOrigins.join(', ')}`,
          received: header,
        },
      },
    };
  }
}
