/**
 * Electron preload (sandboxed, contextIsolation): exposes exactly the contract's methods as
 * `window.distillery`, plus event subscription and native dialogs. Never exposes ipcRenderer.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { requestSchemas, type EventName } from './contract';
import { IPC, type DistilleryBridge, type MenuCommand } from './bridge';

const methods = Object.fromEntries(
  Object.keys(requestSchemas).map((method) => [
    method,
    (params: unknown) => ipcRenderer.invoke(IPC.request, method, params),
  ]),
);

const bridge = {
  ...methods,
  on(event: EventName, listener: (payload: unknown) => void) {
    const handler = (_event: IpcRendererEvent, message: { event: string; payload: unknown }) => {
      if (message.event === event) listener(message.payload);
    };
    ipcRenderer.on(IPC.event, handler);
    return () => {
      ipcRenderer.off(IPC.event, handler);
    };
  },
  onMenu(listener: (command: MenuCommand) => void) {
    const handler = (_event: IpcRendererEvent, command: MenuCommand) => listener(command);
    ipcRenderer.on(IPC.menu, handler);
    return () => {
      ipcRenderer.off(IPC.menu, handler);
    };
  },
  dialogs: {
    openPipeline: () => ipcRenderer.invoke(IPC.dialog, 'openPipeline') as Promise<string | null>,
    savePipeline: (defaultName: string) =>
      ipcRenderer.invoke(IPC.dialog, 'savePipeline', defaultName) as Promise<string | null>,
    chooseFolder: () => ipcRenderer.invoke(IPC.dialog, 'chooseFolder') as Promise<string | null>,
  },
} as unknown as DistilleryBridge; // the mapped method type is built from the same key list at run time

contextBridge.exposeInMainWorld('distillery', bridge);
