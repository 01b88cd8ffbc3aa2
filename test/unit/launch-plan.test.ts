import { describe, expect, it } from 'vitest';
import {
  browserOpener,
  electronExecutable,
  planLaunch,
  rendererIsStale,
  type LaunchFacts,
} from '../../main/bin/launch-plan';

const facts = (overrides: Partial<LaunchFacts> = {}): LaunchFacts => ({
  electronBinary: 'node_modules/electron/dist/electron',
  electronBinaryExists: true,
  browserRequested: false,
  rendererBuiltAt: 2000,
  rendererSourcesChangedAt: 1000,
  ...overrides,
});

describe('npm start', () => {
  it('starts the desktop app when Electron’s binary is there', () => {
    expect(planLaunch(facts())).toEqual({ kind: 'electron' });
    // A stale renderer is electron-vite's business: it serves the sources itself.
    expect(planLaunch(facts({ rendererBuiltAt: null }))).toEqual({ kind: 'electron' });
  });

  it('falls back to the browser workbench in one line when the binary is missing', () => {
    const plan = planLaunch(facts({ electronBinaryExists: false }));
    expect(plan).toMatchObject({ kind: 'browser', buildRenderer: false });
    const notice = plan.kind === 'browser' ? plan.notice : null;
    expect(notice).toContain('node_modules/electron/dist/electron');
    expect(notice).toMatch(/browser workbench/);
    expect(notice).not.toContain('\n');
    expect(planLaunch(facts({ electronBinary: null, electronBinaryExists: false }))).toMatchObject({
      kind: 'browser',
      notice: expect.stringContaining('not installed') as unknown,
    });
  });

  it('knows where the electron package puts its binary on each platform', () => {
    expect(electronExecutable('linux')).toBe('electron');
    expect(electronExecutable('darwin')).toBe('Electron.app/Contents/MacOS/Electron');
    expect(electronExecutable('win32')).toBe('electron.exe');
  });

  it('builds the renderer only when it is missing or older than a source', () => {
    expect(rendererIsStale(null, 0)).toBe(true);
    expect(rendererIsStale(1000, 2000)).toBe(true);
    expect(rendererIsStale(2000, 1000)).toBe(false);
    const missing = facts({ electronBinaryExists: false, rendererSourcesChangedAt: 3000 });
    expect(planLaunch(missing)).toMatchObject({ kind: 'browser', buildRenderer: true });
    expect(planLaunch(facts({ browserRequested: true }))).toEqual({
      kind: 'browser',
      notice: null,
      buildRenderer: false,
    });
    expect(planLaunch(facts({ browserRequested: true, rendererBuiltAt: null }))).toMatchObject({
      buildRenderer: true,
    });
  });
});

describe('opening the browser', () => {
  const url = 'http://127.0.0.1:7860/?token=abc';
  const has = (names: string[]) => (name: string) => names.includes(name);

  it('uses xdg-open only where there is a display and it is installed', () => {
    expect(browserOpener(url, 'linux', {}, has(['xdg-open']))).toBeNull();
    expect(browserOpener(url, 'linux', { DISPLAY: ':0' }, has([]))).toBeNull();
    expect(browserOpener(url, 'linux', { WAYLAND_DISPLAY: 'wayland-0' }, has(['xdg-open']))).toEqual({
      command: 'xdg-open',
      args: [url],
    });
  });

  it('uses open on macOS and start on Windows', () => {
    expect(browserOpener(url, 'darwin', {}, has([]))).toEqual({ command: 'open', args: [url] });
    expect(browserOpener(url, 'win32', {}, has([]))).toEqual({
      command: 'cmd',
      args: ['/c', 'start', '""', url],
    });
  });
});
