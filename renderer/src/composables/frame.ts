/** Per-frame batching: however often `schedule()` is called, `callback` runs once per animation frame. */
import { onBeforeUnmount } from 'vue';

export function useFrameThrottle(callback: () => void): { schedule: () => void; cancel: () => void } {
  let handle: number | null = null;

  function schedule(): void {
    if (handle !== null) return;
    handle = requestAnimationFrame(() => {
      handle = null;
      callback();
    });
  }

  function cancel(): void {
    if (handle !== null) cancelAnimationFrame(handle);
    handle = null;
  }

  onBeforeUnmount(cancel);
  return { schedule, cancel };
}
