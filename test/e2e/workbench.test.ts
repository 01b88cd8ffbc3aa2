/**
 * End to end: `distillery serve` on a temporary data dir, the built workbench in Debian's Chromium
 * (playwright-core). Builds a pipeline by drag and drop, sees an incompatible link refused, runs it
 * with Ctrl+Enter, watches the loss chart grow while the run is live, finds the model and its
 * lineage in the registry, exports it, and checks the HTTP API's 401 and 400 answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli';
import { makeTempDir } from '../helpers/tmp';

const CHROMIUM = '/usr/bin/chromium';
const RENDERER_DIR = join(REPO_ROOT, 'renderer');
const BUILT_INDEX = join(REPO_ROOT, 'out', 'renderer', 'index.html');
const RESULTS = join(REPO_ROOT, 'test-results');
const README_SHOTS = join(REPO_ROOT, 'resources', 'screenshots');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the renderer unless out/renderer is newer than every source file. */
async function ensureRendererBuilt(): Promise<void> {
  const sources = Math.max(
    newestMtime(RENDERER_DIR),
    statSync(join(REPO_ROOT, 'preload', 'contract.ts')).mtimeMs,
  );
  if (existsSync(BUILT_INDEX) && statSync(BUILT_INDEX).mtimeMs > sources) return;
  const { build } = await import('vite');
  await build({ configFile: join(RENDERER_DIR, 'vite.config.ts'), logLevel: 'warn' });
}

/** Starts `distillery serve --port 0` and resolves with the URL it prints first. */
function startServer(dataDir: string): Promise<{ child: ChildProcess; url: URL }> {
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

async function screenshot(page: Page, name: string, readme?: string): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, `${name}.png`);
  await page.screenshot({ path });
  // README's copies change only when asked for, so a test run leaves the working tree as it was.
  if (readme && process.env.UPDATE_SCREENSHOTS) {
    mkdirSync(README_SHOTS, { recursive: true });
    copyFileSync(path, join(README_SHOTS, `${readme}.png`));
  }
}

/** Drags a link from one handle to another with the mouse, optionally checking mid-drag. */
async function dragLink(
  page: Page,
  from: Locator,
  to: Locator,
  whileOver?: () => Promise<void>,
): Promise<void> {
  const a = (await from.boundingBox())!;
  const b = (await to.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 8 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 8 });
  await whileOver?.();
  await page.mouse.up();
}

function handle(page: Page, nodeId: string, kind: 'source' | 'target', port: string): Locator {
  return page.locator(`.vue-flow__handle.${kind}[data-nodeid="${nodeId}"][data-handleid="${port}"]`);
}

describe('workbench in serve mode', () => {
  let server: { child: ChildProcess; url: URL };
  let browser: Browser;
  let page: Page;
  const data = makeTempDir('distillery-e2e-');
  const exportDir = join(data.dir, 'export-out');
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await ensureRendererBuilt();
    server = await startServer(data.dir);
    browser = await chromium.launch({
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
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, colorScheme: 'light' });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => void dialog.accept());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (server?.child.exitCode === null) {
      const exited = new Promise((resolve) => server.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      await exited;
    }
    data.cleanup();
  });

  it('answers 401 without the token and 400 with a coded error for a malformed request', async () => {
    const api = (method: string) => new URL(`/api/${method}`, server.url.origin).href;
    const token = server.url.searchParams.get('token')!;

    const anonymous = await fetch(api('runs.list'), {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });

    const wrong = await fetch(api('runs.list'), {
      method: 'POST',
      body: '{}',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);

    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const badParams = await fetch(api('runs.get'), {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ runId: 42 }),
    });
    expect(badParams.status).toBe(400);
    const body = (await badParams.json()) as {
      ok: false;
      error: { code: string; details: { issues: Array<{ path: string }> } };
    };
    expect(body.error.code).toBe('INVALID_REQUEST');
    expect(body.error.details.issues[0]!.path).toBe('runId');

    const badJson = await fetch(api('runs.list'), { method: 'POST', headers: auth, body: '{not json' });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });

    const ok = await fetch(api('catalog.list'), { method: 'POST', headers: auth, body: '{}' });
    expect(ok.status).toBe(200);
  });

  it('builds, runs, watches and registers a pipeline, then exports the model', async () => {
    await page.goto(server.url.href);
    // The token leaves the address bar once the page has it.
    await expect.poll(() => page.url()).not.toContain('token');
    await page.getByTestId('palette-item-dataset.mnist').waitFor();

    // Start from a blank document.
    await page.getByTestId('menu-file').click();
    await page.getByTestId('menu-new').click();
    await expect.poll(() => page.locator('.vue-flow__node').count()).toBe(0);

    // Drag the four nodes from the palette onto the canvas.
    const canvas = page.getByTestId('canvas');
    const drops: Array<[string, number, number]> = [
      ['dataset.mnist', 140, 250],
      ['model.mlp', 390, 110],
      ['train', 640, 250],
      ['evaluate', 890, 290],
    ];
    for (const [type, x, y] of drops) {
      await page.getByTestId(`palette-item-${type}`).dragTo(canvas, { targetPosition: { x, y } });
    }
    await expect.poll(() => page.locator('.vue-flow__node').count()).toBe(4);
    for (const id of ['mnist', 'mlp', 'train', 'evaluate'])
      await expect.poll(() => page.getByTestId(`node-${id}`).count()).toBe(1);

    // An incompatible link is refused while dragging, with the reason shown, and not made.
    await dragLink(
      page,
      handle(page, 'mnist', 'source', 'dataset'),
      handle(page, 'train', 'target', 'model'),
      async () => {
        const refusal = page.getByTestId('connection-refused');
        await refusal.waitFor({ timeout: 5000 });
        expect(await refusal.textContent()).toMatch(/expects a classifier model \(model\).*gives a dataset/);
      },
    );
    await expect.poll(() => page.getByTestId('connection-refused').count()).toBe(0);
    expect(await page.locator('.vue-flow__edge').count()).toBe(0);

    // The right links.
    await dragLink(
      page,
      handle(page, 'mnist', 'source', 'dataset'),
      handle(page, 'mlp', 'target', 'dataset'),
    );
    await dragLink(
      page,
      handle(page, 'mnist', 'source', 'dataset'),
      handle(page, 'train', 'target', 'dataset'),
    );
    await dragLink(page, handle(page, 'mlp', 'source', 'model'), handle(page, 'train', 'target', 'model'));
    await dragLink(
      page,
      handle(page, 'train', 'source', 'model'),
      handle(page, 'evaluate', 'target', 'model'),
    );
    await dragLink(
      page,
      handle(page, 'mnist', 'source', 'dataset'),
      handle(page, 'evaluate', 'target', 'dataset'),
    );
    await expect.poll(() => page.locator('.vue-flow__edge').count()).toBe(5);

    // Undo/redo the last link; `/` quick search adds a node, Delete removes it, Ctrl+Z restores it.
    const edges = () => page.locator('.vue-flow__edge').count();
    const nodes = () => page.locator('.vue-flow__node').count();
    await canvas.click({ position: { x: 30, y: 30 } });
    await page.keyboard.press('Control+z');
    await expect.poll(edges).toBe(4);
    await page.keyboard.press('Control+Shift+Z');
    await expect.poll(edges).toBe(5);
    await page.keyboard.press('/');
    await page.getByTestId('quick-search-input').fill('export');
    await page.keyboard.press('Enter');
    await expect.poll(nodes).toBe(5);
    await page.keyboard.press('Delete');
    await expect.poll(nodes).toBe(4);
    await page.keyboard.press('Control+z');
    await expect.poll(nodes).toBe(5);
    await page.keyboard.press('Control+z');
    await expect.poll(nodes).toBe(4);
    expect(await edges()).toBe(5);

    // Parameters through the inspector; the out-of-range value shows an inline error first.
    await page.getByTestId('node-mnist').click();
    await page.getByTestId('param-trainLimit').fill('4000');
    await page.getByTestId('param-testLimit').fill('500');
    await page.getByTestId('node-train').click();
    await page.getByTestId('param-epochs').fill('0');
    await page.getByTestId('param-error-epochs').waitFor();
    await expect.poll(() => page.getByTestId('run-button').isDisabled()).toBe(true);
    await page.getByTestId('param-epochs').fill('2');
    await page.getByTestId('param-batchSize').fill('32');
    await page.getByTestId('node-evaluate').click();
    await page.getByTestId('param-latencySamples').fill('20');
    await page.getByTestId('issues-panel').getByText('Ready to run').waitFor();
    expect(await page.getByTestId('dirty-marker').count()).toBe(1);
    await page.getByTestId('node-train').click();
    await page
      .getByTestId('palette')
      .locator('.groups')
      .evaluate((element: { scrollTo(x: number, y: number): void }) => element.scrollTo(0, 0));
    await screenshot(page, 'editor', 'editor');

    // Ctrl+Enter runs (with the focus off the form fields).
    await canvas.click({ position: { x: 40, y: 40 } });
    await page.keyboard.press('Control+Enter');
    await page.getByTestId('run-view').waitFor();

    // The loss chart gains points while the run is live.
    const chart = page.getByTestId('metric-chart-loss');
    await chart.waitFor({ timeout: 60_000 });
    const seen: number[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const status = await page.getByTestId('run-status').getAttribute('data-status');
      const points = Number(await chart.getAttribute('data-points'));
      if (status !== 'running') break;
      if (points > 0 && points !== seen.at(-1)) seen.push(points);
      if (seen.length === 3) await screenshot(page, 'run', 'run');
      if (seen.length >= 4) break;
      await page.waitForTimeout(150);
    }
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)!).toBeGreaterThan(seen[0]!);

    await page.locator('[data-testid="run-status"][data-status="done"]').waitFor({ timeout: 120_000 });
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThanOrEqual(seen.at(-1)!);
    await page.getByTestId('task-row-evaluate').locator('[data-status="done"]').waitFor();

    // The registry lists the trained model; its view shows the lineage back to the MLP.
    await page.getByTestId('nav-registry').click();
    const row = page.locator('[data-testid="model-row"][data-model-name="untitled/train"]');
    await row.waitFor({ timeout: 15_000 });
    expect(await page.locator('[data-testid="model-row"]').count()).toBe(2);
    await screenshot(page, 'registry', 'registry');
    await row.click();
    await page.getByTestId('model-title').getByText('untitled/train').waitFor();
    const lineage = page.getByTestId('lineage-graph');
    await lineage.locator('.vue-flow__node').nth(1).waitFor();
    expect(await lineage.locator('.vue-flow__node').count()).toBe(2);
    expect(await lineage.locator('.vue-flow__edge-text').first().textContent()).toMatch(/^train/);
    await screenshot(page, 'model');

    // Export to a folder and check the files exist where the dialog says.
    await page.getByTestId('export-model').click();
    await page.getByTestId('export-folder').fill(exportDir);
    await page.getByTestId('export-submit').click();
    await page.getByTestId('export-result').waitFor({ timeout: 30_000 });
    const files = await page.getByTestId('export-file').allTextContents();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(existsSync(file.trim())).toBe(true);
    expect(existsSync(join(exportDir, 'model.json'))).toBe(true);
    expect(await page.getByTestId('export-where').textContent()).toBe(exportDir);

    expect(pageErrors).toEqual([]);
  }, 300_000);
});
