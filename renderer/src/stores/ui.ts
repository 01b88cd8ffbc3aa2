/** Which dialog or overlay is open; shared by menus, keyboard shortcuts and the views. */
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { LinkStart } from '../pipeline/graph';

export type Dialog = 'open' | 'save-as' | 'samples' | 'shortcuts' | null;

export const useUiStore = defineStore('ui', () => {
  const dialog = ref<Dialog>(null);
  /**
   * Quick search (`/`, a double-click on the canvas, or a link dropped on empty canvas): `at` is
   * where a picked node lands, in flow coordinates; `from`, the dragged link the node will take,
   * which also narrows the list to node types that can take it.
   */
  const quickSearch = ref<{ at: { x: number; y: number } | null; from?: LinkStart } | null>(null);
  /** Bumped to ask the canvas to fit the view. */
  const fitRequest = ref(0);

  function openDialog(next: Exclude<Dialog, null>): void {
    dialog.value = next;
  }

  function closeDialog(): void {
    dialog.value = null;
  }

  function openQuickSearch(at: { x: number; y: number } | null = null, from?: LinkStart): void {
    quickSearch.value = from ? { at, from } : { at };
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
