/**
 * What only the desktop app has: native dialogs and menu commands from preload's bridge. In serve
 * mode both are absent and the renderer falls back to its own dialogs and keyboard shortcuts.
 */
import type { DesktopDialogs, MenuCommand } from '../../../preload/bridge';

export type { MenuCommand };

export function desktopDialogs(): DesktopDialogs | undefined {
  return typeof window !== 'undefined' ? window.distillery?.dialogs : undefined;
}

/** Subscribes to the native menu's commands; a no-op in the browser. */
export function onMenuCommand(listener: (command: MenuCommand) => void): () => void {
  const bridge = typeof window !== 'undefined' ? window.distillery : undefined;
  return bridge?.onMenu ? bridge.onMenu(listener) : () => {};
}
