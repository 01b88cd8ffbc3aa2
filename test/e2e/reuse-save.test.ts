/**
 * Trust in reuse and the first save, as a new user meets them in serve mode and Debian's Chromium:
 * the first Save into a fresh data directory creates its pipelines folder; a pipeline that exports
 * to a folder, run with 2 epochs, then 3, then 2 again from the editor, runs its export again the
 * third time (the folder holds the 3-epoch model by then) while everything upstream is reused, and
 * the folder ends up holding the 2-epoch model's weights (the export node may replace another
 * model's export: `overwrite` is on).
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeWorkbench, dragLink, handle, openWorkbench, type Server } from '../helpers/e2e';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

describe('reuse that can be trusted, and the first save', () => {
  ensureNoLeaks();
  let server: Server | undefined;
  let browser: Browser;
  let page: Page;
  const data = makeTempDir('distillery-reuse-e2e-');
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // Without a warm pool every worker a run starts is gone after it, which the leak check asks.
    writeFileSync(join(data.dir, 'executors.json'), JSON.stringify({ local: { warmWorkers: 0 } }));
    ({ server, browser, page } = await openWorkbench(data.dir, { pageErrors, dialogs: 'accept' }));
    await page.goto(server.url.href);
  }, 120_000);

  afterAll(async () => {
    await closeWorkbench(server, browser);
    data.cleanup();
    expect(pageErrors).toEqual([]);
  });

  async function setParam(name: string, value: string): Promise<void> {
    const input = page.getByTestId(`param-${name}`);
    await input.fill(value);
    await input.press('Enter');
  }

  /** The weights file of the export folder, as bytes (one shard at this size). */
  function exportedWeights(folder: string): Buffer {
    const shard = readdirSync(folder).find((name) => name.endsWith('.bin'))!;
    return readFileSync(join(folder, shard));
  }

  /** Runs from the editor and waits for the run page to show the run finished; task statuses. */
  async function runFromEditor(): Promise<Record<string, string | null>> {
    await page.getByTestId('nav-editor').click();
    await page.keyboard.press('Control+Enter');
    const graph = page.getByTestId('run-graph');
    await expect
      .poll(() => graph.getByTestId('node-export').getAttribute('data-status'), { timeout: 90_000 })
      .toMatch(/^(done|reused|failed)$/);
    const statuses: Record<string, string | null> = {};
    for (const id of ['data', 'net', 'fit', 'export'])
      statuses[id] = await graph.getByTestId(`node-${id}`).getAttribute('data-status');
    return statuses;
  }

  it('saves into a fresh data directory, creating its pipelines folder', async () => {
    await page.getByTestId('gallery-sample-mnist-mlp').click();
    await expect.poll(() => page.locator('.vue-flow__node').count()).toBe(4);
    expect(existsSync(join(data.dir, 'pipelines'))).toBe(false);
    await page.keyboard.press('Control+s');
    // The suggestion names the data directory once the server has said which it is.
    await expect
      .poll(() => page.getByTestId('save-path').inputValue(), { timeout: 30_000 })
      .toBe(join(data.dir, 'pipelines', 'mnist-mlp.distillery.json'));
    const path = await page.getByTestId('save-path').inputValue();
    expect(path.startsWith(join(data.dir, 'pipelines'))).toBe(true);
    await page.getByTestId('save-dialog').locator('button[type="submit"]').click();
    await expect.poll(() => existsSync(path)).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ name: 'mnist-mlp', format: 1 });
  });

  it('runs an export again when its folder no longer holds what it wrote, and reuses the rest', async () => {
    await page.getByTestId('node-data').click();
    await setParam('trainLimit', '300');
    await setParam('testLimit', '100');
    await page.getByTestId('node-fit').click();
    await setParam('epochs', '2');
    // The evaluate node is not needed here; an export of fit's model is.
    await page.getByTestId('node-score').click();
    await page.keyboard.press('Delete');
    await page.getByTestId('palette-search').fill('export');
    await page.getByTestId('palette-item-export').dblclick();
    await page.getByTestId('palette-search').fill('');
    await page.getByTestId('node-export').waitFor();
    await dragLink(page, handle(page, 'fit', 'source', 'model'), handle(page, 'export', 'target', 'model'));
    await page.getByTestId('node-export').click();
    await setParam('outDir', 'reuse-check');
    // Exporting the 3-epoch model over the 2-epoch one replaces another model: asked for here.
    await page.getByTestId('param-overwrite').check();
    const folder = join(data.dir, 'exports', 'reuse-check');

    expect(await runFromEditor()).toEqual({ data: 'done', net: 'done', fit: 'done', export: 'done' });
    const twoEpochs = exportedWeights(folder);

    await page.getByTestId('nav-editor').click();
    await page.getByTestId('node-fit').click();
    await setParam('epochs', '3');
    expect(await runFromEditor()).toEqual({ data: 'reused', net: 'reused', fit: 'done', export: 'done' });
    expect(exportedWeights(folder).equals(twoEpochs)).toBe(false);

    await page.getByTestId('nav-editor').click();
    await page.getByTestId('node-fit').click();
    await setParam('epochs', '2');
    // The 2-epoch fit is reused; its export is not, because the folder holds the 3-epoch model.
    expect(await runFromEditor()).toEqual({ data: 'reused', net: 'reused', fit: 'reused', export: 'done' });
    expect(exportedWeights(folder).equals(twoEpochs)).toBe(true);

    // With the folder untouched, the export is reused too.
    expect(await runFromEditor()).toEqual({ data: 'reused', net: 'reused', fit: 'reused', export: 'reused' });
  }, 300_000);
});
