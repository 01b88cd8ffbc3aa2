/**
 * Binds the shared api/ handlers to ipcMain. Every call is checked to come from our own window's
 * main frame; events from the runner are pushed to the window.
 */
import { dialog, ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { IPC } from '../../preload/bridge';
import type { Answer } from '../../preload/contract';
import { dispatch, type Handlers } from '../api/handlers';
import type { EventFanout } from '../jobs/event-fanout';
import { Disposable, toDisposable } from '../base/lifecycle';

/** The answer to a request from any frame but our own window's main frame. */
const UNTRUSTED: Answer<never> = {
  ok: false,
  error: { code: 'UNAUTHORIZED', message: 'Request from an untrusted frame' },
};

export class IpcBinding extends Disposable {
  constructor(
    private readonly window: BrowserWindow,
    handlers: Handlers,
    fanout: EventFanout,
    private readonly isAppUrl: (url: string) => boolean,
  ) {
    super();
    ipcMain.handle(IPC.request, (event, method: unknown, params: unknown) => {
      if (!this.trusted(event)) return UNTRUSTED;
      return dispatch(handlers, String(method), params);
    });
    ipcMain.handle(IPC.dialog, (event, kind: unknown, defaultName: unknown) => {
      if (!this.trusted(event)) return null;
      return this.showDialog(
        String(kind),
        typeof defaultName === 'string' ? defaultName : 'pipeline.distillery.json',
      );
    });
    this._register(
      toDisposable(() => {
        ipcMain.removeHandler(IPC.request);
        ipcMain.removeHandler(IPC.dialog);
      }),
    );
    this._register(
      fanout.onDidEvent((message) => {
        if (!window.isDestroyed()) window.webContents.send(IPC.event, message);
      }),
    );
  }

  private trusted(event: IpcMainInvokeEvent): boolean {
    const frame = event.senderFrame;
    return (
      event.sender === this.window.webContents &&
      frame !== null &&
      frame === this.window.webContents.mainFrame &&
      this.isAppUrl(frame.url)
    );
  }

  private async showDialog(kind: string, defaultName: string): Promise<string | null> {
    const filters = [{ name: 'Distillery pipeline', extensions: ['distillery.json', 'json'] }];
    if (kind === 'openPipeline') {
      const result = await dialog.showOpenDialog(this.window, { properties: ['openFile'], filters });
      return result.canceled ? null : (result.filePaths[0] ?? null);
    }
    if (kind === 'savePipeline') {
      const result = await dialog.showSaveDialog(this.window, { defaultPath: defaultName, filters });
      return result.canceled ? null : (result.filePath ?? null);
    }
    if (kind === 'chooseFolder') {
      const result = await dialog.showOpenDialog(this.window, {
        properties: ['openDirectory', 'createDirectory'],
      });
      return result.canceled ? null : (result.filePaths[0] ?? null);
    }
    return null;
  }
}
