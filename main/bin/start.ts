/**
 * `npm start` / `npm run serve` (through main/bin/start.mjs). Starts the desktop app with
 * `electron-vite dev` when Electron's binary is installed; otherwise (or with `--browser`) builds
 * the renderer if its sources changed and runs `distillery serve`, printing its URL and opening it
 * in the default browser where there is one. Other arguments go to whichever is started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserOpener, electronExecutable, planLaunch, type LaunchFacts } from './launch-plan';
import { buildRenderer, rendererBuiltAt, rendererSourcesChangedAt } from './renderer-build';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

/**
 * Where Electron's binary should be, found as the electron package itself finds it (path.txt,
 * ELECTRON_OVERRIDE_DIST_PATH) without requiring the package: requiring it starts a download when
 * the binary is missing.
 */
function electronBinary(): string | null {
  let packageDir: string;
  try {
    packageDir = dirname(require.resolve('electron/package.json'));
  } catch {
    return null;
  }
  const pathFile = join(packageDir, 'path.txt');
  // path.txt is written once the download has finished; before that, name where it would go.
  const written = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  const executable = written || electronExecutable(process.platform);
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  return override ? join(override, executable) : join(packageDir, 'dist', executable);
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Opens the URL in the default browser when there is one; never fails the launch. */
function openInBrowser(url: string): void {
  const opener = browserOpener(url, process.platform, process.env, onPath);
  if (!opener) return;
  try {
    const child = spawn(opener.command, opener.args, { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // No browser after all: the URL is printed above.
  }
}

/**
 * One Ctrl+C can reach the launcher twice: from the terminal (the whole foreground group) and from
 * npm, which passes signals on to its script. Copies closer together than this are one press.
 */
const SAME_PRESS_MS = 250;

/**
 * Runs a child to its end, passing SIGTERM on, and resolves with its exit code. A child in its own
 * process group (`detached`) gets a Ctrl+C only through here, once per press: `distillery serve`
 * reads a second SIGINT as "stop now". One in the terminal's group gets Ctrl+C from the terminal.
 */
function supervise(child: ChildProcess, ownGroup: boolean): Promise<number> {
  const lastSent = new Map<NodeJS.Signals, number>();
  const forward = (signal: NodeJS.Signals) => () => {
    if (signal === 'SIGINT' && !ownGroup) return;
    const now = Date.now();
    if (now - (lastSent.get(signal) ?? Number.NEGATIVE_INFINITY) < SAME_PRESS_MS) return;
    lastSent.set(signal, now);
    child.kill(signal);
  };
  const onInterrupt = forward('SIGINT');
  const onTerminate = forward('SIGTERM');
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onTerminate);
  return new Promise((resolvePromise) => {
    child.once('error', (error) => {
      process.stderr.write(`${error.message}\n`);
      resolvePromise(1);
    });
    child.once('exit', (code, signal) => {
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onTerminate);
      resolvePromise(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}

function startElectron(args: string[]): Promise<number> {
  const pkg = require('electron-vite/package.json') as { bin: Record<string, string> };
  const bin = join(dirname(require.resolve('electron-vite/package.json')), pkg.bin['electron-vite']!);
  // Not detached: the dev server and Electron keep the terminal (stdin) they were started from.
  return supervise(spawn(process.execPath, [bin, 'dev', ...args], { cwd: ROOT, stdio: 'inherit' }), false);
}

function startServe(args: string[]): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'main', 'cli.ts'), 'serve', ...args], {
    cwd: ROOT,
    // Its own process group (see supervise); it stops by itself should the launcher vanish.
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let printed = '';
  let opened = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (opened) return;
    printed += chunk.toString();
    const match = /Distillery is serving at (\S+)/.exec(printed);
    if (match) {
      opened = true;
      openInBrowser(match[1]!);
    }
  });
  return supervise(child, true);
}

async function main(argv: string[]): Promise<number> {
  const browserRequested = argv.includes('--browser');
  const args = argv.filter((arg) => arg !== '--browser');
  const binary = electronBinary();
  const facts: LaunchFacts = {
    electronBinary: binary ? relative(ROOT, binary) || binary : null,
    electronBinaryExists: binary !== null && existsSync(binary),
    browserRequested,
    rendererBuiltAt: rendererBuiltAt(ROOT),
    rendererSourcesChangedAt: rendererSourcesChangedAt(ROOT),
  };
  const plan = planLaunch(facts);
  if (plan.kind === 'electron') return startElectron(args);
  if (plan.notice) process.stdout.write(`${plan.notice}\n`);
  if (plan.buildRenderer) {
    process.stdout.write('Building the renderer (its sources changed since the last build)…\n');
    await buildRenderer(ROOT);
  }
  return startServe(args);
}

process.exitCode = await main(process.argv.slice(2));
