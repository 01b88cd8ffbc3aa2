/**
 * The renderer's one way out: a `DistilleryClient` typed by the contract's RequestMap and EventMap,
 * implemented over Electron's preload bridge (ipc-client.ts) or over HTTP + WebSocket for
 * `distillery serve` (ws-client.ts). Both rethrow failed answers as a `ClientError`.
 */
import type {
  Answer,
  ErrorDetails,
  EventMap,
  EventName,
  RequestName,
  RequestParams,
  RequestResult,
} from '../../../preload/contract';

export type { RequestParams, RequestResult } from '../../../preload/contract';
export type EventListener<K extends EventName> = (payload: EventMap[K]) => void;

/** Connection state of the event stream, shown in the status bar. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface DistilleryClient {
  /** Which transport this is: `ipc` (Electron) or `http` (serve mode). */
  readonly transport: 'ipc' | 'http';
  request<K extends RequestName>(method: K, params: RequestParams<K>): Promise<RequestResult<K>>;
  /** Subscribes to one event; the returned function unsubscribes. */
  on<K extends EventName>(event: K, listener: EventListener<K>): () => void;
  /** Subscribes to connection-state changes of the event stream. */
  onConnectionChange(listener: (state: ConnectionState) => void): () => void;
  readonly connection: ConnectionState;
  /** A URL the page can load an image from (sample grids); undefined when the transport has none. */
  fileUrl(path: string): string | undefined;
  dispose(): void;
}

/** A failed request, with the contract's error code and details (`{nodeId, param, …}`). */
export class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'ClientError';
  }

  static is(error: unknown, code?: string): error is ClientError {
    return error instanceof ClientError && (code === undefined || error.code === code);
  }
}

/** Unwraps an answer envelope, rethrowing `{ok: false}` as a ClientError. */
export function unwrap<T>(answer: Answer<T> | undefined | null): T {
  if (!answer || typeof answer !== 'object' || !('ok' in answer))
    throw new ClientError('INTERNAL', 'Malformed answer from main');
  if (answer.ok) return answer.result;
  throw new ClientError(answer.error.code, answer.error.message, answer.error.details ?? {});
}

/** A tiny typed listener set, shared by both clients. */
export class Listeners<T> {
  private readonly listeners = new Set<(value: T) => void>();

  add(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  fire(value: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch (error) {
        console.error(error);
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }

  clear(): void {
    this.listeners.clear();
  }
}

/** A message text for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
