/**
 * Picks the transport (Electron's bridge when preload exposed one, else serve mode's HTTP +
 * WebSocket) and hands the one client to the stores. Tests install a fake with `setClient`.
 */
import type { DistilleryClient } from './client';
import { IpcClient } from './ipc-client';
import { HttpClient, takeToken } from './ws-client';

let current: DistilleryClient | undefined;

export function createClient(): DistilleryClient {
  if (typeof window !== 'undefined' && window.distillery) return new IpcClient(window.distillery);
  const token = takeToken({
    location: window.location,
    history: window.history,
    sessionStorage: window.sessionStorage,
  });
  return new HttpClient({ baseUrl: window.location.origin, token });
}

export function setClient(client: DistilleryClient | undefined): void {
  current = client;
}

/** The client the stores talk through; created on first use. */
export function useClient(): DistilleryClient {
  current ??= createClient();
  return current;
}

export { ClientError, errorMessage, type DistilleryClient } from './client';
