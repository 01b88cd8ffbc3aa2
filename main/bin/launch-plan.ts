/**
 * What `npm start` and `npm run serve` do, decided from facts gathered by main/bin/start.ts: the
 * desktop app when Electron's binary is installed, else the browser workbench (`distillery serve`),
 * building the renderer first only when its sources changed since the last build. Pure, so each
 * case is testable without Electron, a display or a build.
 */

/** What the launcher found on this machine. */
export interface LaunchFacts {
  /** Where Electron's binary should be; null when the electron package is not installed at all. */
  electronBinary: string | null;
  /** Whether that file exists (its download may have failed or been skipped). */
  electronBinaryExists: boolean;
  /** `--browser` (npm run serve): the browser workbench whatever is installed. */
  browserRequested: boolean;
  /** Modification time (ms) of the built renderer's index.html; null when never built. */
  rendererBuiltAt: number | null;
  /** Newest modification time (ms) among the renderer's sources. */
  rendererSourcesChangedAt: number;
}

export type LaunchPlan =
  | { kind: 'electron' }
  | {
      kind: 'browser';
      /** The one line saying why the desktop app is not started; null when the browser was asked for. */
      notice: string | null;
      /** Whether out/renderer must be rebuilt before serving it. */
      buildRenderer: boolean;
    };

/** True when the built renderer is missing or older than one of its sources. */
export function rendererIsStale(builtAt: number | null, sourcesChangedAt: number): boolean {
  return builtAt === null || builtAt < sourcesChangedAt;
}

/** Decides between the desktop app and the browser workbench. */
export function planLaunch(facts: LaunchFacts): LaunchPlan {
  const buildRenderer = rendererIsStale(facts.rendererBuiltAt, facts.rendererSourcesChangedAt);
  if (facts.browserRequested) return { kind: 'browser', notice: null, buildRenderer };
  if (facts.electronBinary !== null && facts.electronBinaryExists) return { kind: 'electron' };
  const where = facts.electronBinary ?? 'the electron package is not installed';
  return {
    kind: 'browser',
    notice: `Electron's binary is missing (${where}), so the desktop app cannot start: starting the browser workbench instead.`,
    buildRenderer,
  };
}

/**
 * Electron's executable inside node_modules/electron/dist on each platform: what the electron
 * package's installer writes to its path.txt once the download has finished.
 */
export function electronExecutable(platform: string): string {
  if (platform === 'darwin') return 'Electron.app/Contents/MacOS/Electron';
  if (platform === 'win32') return 'electron.exe';
  return 'electron';
}

/** A command that opens a URL in the default browser. */
export interface BrowserOpener {
  command: string;
  args: string[];
}

/**
 * How to open a URL in the default browser here, or null where there is none to open: Linux and
 * the BSDs need a display (X11 or Wayland) and `xdg-open`; macOS has `open`; Windows `start`.
 */
export function browserOpener(
  url: string,
  platform: string,
  env: Readonly<Record<string, string | undefined>>,
  hasCommand: (name: string) => boolean,
): BrowserOpener | null {
  if (platform === 'darwin') return { command: 'open', args: [url] };
  // `start` is a cmd built-in; its first quoted argument is a window title, hence the empty one.
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""', url] };
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return null;
  return hasCommand('xdg-open') ? { command: 'xdg-open', args: [url] } : null;
}
