/**
 * End to end: `distillery serve` on a temporary data dir, the built workbench in Debian's Chromium
 * (playwright-core). Builds a pipeline by drag and drop, sees an incompatible link refused, runs it
 * with Ctrl+Enter, watches the loss chart grow while the run is live, finds the model and its
 * lineage in the registry, exports it, and checks the HTTP API's 401 and 400 answers.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  centerOf,
  closeWorkbench,
  dragLink,
  handle,
  openWorkbench,
  type PageElement,
  screenshot,
  type Server,
} from '../helpers/e2e';
import { makeTempDir } from '../helpers/tmp';

describe('workbench in serve mode', () => {
  let server: Server | undefined;
  let browser: Browser;
  let page: Page;
  const data = makeTempDir('distillery-e2e-');
  const exportDir = join(data.dir, 'export-out');
  const pageErrors: string[] = [];

  beforeAll(async () => {
    ({ server, browser, page } = await openWorkbench(data.dir, { pageErrors, dialogs: 'accept' }));
  }, 120_000);

  afterAll(async () => {
    await closeWorkbench(server, browser);
    data.cleanup();
  });

  it('answers 401 without the token and 400 with a coded error for a malformed request', async () => {
    const { url } = server!;
    const api = (method: string) => new URL(`/api/${method}`, url.origin).href;
    const token = url.searchParams.get('token')!;

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
    await page.goto(server!.url.href);
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

    // The run graph's text is legible at its first zoom, and the wheel over it scrolls the page.
    const graph = page.getByTestId('run-graph');
    const smallestText = await graph.evaluate((root: PageElement) => {
      type Styles = { getComputedStyle(element: unknown): { fontSize: string; transform: string } };
      const window = globalThis as unknown as Styles;
      const pane = root.querySelector('.vue-flow__transformationpane');
      const matrix = /matrix\(([^,]+)/.exec(pane ? window.getComputedStyle(pane).transform : '');
      const zoom = matrix ? Number(matrix[1]) : 1;
      let smallest = Number.POSITIVE_INFINITY;
      for (const element of root.querySelectorAll('.vue-flow__node *')) {
        const ownText = [...element.childNodes].some(
          (child) => child.nodeType === 3 && (child.textContent ?? '').trim() !== '',
        );
        if (ownText)
          smallest = Math.min(smallest, Number.parseFloat(window.getComputedStyle(element).fontSize) * zoom);
      }
      return smallest;
    });
    expect(smallestText).toBeGreaterThanOrEqual(11);
    const runView = page.getByTestId('run-view');
    const zoomOf = () =>
      graph
        .locator('.vue-flow__transformationpane')
        .evaluate((pane: PageElement) => pane.getAttribute('style'));
    const zoomBefore = await zoomOf();
    const scrolledBefore = await runView.evaluate((element: PageElement) => element.scrollTop);
    const graphCenter = await centerOf(graph);
    await page.mouse.move(graphCenter.x, graphCenter.y);
    await page.mouse.wheel(0, 400);
    await expect
      .poll(() => runView.evaluate((element: PageElement) => element.scrollTop))
      .toBeGreaterThan(scrolledBefore);
    expect(await zoomOf()).toBe(zoomBefore);
    await runView.evaluate((element: PageElement) => element.scrollTo(0, 0));
    // The other x axes, for a look in test-results/ (their ticks are unit-tested, charts/axis.ts).
    for (const axis of ['epoch', 'time', 'step']) {
      await page.getByTestId('x-axis').selectOption(axis);
      if (axis !== 'step') await screenshot(page, `run-${axis}-axis`);
    }

    // The evaluation's confusion matrix (10 digits) and per-class accuracy, from the task summary.
    const evaluation = page.getByTestId('evaluation-evaluate');
    await evaluation.waitFor();
    expect(await evaluation.getByTestId('confusion-cell').count()).toBe(100);
    expect(await evaluation.getByTestId('class-accuracy').count()).toBe(10);
    const diagonal = await evaluation
      .locator('[data-testid="confusion-cell"]')
      .evaluateAll((cells: PageElement[]) =>
        cells
          .filter((cell) => cell.getAttribute('data-true') === cell.getAttribute('data-predicted'))
          .reduce((sum, cell) => sum + Number(cell.textContent?.trim() || 0), 0),
      );
    // 500 test images (testLimit above); a model trained for two epochs gets most of them right.
    expect(diagonal).toBeGreaterThan(250);
    expect(diagonal).toBeLessThanOrEqual(500);

    // The registry lists the trained model (the MLP's untrained initialisation is hidden until
    // asked for); its version's view shows the lineage back to the MLP.
    await page.getByTestId('nav-registry').click();
    const row = page.locator('[data-testid="registered-row"][data-model-name="untitled/train"]');
    await row.waitFor({ timeout: 15_000 });
    expect(await page.locator('[data-testid="registered-row"]').count()).toBe(1);
    await page.getByTestId('show-untrained').check();
    await expect.poll(() => page.locator('[data-testid="registered-row"]').count()).toBe(2);
    await screenshot(page, 'registry', 'registry');
    await row.click();
    await page.locator('[data-testid="version-row"][data-version="1"]').click();
    await page.getByTestId('model-title').getByText('untitled/train').waitFor();
    const lineage = page.getByTestId('lineage-graph');
    await lineage.locator('.vue-flow__node').nth(1).waitFor();
    expect(await lineage.locator('.vue-flow__node').count()).toBe(2);
    expect(await lineage.locator('.vue-flow__edge-text').first().textContent()).toMatch(/^train/);
    // The model page shows the evaluation of this version, found through its run.
    const modelEvaluation = page.getByTestId('model-evaluation-evaluate');
    await modelEvaluation.waitFor();
    expect(await modelEvaluation.getByTestId('confusion-cell').count()).toBe(100);
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
