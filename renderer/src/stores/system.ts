/** `system.info` (backend and why, cores, memory, queue) and the event stream's connection state. */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { SystemInfo } from '../../../preload/contract';
import { formatBytes as formatSize } from '../../../preload/units';
import { errorMessage, useClient } from '../api';
import type { ConnectionState } from '../api/client';

/** "wasm — tfjs-node not installed": the backend and the reason the better ones were skipped. */
export function describeBackend(info: SystemInfo | null): { label: string; why: string; detail: string } {
  const backend = info?.backend;
  if (!backend) return { label: 'backend unknown', why: '', detail: '' };
  // The skip right above the chosen backend says why it was not the better one.
  const closest = backend.skipped.at(-1);
  const why = closest ? shortReason(closest.name, closest.reason) : '';
  const detail = [
    `${backend.name} (${backend.package})`,
    ...backend.skipped.map((skip) => `skipped ${skip.name}: ${skip.reason}`),
    ...Object.entries(backend.features).map(([key, value]) => `${key}: ${String(value)}`),
  ].join('\n');
  return { label: backend.name, why, detail };
}

function shortReason(name: string, reason: string): string {
  const lower = reason.toLowerCase();
  const pkg = /@tensorflow\/([\w-]+)/.exec(reason)?.[1] ?? name;
  if (lower.includes('not installed') || lower.includes('cannot find') || lower.includes('not found'))
    return `${pkg} not installed`;
  if (lower.includes('cuda') || lower.includes('no gpu')) return `${pkg}: no GPU`;
  const text = `${pkg}: ${reason}`;
  return text.length > 56 ? `${text.slice(0, 53)}…` : text;
}

/** Sizes in binary units (KiB, MiB, GiB), as everywhere else (preload/units.ts). */
export function formatBytes(bytes: number): string {
  return formatSize(bytes);
}

export const useSystemStore = defineStore('system', () => {
  const client = useClient();
  const info = shallowRef<SystemInfo | null>(null);
  const error = ref<string | null>(null);
  const connection = ref<ConnectionState>(client.connection);
  const backend = computed(() => describeBackend(info.value));
  let timer: ReturnType<typeof setInterval> | undefined;
  let offConnection: (() => void) | undefined;

  async function refresh(): Promise<void> {
    try {
      info.value = await client.request('system.info', {});
      error.value = null;
    } catch (caught) {
      error.value = errorMessage(caught);
    }
  }

  /** Polls every `intervalMs` (queue length and free memory change) and tracks the connection. */
  function start(intervalMs = 5000): void {
    stop();
    void refresh();
    timer = setInterval(() => void refresh(), intervalMs);
    offConnection = client.onConnectionChange((state) => (connection.value = state));
    connection.value = client.connection;
  }

  function stop(): void {
    if (timer) clearInterval(timer);
    timer = undefined;
    offConnection?.();
    offConnection = undefined;
  }

  return { info, error, connection, backend, refresh, start, stop };
});
