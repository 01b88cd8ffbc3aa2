/**
 * The shape of `window.distillery` that preload exposes in Electron: one async method per contract
 * request (named by the method, e.g. `window.distillery['runs.start'](params)`), resolving to the
 * contract's answer envelope; `on` for contract events; native dialogs and menu commands, which
 * only the desktop app has. Types only.
 */
import type { Answer, EventMap, EventName, RequestName, RequestParams, RequestResult } from './contract';

export type MenuCommand =
  'new' | 'open' | 'save' | 'save-as' | 'run' | 'cancel-run' | 'undo' | 'redo' | 'fit-view' | 'quick-search';

export interface DesktopDialogs {
  /** Native open dialog for `*.distillery.json`; resolves to a path or null when cancelled. */
  openPipeline(): Promise<string | null>;
  savePipeline(defaultName: string): Promise<string | null>;
  /** Native folder picker for exports. */
  chooseFolder(): Promise<string | null>;
}

export type DistilleryBridge = {
  [K in RequestName]: (params: RequestParams<K>) => Promise<Answer<RequestResult<K>>>;
} & {
  on<K extends EventName>(event: K, listener: (payload: EventMap[K]) => void): () => void;
  onMenu(listener: (command: MenuCommand) => void): () => void;
  dialogs: DesktopDialogs;
};

export const IPC = {
  request: 'distillery:request',
  event: 'distillery:event',
  menu: 'distillery:menu',
  dialog: 'distillery:dialog',
} as const;
