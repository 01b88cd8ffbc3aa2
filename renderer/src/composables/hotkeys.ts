/**
 * Keyboard shortcuts of the editor. Inside text fields only Ctrl+Enter (run) and Ctrl+S (save)
 * are taken, so typing, text undo and copy/paste keep working there.
 */
import { onBeforeUnmount, onMounted } from 'vue';
import type { EditorCommands } from './editor-commands';

function isEditable(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element || !element.tagName) return false;
  return element.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(element.tagName);
}

export interface Shortcut {
  keys: string;
  action: string;
}

/** The list shown in the shortcuts dialog. */
export const SHORTCUTS: Shortcut[] = [
  { keys: 'Ctrl+Enter', action: 'Run the pipeline' },
  { keys: '/', action: 'Quick search for a node (also double-click the canvas)' },
  { keys: 'Ctrl+Z', action: 'Undo' },
  { keys: 'Ctrl+Shift+Z', action: 'Redo (also Ctrl+Y)' },
  { keys: 'Ctrl+C / Ctrl+V', action: 'Copy / paste the selected nodes with their links' },
  { keys: 'Ctrl+D', action: 'Duplicate the selected nodes' },
  { keys: 'Delete', action: 'Delete the selected nodes and links' },
  { keys: 'Right-click', action: 'Menu of a node, a link or the canvas' },
  { keys: 'Drag a port to the canvas', action: 'Add a node that takes the link' },
  { keys: 'Ctrl+A', action: 'Select every node' },
  { keys: 'Shift+drag', action: 'Box-select; Ctrl+click adds to the selection' },
  { keys: 'F', action: 'Fit the view' },
  { keys: 'Ctrl+S', action: 'Save (Ctrl+Shift+S: save as)' },
  { keys: 'Ctrl+O', action: 'Open a pipeline' },
];

export function useEditorHotkeys(commands: EditorCommands, enabled: () => boolean = () => true): void {
  function onKeyDown(event: KeyboardEvent): void {
    if (!enabled() || event.defaultPrevented) return;
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    const editable = isEditable(event.target);

    if (mod && key === 'enter') {
      event.preventDefault();
      void commands.run();
      return;
    }
    if (mod && key === 's') {
      event.preventDefault();
      void (event.shiftKey ? commands.saveAs() : commands.save());
      return;
    }
    if (editable) return;

    if (mod && key === 'z') {
      event.preventDefault();
      if (event.shiftKey) commands.redo();
      else commands.undo();
    } else if (mod && key === 'y') {
      event.preventDefault();
      commands.redo();
    } else if (mod && key === 'c') {
      if (window.getSelection()?.toString()) return;
      event.preventDefault();
      void commands.copy();
    } else if (mod && key === 'v') {
      event.preventDefault();
      void commands.paste();
    } else if (mod && key === 'd') {
      event.preventDefault();
      commands.duplicate();
    } else if (mod && key === 'a') {
      event.preventDefault();
      commands.selectAll();
    } else if (mod && key === 'o') {
      event.preventDefault();
      void commands.open();
    } else if (!mod && (key === 'delete' || key === 'backspace')) {
      event.preventDefault();
      commands.deleteSelection();
    } else if (!mod && !event.altKey && event.key === '/') {
      event.preventDefault();
      commands.quickSearch();
    } else if (!mod && !event.altKey && key === 'f') {
      event.preventDefault();
      commands.fitView();
    }
  }

  onMounted(() => window.addEventListener('keydown', onKeyDown));
  onBeforeUnmount(() => window.removeEventListener('keydown', onKeyDown));
}
