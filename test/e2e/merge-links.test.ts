/**
 * A many-link input on the canvas, in serve mode and Debian's Chromium: two models dragged into a
 * merge node's `models` input both stay linked, numbered in link order on the canvas, and counted on
 * the port; a second link into a single input (`base`) still replaces the first.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeWorkbench,
  dragLink,
  handle,
  openWorkbench,
  type PageElement,
  screenshot,
  type Server,
} from '../helpers/e2e';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

describe('many-link inputs on the canvas', () => {
  ensureNoLeaks();
  let server: Server | undefined;
  let browser: Browser;
  let page: Page;
  const data = makeTempDir('distillery-merge-e2e-');
  const pageErrors: string[] = [];

  const nodes = () => page.locator('.vue-flow__node').count();
  /** Links on the canvas whose id (`from->to`) ends with `suffix`. */
  const edgesInto = async (suffix: string): Promise<number> => {
    const ids = await page
      .locator('.vue-flow__edge')
      .evaluateAll((elements: PageElement[]) =>
        elements.map((element) => element.getAttribute('data-id') ?? ''),
      );
    return ids.filter((id) => id.endsWith(suffix)).length;
  };

  async function add(type: string): Promise<void> {
    const before = await nodes();
    await page.getByTestId('palette-search').fill(type);
    await page.getByTestId(`palette-item-${type}`).dblclick();
    await page.getByTestId('palette-search').fill('');
    await expect.poll(nodes).toBe(before + 1);
  }

  beforeAll(async () => {
    ({ server, browser, page } = await openWorkbench(data.dir, { pageErrors }));
    await page.goto(server.url.href);
    await page.getByTestId('palette-item-merge').waitFor();
  }, 120_000);

  afterAll(async () => {
    await closeWorkbench(server, browser);
    data.cleanup();
    expect(pageErrors).toEqual([]);
  });

  it('keeps two links into merge.models, numbered in order, and still swaps the link into merge.base', async () => {
    await add('model.mlp');
    await add('model.mlp');
    await add('merge');
    await dragLink(page, handle(page, 'mlp', 'source', 'model'), handle(page, 'merge', 'target', 'models'));
    await expect.poll(() => page.getByTestId('links-merge-models').textContent()).toBe('[1]');
    await dragLink(page, handle(page, 'mlp-2', 'source', 'model'), handle(page, 'merge', 'target', 'models'));
    await expect.poll(() => page.getByTestId('links-merge-models').textContent()).toBe('[2]');
    expect(await edgesInto('->merge.models')).toBe(2);
    // The canvas numbers them: the order the merge takes its models in.
    const labels = await page.locator('.vue-flow__edge-text').allTextContents();
    expect(labels.map((label) => label.trim()).sort()).toEqual(['1', '2']);

    await dragLink(page, handle(page, 'mlp', 'source', 'model'), handle(page, 'merge', 'target', 'base'));
    await expect.poll(() => edgesInto('->merge.base')).toBe(1);
    await dragLink(page, handle(page, 'mlp-2', 'source', 'model'), handle(page, 'merge', 'target', 'base'));
    await expect.poll(() => edgesInto('mlp-2.model->merge.base')).toBe(1);
    expect(await edgesInto('->merge.base')).toBe(1);
    expect(await edgesInto('->merge.models')).toBe(2);
    await screenshot(page, 'merge-links');
  });
});
