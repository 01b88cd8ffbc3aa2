/**
 * Electron entry: composes the app from the shared services, opens the window, binds the API.
 * Everything behind this file is tested without Electron (serve mode); this file stays thin.
 */
import { app as electronApp, BrowserWindow, protocol } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp, type DistilleryApp } from '../app/app';
import { resolveDataDir } from '../app/paths';
import { createHandlers } from '../api/handlers';
import { EventFanout } from '../jobs/event-fanout';
import { IpcBinding } from './ipc';
import { FILE_SCHEME, registerFileProtocol } from './file-protocol';
import { installMenu } from './menu';
import { createMainWindow, installContentSecurityPolicy, isAppUrl } from './window';

const here = fileURLToPath(new URL('.', import.meta.url));
let services: { app: DistilleryApp; fanout: EventFanout; binding: IpcBinding } | undefined;

function start(): void {
  installContentSecurityPolicy();
  const app = createApp({ dataDir: resolveDataDir(process.env.DISTILLERY_DATA_DIR) });
  registerFileProtocol([app.layout.runs]);
  const fanout = new EventFanout(app.runner, undefined, app.sweeps);
  const windowOptions = {
    preload: join(here, '../preload/index.cjs'),
    devServerUrl: process.env.ELECTRON_RENDERER_URL,
    rendererIndex: join(here, '../renderer/index.html'),
  };
  const window = createMainWindow(windowOptions);
  installMenu(window);
  const binding = new IpcBinding(window, createHandlers(app), fanout, (url) => isAppUrl(url, windowOptions));
  services = { app, fanout, binding };
}

// Sample grids and other task files are shown through a read-only scheme limited to run folders.
protocol.registerSchemesAsPrivileged([
  { scheme: FILE_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);
void electronApp.whenReady().then(start);

electronApp.on('window-all-closed', () => {
  services?.binding.dispose();
  services?.fanout.dispose();
  services?.app.dispose();
  services = undefined;
  electronApp.quit();
});

electronApp.on('activate', () => {
  if (BrowserWindow.getAllWindows().length === 0 && !services) start();
});
