/**
 * The Electron transport: `window.distillery`, exposed by preload/index.ts, has one async method
 * per contract request (named by the method, dots kept: `window.distillery['runs.start'](params)`)
 * answering the envelope, plus `on(event, listener)` for pushed events, native dialogs and menu
 * commands (types in preload/bridge.ts, which holds types only).
 */
import type { DistilleryBridge } from '../../../preload/bridge';
import type { Answer, EventName, RequestName } from '../../../preload/contract';
import {
  Listeners,
  unwrap,
  type ConnectionState,
  type DistilleryClient,
  type EventListener,
  type RequestParams,
  type RequestResult,
} from './client';

declare global {
  interface Window {
    distillery?: DistilleryBridge;
  }
}

export class IpcClient implements DistilleryClient {
  readonly transport = 'ipc' as const;
  readonly connection: ConnectionState = 'open';
  private readonly subscriptions = new Set<() => void>();

  constructor(readonly bridge: DistilleryBridge) {}

  async request<K extends RequestName>(method: K, params: RequestParams<K>): Promise<RequestResult<K>> {
    // Each bridge method is typed by its own key; TypeScript cannot narrow the union of them here.
    const call = this.bridge[method] as unknown as (p: RequestParams<K>) => Promise<Answer<RequestResult<K>>>;
    return unwrap(await call(params));
  }

  on<K extends EventName>(event: K, listener: EventListener<K>): () => void {
    const off = this.bridge.on(event, listener);
    const dispose = () => {
      this.subscriptions.delete(dispose);
      off();
    };
    this.subscriptions.add(dispose);
    return dispose;
  }

  onConnectionChange(_listener: (state: ConnectionState) => void): () => void {
    // IPC has no connection to lose.
    return new Listeners<ConnectionState>().add(_listener);
  }

  fileUrl(path: string): string | undefined {
    // The window's CSP allows images from the `distillery-file:` protocol, which main registers and
    // limits to run folders (as serve mode's /files does).
    return `distillery-file://files?path=${encodeURIComponent(path)}`;
  }

  dispose(): void {
    for (const dispose of [...this.subscriptions]) dispose();
  }
}
