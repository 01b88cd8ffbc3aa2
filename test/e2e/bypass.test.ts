/**
 * Bypass in serve mode and Debian's Chromium: the node context menu bypasses a node (drawn dimmed
 * and labelled, undone with Ctrl+Z), and a run of a pipeline with a bypassed node shows the node as
 * bypassed beside the tasks that ran.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answer, RunInfo } from '../../preload/contract';
import { closeWorkbench, openWorkbench, screenshot, type Server } from '../helpers/e2e';
import { ensureNoLeaks } from '../helpers/leak-check';
import { mnistMlpPipeline } from '../helpers/pipelines';
import { makeTempDir } from '../helpers/tmp';

describe('bypassed nodes in the workbench', () => {
  ensureNoLeaks();
  let server: Server | undefined;
  let browser: Browser;
  let page: Page;
  const data = makeTempDir('distillery-bypass-e2e-');
  const pageErrors: string[] = [];

  async function api<T>(method: string, params: unknown): Promise<T> {
    const response = await fetch(new URL(`/api/${method}`, server!.url.origin), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${server!.url.searchParams.get('token')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(params),
    });
    const answer = (await response.json()) as Answer<T>;
    if (!answer.ok) throw new Error(JSON.stringify(answer.error));
    return answer.result;
  }

  beforeAll(async () => {
    // Without a warm pool every worker a run starts is gone after it, which the leak check asks.
    writeFileSync(join(data.dir, 'executors.json'), JSON.stringify({ local: { warmWorkers: 0 } }));
    ({ server, browser, page } = await openWorkbench(data.dir, { pageErrors }));
    await page.goto(server.url.href);
    await page.getByTestId('palette-item-prune').waitFor();
  }, 120_000);

  afterAll(async () => {
    await closeWorkbench(server, browser);
    data.cleanup();
    expect(pageErrors).toEqual([]);
  });

  it('bypasses a node from its context menu, and Ctrl+Z takes it back', async () => {
    await page.getByTestId('palette-search').fill('prune');
    await page.getByTestId('palette-item-prune').dblclick();
    const node = page.getByTestId('node-prune');
    await node.waitFor();
    await node.click({ button: 'right' });
    await page.getByTestId('context-bypass').click();
    await expect.poll(() => node.getAttribute('class')).toContain('bypassed');
    expect(await page.getByTestId('node-bypassed').textContent()).toContain('bypassed');

    await node.click({ button: 'right' });
    expect(await page.getByTestId('context-bypass').textContent()).toContain('Stop bypassing');
    await page.keyboard.press('Escape');
    await page.locator('.vue-flow__pane').click({ position: { x: 20, y: 20 } });
    await page.keyboard.press('Control+z');
    await expect.poll(() => node.getAttribute('class')).not.toContain('bypassed');
  });

  it('shows a bypassed node of a run as bypassed, beside the tasks that ran', async () => {
    const doc = mnistMlpPipeline({
      name: 'bypass-e2e',
      data: { trainLimit: 300, testLimit: 100 },
      net: { hidden: [8] },
      fit: { epochs: 1 },
      score: { latencySamples: 0 },
      ui: { data: { x: 0, y: 0 }, net: { x: 260, y: 0 }, fit: { x: 520, y: 0 }, score: { x: 1040, y: 0 } },
    });
    doc.nodes.push({ id: 'prune', type: 'prune', params: {}, bypass: true, ui: { x: 780, y: 0 } });
    doc.edges = doc.edges.map((edge) =>
      edge.to === 'score.model' ? { ...edge, from: 'prune.model' } : edge,
    );
    doc.edges.push({ from: 'fit.model', to: 'prune.model' }, { from: 'data.dataset', to: 'prune.dataset' });
    const run = await api<RunInfo>('runs.start', { doc });
    await page.goto(`${server!.url.origin}/${server!.url.search}#/runs/${run.id}`);
    const graph = page.getByTestId('run-graph');
    await expect
      .poll(() => graph.getByTestId('node-score').getAttribute('data-status'), { timeout: 60_000 })
      .toBe('done');
    expect(await graph.getByTestId('node-prune').getAttribute('class')).toContain('bypassed');
    expect(await graph.getByTestId('node-prune').getByTestId('node-bypassed').isVisible()).toBe(true);
    expect(await graph.getByTestId('node-fit').getAttribute('data-status')).toBe('done');
    await screenshot(page, 'bypass');
  });
});
