/**
 * The serve-mode transport: requests are `POST /api/<method>` with the params as JSON and the token
 * as a bearer header; events stream over a WebSocket at `/events?token=…`, reconnecting with
 * exponential backoff. The token arrives in the page URL once and is kept in sessionStorage.
 */
import type { Answer, EventMap, EventName, RequestName } from '../../../preload/contract';
import {
  ClientError,
  Listeners,
  unwrap,
  type ConnectionState,
  type DistilleryClient,
  type EventListener,
  type RequestParams,
  type RequestResult,
} from './client';

export const TOKEN_STORAGE_KEY = 'distillery.token';

interface UrlSurface {
  location: { href: string };
  history: { replaceState(data: unknown, unused: string, url?: string | URL | null): void };
  sessionStorage: Pick<Storage, 'getItem' | 'setItem'>;
}

/**
 * Reads the token from `?token=` (then hides it from the address bar, so it is not copied with the
 * URL or kept in history) or from sessionStorage on reloads.
 */
export function takeToken(surface: UrlSurface): string | null {
  const url = new URL(surface.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    surface.sessionStorage.setItem(TOKEN_STORAGE_KEY, fromUrl);
    url.searchParams.delete('token');
    surface.history.replaceState(null, '', `${url.pathname}${url.search}${url.hash}`);
    return fromUrl;
  }
  return surface.sessionStorage.getItem(TOKEN_STORAGE_KEY);
}

export interface HttpClientOptions {
  /** Origin of the server, e.g. `http://127.0.0.1:7860`. */
  baseUrl: string;
  token: string | null;
  fetch?: typeof fetch;
  /** WebSocket constructor; injectable for tests. */
  WebSocket?: typeof WebSocket;
  /** First reconnect delay in ms; doubles up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

type AnyListener = (payload: unknown) => void;

export class HttpClient implements DistilleryClient {
  readonly transport = 'http' as const;
  private readonly fetchImpl: typeof fetch;
  private readonly socketImpl: typeof WebSocket | undefined;
  private readonly listeners = new Map<EventName, Listeners<unknown>>();
  private readonly connectionListeners = new Listeners<ConnectionState>();
  private socket: WebSocket | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private attempts = 0;
  private disposed = false;
  private state: ConnectionState = 'closed';

  constructor(private readonly options: HttpClientOptions) {
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.socketImpl = options.WebSocket ?? globalThis.WebSocket;
  }

  get connection(): ConnectionState {
    return this.state;
  }

  async request<K extends RequestName>(method: K, params: RequestParams<K>): Promise<RequestResult<K>> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.options.baseUrl}/api/${method}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(params ?? {}),
      });
    } catch (error) {
      throw new ClientError('NETWORK', `Cannot reach Distillery: ${(error as Error).message}`, { method });
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new ClientError(
        response.status === 401 ? 'UNAUTHORIZED' : 'INTERNAL',
        `HTTP ${response.status} ${response.statusText} from /api/${method}`,
        { method, status: response.status },
      );
    }
    return unwrap(body as Answer<RequestResult<K>>);
  }

  on<K extends EventName>(event: K, listener: EventListener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Listeners<unknown>();
      this.listeners.set(event, set);
    }
    const off = set.add(listener as AnyListener);
    this.connect();
    return off;
  }

  onConnectionChange(listener: (state: ConnectionState) => void): () => void {
    return this.connectionListeners.add(listener);
  }

  fileUrl(path: string): string {
    return `${this.options.baseUrl}/files?path=${encodeURIComponent(path)}`;
  }

  /** Opens the event socket (idempotent). */
  connect(): void {
    if (this.disposed || this.socket || this.reconnectTimer || !this.socketImpl) return;
    const base = this.options.baseUrl.replace(/^http/, 'ws');
    const query = this.options.token ? `?token=${encodeURIComponent(this.options.token)}` : '';
    this.setState(this.attempts === 0 ? 'connecting' : 'reconnecting');
    const socket = new this.socketImpl(`${base}/events${query}`);
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.setState('open');
    };
    socket.onmessage = (message: MessageEvent) => this.dispatch(message.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // onclose follows and schedules the reconnect.
    };
  }

  dispose(): void {
    this.disposed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    socket?.close();
    for (const set of this.listeners.values()) set.clear();
    this.setState('closed');
    this.connectionListeners.clear();
  }

  private dispatch(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: { event?: unknown; payload?: unknown };
    try {
      message = JSON.parse(data) as typeof message;
    } catch {
      return;
    }
    if (typeof message.event !== 'string') return;
    this.listeners.get(message.event as keyof EventMap)?.fire(message.payload);
  }

  private scheduleReconnect(): void {
    if (this.disposed) return;
    this.setState('reconnecting');
    const base = this.options.backoffMs ?? 500;
    const max = this.options.maxBackoffMs ?? 10_000;
    const delay = Math.min(max, base * 2 ** this.attempts) * (0.8 + Math.random() * 0.4);
    this.attempts++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.connectionListeners.fire(state);
  }
}
