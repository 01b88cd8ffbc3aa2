/** Which dialog or overlay is open; shared by menus, keyboard shortcuts and the views. */
import { defineStore } from 'pinia';
import { ref } from 'vue';

export type Dialog = 'open' | 'save-as' | 'samples' | 'shortcuts' | null;

export const useUiStore = defineStore('ui', () => {
  const dialog = ref<Dialog>(null);
  /** Quick search (`/` or double-click on the canvas); `at` is where a picked node lands, in flow coordinates. */
  const quickSearch = ref<{ at: { x: number; y: number } | null } | null>(null);
  /** Bumped to ask the canvas to fit the view. */
  const fitRequest = ref(0);

  function openDialog(next: Exclude<Dialog, null>): void {
    dialog.value = next;
  }

  function closeDialog(): void {
    dialog.value = null;
  }

  function openQuickSearch(at: { x: number; y: number } | null = null): void {
    quickSearch.value = { at };
  }

  function closeQuickSearch(): void {
    quickSearch.value = null;
  }

  function requestFit(): void {
    fitRequest.value++;
  }

  return {
    dialog,
    quickSearch,
    fitRequest,
    openDialog,
    closeDialog,
    openQuickSearch,
    closeQuickSearch,
    requestFit,
  };
});
