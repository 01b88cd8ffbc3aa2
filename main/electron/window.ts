/** The workbench window: isolated, sandboxed, no Node in the page, a strict CSP. */
import { BrowserWindow, session, shell } from 'electron';
import { join } from 'node:path';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob: distillery-file:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface WindowOptions {
  preload: string;
  /** Dev server URL (electron-vite dev) or undefined to load the built renderer. */
  devServerUrl: string | undefined;
  rendererIndex: string;
}

export function installContentSecurityPolicy(): void {
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
}

export function createMainWindow(options: WindowOptions): BrowserWindow {
  const window = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    title: 'Distillery',
    show: false,
    backgroundColor: '#111318',
    webPreferences: {
      preload: options.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  window.once('ready-to-show', () => window.show());
  // Links open in the user's browser; the window never navigates away from the workbench.
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https:')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  window.webContents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url, options)) event.preventDefault();
  });
  if (options.devServerUrl) void window.loadURL(options.devServerUrl);
  else void window.loadFile(options.rendererIndex);
  return window;
}

/** Whether a frame URL is our own page (dev server or the built files). */
export function isAppUrl(
  url: string,
  options: Pick<WindowOptions, 'devServerUrl' | 'rendererIndex'>,
): boolean {
  if (options.devServerUrl && url.startsWith(options.devServerUrl)) return true;
  return (
    url.startsWith('file://') &&
    decodeURIComponent(new URL(url).pathname).startsWith(join(options.rendererIndex, '..'))
  );
}
