/** The application menu with the usual shortcuts; commands go to the renderer. */
import { Menu, type BrowserWindow, type MenuItemConstructorOptions } from 'electron';
import type { MenuCommand } from '../../preload/bridge';
import { IPC } from '../../preload/bridge';

export function installMenu(window: BrowserWindow): void {
  const send = (command: MenuCommand) => () => window.webContents.send(IPC.menu, command);
  const isMac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'New Pipeline', accelerator: 'CmdOrCtrl+N', click: send('new') },
        { label: 'Open…', accelerator: 'CmdOrCtrl+O', click: send('open') },
        { type: 'separator' },
        { label: 'Save', accelerator: 'CmdOrCtrl+S', click: send('save') },
        { label: 'Save As…', accelerator: 'CmdOrCtrl+Shift+S', click: send('save-as') },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    {
      label: 'Edit',
      submenu: [
        { label: 'Undo', accelerator: 'CmdOrCtrl+Z', click: send('undo') },
        { label: 'Redo', accelerator: 'CmdOrCtrl+Shift+Z', click: send('redo') },
        { type: 'separator' },
        { role: 'cut' },
        { role: 'copy' },
        { role: 'paste' },
        { role: 'selectAll' },
        { type: 'separator' },
        { label: 'Quick Search', accelerator: '/', registerAccelerator: false, click: send('quick-search') },
      ],
    },
    {
      label: 'Run',
      submenu: [
        { label: 'Run Pipeline', accelerator: 'CmdOrCtrl+Enter', click: send('run') },
        { label: 'Cancel Run', accelerator: 'CmdOrCtrl+.', click: send('cancel-run') },
      ],
    },
    {
      label: 'View',
      submenu: [
        { label: 'Fit View', accelerator: 'CmdOrCtrl+0', click: send('fit-view') },
        { type: 'separator' },
        { role: 'reload' },
        { role: 'toggleDevTools' },
        { type: 'separator' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { role: 'resetZoom' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
