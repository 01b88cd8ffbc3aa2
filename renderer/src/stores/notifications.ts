/** Transient messages (toasts): errors from requests, "saved to …", export results. */
import { defineStore } from 'pinia';
import { shallowRef } from 'vue';

export interface Toast {
  id: number;
  kind: 'info' | 'success' | 'error';
  message: string;
  detail?: string;
}

export const useNotificationsStore = defineStore('notifications', () => {
  const toasts = shallowRef<Toast[]>([]);
  let nextId = 1;

  function dismiss(id: number): void {
    toasts.value = toasts.value.filter((toast) => toast.id !== id);
  }

  function push(kind: Toast['kind'], message: string, detail?: string): number {
    const id = nextId++;
    toasts.value = [...toasts.value.slice(-4), { id, kind, message, ...(detail ? { detail } : {}) }];
    setTimeout(() => dismiss(id), kind === 'error' ? 8000 : 4000);
    return id;
  }

  return { toasts, push, dismiss };
});
