/**
 * The browser tests' common ground: the built renderer, a `distillery serve` on a temporary data
 * dir, Debian's Chromium through playwright-core, screenshots, and mouse gestures on Vue Flow.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium, type Browser, type Dialog, type Locator, type Page } from 'playwright-core';
import { rendererIsStale } from '../../main/bin/launch-plan';
import { buildRenderer, rendererBuiltAt, rendererSourcesChangedAt } from '../../main/bin/renderer-build';
import { REPO_ROOT } from './cli';

export const CHROMIUM = '/usr/bin/chromium';
const RESULTS = join(REPO_ROOT, 'test-results');
const README_SHOTS = join(REPO_ROOT, 'resources', 'screenshots');
/** Held while one test file builds the renderer, so a second one waits instead of racing it. */
const BUILD_LOCK = join(REPO_ROOT, 'out', '.renderer-build-lock');
/** A lock older than this was left by a build that died. */
const STALE_LOCK_MS = 5 * 60_000;

const stale = () => rendererIsStale(rendererBuiltAt(REPO_ROOT), rendererSourcesChangedAt(REPO_ROOT));

/** Builds the renderer unless out/renderer is newer than every source file. */
export async function ensureRendererBuilt(): Promise<void> {
  if (!stale()) return;
  mkdirSync(join(REPO_ROOT, 'out'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch {
      let age = 0;
      try {
        age = Date.now() - statSync(BUILD_LOCK).mtimeMs;
      } catch {
        continue;
      }
      if (age > STALE_LOCK_MS) rmSync(BUILD_LOCK, { recursive: true, force: true });
      // Another test file is building; a lock directory has no event to wait on.
      else await delay(250);
    }
  }
  try {
    if (stale()) await buildRenderer(REPO_ROOT);
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}

export interface Server {
  child: ChildProcess;
  url: URL;
}

/** Starts `distillery serve --port 0` and resolves with the URL it prints first. */
export function startServer(dataDir: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'main', 'cli.ts'), 'serve', '--port', '0', '--data-dir', dataDir],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`serve printed no URL:\n${stdout}\n${stderr}`)), 30_000);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /Distillery is serving at (\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: new URL(match[1]!) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

/** Stops a server started by startServer and waits until it has exited. */
export async function stopServer(server: Server | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** Debian's Chromium, headless, without the background services a test has no use for. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** What openWorkbench opens: the server, the browser, and its one page. */
export interface Workbench {
  server: Server;
  browser: Browser;
  page: Page;
}

export interface WorkbenchOptions {
  /** Receives the message of every uncaught error on the page, for the test to assert on. */
  pageErrors: string[];
  /** `accept` answers every dialog yes; a function answers them itself; without it, none is answered. */
  dialogs?: 'accept' | ((dialog: Dialog) => void);
  viewport?: { width: number; height: number };
}

/**
 * Builds the renderer if it is stale, serves `dataDir`, and opens a light-mode Chromium page
 * (1600×1000 unless told) with its error and dialog listeners attached, not yet navigated: the
 * caller goes to `server.url` when it is ready. What it started is stopped again when a later step
 * fails.
 */
export async function openWorkbench(dataDir: string, options: WorkbenchOptions): Promise<Workbench> {
  await ensureRendererBuilt();
  const server = await startServer(dataDir);
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.newPage({
      viewport: options.viewport ?? { width: 1600, height: 1000 },
      colorScheme: 'light',
    });
    page.on('pageerror', (error) => options.pageErrors.push(error.message));
    const { dialogs } = options;
    if (dialogs === 'accept') page.on('dialog', (dialog) => void dialog.accept());
    else if (dialogs) page.on('dialog', dialogs);
    return { server, browser, page };
  } catch (error) {
    await closeWorkbench(server, browser);
    throw error;
  }
}

/** Closes the browser and stops the server; either may be missing when set-up failed part way. */
export async function closeWorkbench(
  server: Server | undefined,
  browser: Browser | undefined,
): Promise<void> {
  await browser?.close();
  await stopServer(server);
}

/** Saves a screenshot to test-results/ (and, with UPDATE_SCREENSHOTS, as the README's `readme`). */
export async function screenshot(page: Page, name: string, readme?: string): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, `${name}.png`);
  await page.screenshot({ path });
  // README's copies change only when asked for, so a test run leaves the working tree as it was.
  if (readme && process.env.UPDATE_SCREENSHOTS) {
    mkdirSync(README_SHOTS, { recursive: true });
    copyFileSync(path, join(README_SHOTS, `${readme}.png`));
  }
}

/**
 * The parts of a DOM element the tests read inside the page. The tests compile without the DOM
 * library (they run in Node), so callbacks given to `evaluate` declare what they use.
 */
export interface PageElement {
  scrollTop: number;
  scrollLeft: number;
  scrollHeight: number;
  textContent: string | null;
  childNodes: Iterable<{ nodeType: number; textContent: string | null }>;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { x: number; y: number; width: number; height: number };
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  scrollTo(x: number, y: number): void;
}

/** The centre of an element on the page. */
export async function centerOf(locator: Locator): Promise<{ x: number; y: number }> {
  const box = await locator.boundingBox();
  if (!box) throw new Error(`${locator.toString()} is not on the page`);
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Drags with the mouse from an element to a point, optionally checking mid-drag. */
export async function dragTo(
  page: Page,
  from: Locator,
  to: { x: number; y: number },
  whileOver?: () => Promise<void>,
): Promise<void> {
  const a = await centerOf(from);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move((a.x + to.x) / 2, (a.y + to.y) / 2, { steps: 8 });
  await page.mouse.move(to.x, to.y, { steps: 8 });
  await whileOver?.();
  await page.mouse.up();
}

/** Drags a link from one handle to another with the mouse, optionally checking mid-drag. */
export async function dragLink(
  page: Page,
  from: Locator,
  to: Locator,
  whileOver?: () => Promise<void>,
): Promise<void> {
  await dragTo(page, from, await centerOf(to), whileOver);
}

/** A port's handle on the editor's canvas. */
export function handle(page: Page, nodeId: string, kind: 'source' | 'target', port: string): Locator {
  return page.locator(`.vue-flow__handle.${kind}[data-nodeid="${nodeId}"][data-handleid="${port}"]`);
}
