/**
 * The pipeline editor as a daily tool, in serve mode and Debian's Chromium: opening a file asks
 * before it replaces unsaved edits and fits the graph to the view; a toggle at the bottom of the
 * inspector leaves the window in place; a link dropped on empty canvas adds a node that takes it;
 * context menus duplicate and delete; quick search and paste find free space; Escape closes the
 * shortcuts dialog; the palette's last items stay under the pointer. No test here runs a pipeline.
 */
import { join } from 'node:path';
import type { Browser, Dialog, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli';
import {
  centerOf,
  closeWorkbench,
  dragTo,
  handle,
  openWorkbench,
  type PageElement,
  screenshot,
  type Server,
} from '../helpers/e2e';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

const MNIST_MLP = join(REPO_ROOT, 'resources', 'pipelines', 'mnist-mlp.distillery.json');

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

async function boxOf(locator: Locator): Promise<Box> {
  const box = await locator.boundingBox();
  if (!box) throw new Error(`${locator.toString()} is not on the page`);
  return box;
}

function disjoint(a: Box, b: Box): boolean {
  return a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
}

function inside(inner: Box, outer: Box): boolean {
  return (
    inner.x >= outer.x - 1 &&
    inner.y >= outer.y - 1 &&
    inner.x + inner.width <= outer.x + outer.width + 1 &&
    inner.y + inner.height <= outer.y + outer.height + 1
  );
}

describe('pipeline editor in serve mode', () => {
  ensureNoLeaks();
  let server: Server | undefined;
  let browser: Browser;
  let page: Page;
  const data = makeTempDir('distillery-editor-e2e-');
  const pageErrors: string[] = [];
  /** How the next confirm() is answered, and the messages of those asked so far. */
  let answer: 'accept' | 'dismiss' = 'accept';
  const asked: string[] = [];

  const nodes = () => page.locator('.vue-flow__node').count();
  const edges = () => page.locator('.vue-flow__edge').count();

  /** A blank document, answering yes should the editor ask about unsaved edits. */
  async function blank(): Promise<void> {
    answer = 'accept';
    await page.keyboard.press('Escape');
    await page.getByTestId('menu-file').click();
    await page.getByTestId('menu-new').click();
    await expect.poll(nodes).toBe(0);
  }

  /** Adds a node by double-clicking its palette entry (it lands in free space near the centre). */
  async function add(type: string): Promise<void> {
    const before = await nodes();
    await page.getByTestId('palette-search').fill(type);
    await page.getByTestId(`palette-item-${type}`).dblclick();
    await page.getByTestId('palette-search').fill('');
    await expect.poll(nodes).toBe(before + 1);
  }

  /** Opens a sample pipeline from the File menu and waits for its graph. */
  async function openSample(name: string, count: number): Promise<void> {
    answer = 'accept';
    await page.getByTestId('menu-file').click();
    await page.getByTestId(`menu-sample-${name}`).click();
    await expect.poll(() => page.getByTestId('doc-name').textContent()).toBe(name);
    await expect.poll(nodes).toBe(count);
  }

  /** Whether every node lies inside the canvas (after the fit's short animation). */
  async function allNodesInView(): Promise<boolean> {
    const canvas = await boxOf(page.getByTestId('canvas'));
    const boxes = await page.locator('.vue-flow__node').evaluateAll((elements: PageElement[]) =>
      elements.map((element) => {
        const rect = element.getBoundingClientRect();
        return { x: rect.x, y: rect.y, width: rect.width, height: rect.height };
      }),
    );
    return boxes.length > 0 && boxes.every((box) => inside(box, canvas));
  }

  /** How far the document itself is scrolled; the workbench never scrolls it (body hides overflow). */
  async function documentScroll(): Promise<{ top: number; left: number }> {
    return page
      .locator('html')
      .evaluate((root: PageElement) => ({ top: root.scrollTop, left: root.scrollLeft }));
  }

  beforeAll(async () => {
    ({ server, browser, page } = await openWorkbench(data.dir, {
      pageErrors,
      dialogs: (dialog: Dialog) => {
        asked.push(dialog.message());
        void (answer === 'accept' ? dialog.accept() : dialog.dismiss());
      },
    }));
    await page.goto(server.url.href);
    await page.getByTestId('palette-item-dataset.mnist').waitFor();
  }, 120_000);

  beforeEach(() => {
    asked.length = 0;
  });

  afterAll(async () => {
    await closeWorkbench(server, browser);
    data.cleanup();
    expect(pageErrors).toEqual([]);
  });

  it('asks before Open (Ctrl+O) replaces unsaved edits, then fits the opened graph to the view', async () => {
    await blank();
    await add('dataset.mnist');
    await page.getByTestId('dirty-marker').waitFor();

    // Declining keeps the edits and the dialog, so another path can be typed.
    await page.getByTestId('canvas').click({ position: { x: 20, y: 20 } });
    await page.keyboard.press('Control+o');
    await page.getByTestId('open-path').fill(MNIST_MLP);
    answer = 'dismiss';
    await page.getByTestId('open-path').press('Enter');
    await expect.poll(() => asked.length).toBe(1);
    expect(asked[0]).toMatch(/Discard unsaved changes/);
    expect(await page.getByTestId('doc-name').textContent()).toBe('untitled');
    expect(await nodes()).toBe(1);
    expect(await page.getByTestId('open-dialog').count()).toBe(1);

    // Agreeing opens the file, whose four nodes all land in view.
    answer = 'accept';
    await page.getByTestId('open-path').press('Enter');
    await expect.poll(() => page.getByTestId('doc-name').textContent()).toBe('mnist-mlp');
    expect(asked).toHaveLength(2);
    await expect.poll(nodes).toBe(4);
    expect(await page.getByTestId('dirty-marker').count()).toBe(0);
    await expect.poll(allNodesInView).toBe(true);

    // A document without unsaved edits is replaced without a question.
    await page.getByTestId('canvas').click({ position: { x: 20, y: 20 } });
    await page.keyboard.press('Control+o');
    await page.getByTestId('open-path').fill(MNIST_MLP);
    await page.getByTestId('open-path').press('Enter');
    await expect.poll(() => page.getByTestId('open-dialog').count()).toBe(0);
    expect(asked).toHaveLength(2);
  });

  it('fits a sample to the view when it is opened', async () => {
    // From an empty canvas panned far off and zoomed in, so nothing of the sample starts in view.
    await blank();
    const canvas = await boxOf(page.getByTestId('canvas'));
    for (let i = 0; i < 4; i++) await page.locator('.vue-flow__controls-zoomin').click();
    await page.mouse.move(canvas.x + 60, canvas.y + 60);
    await page.mouse.down();
    await page.mouse.move(canvas.x + canvas.width - 60, canvas.y + canvas.height - 60, { steps: 10 });
    await page.mouse.up();
    await openSample('mnist-distill-prune-quantize', 9);
    await expect.poll(allNodesInView).toBe(true);
    // Nodes whose ids the previous document also had are measured already; the new ones are not.
    await openSample('mnist-mlp', 4);
    await expect.poll(allNodesInView).toBe(true);
  });

  it('leaves the window in place when a toggle at the bottom of the inspector is clicked or tabbed to', async () => {
    await openSample('mnist-mlp', 4);
    await page.getByTestId('node-fit').click();
    const canvas = await boxOf(page.getByTestId('canvas'));
    const toggle = page.getByTestId('param-field-shuffle').locator('.switch');
    const checkbox = page.getByTestId('param-shuffle');
    const before = await checkbox.isChecked();

    await toggle.click();
    await expect.poll(() => checkbox.isChecked()).toBe(!before);
    expect(await documentScroll()).toEqual({ top: 0, left: 0 });
    expect(await boxOf(page.getByTestId('canvas'))).toEqual(canvas);

    // Focus reaching the hidden checkbox (as Tab does) must not scroll the document either.
    await page.getByTestId('canvas').click({ position: { x: 20, y: 20 } });
    await page.getByTestId('node-fit').click();
    await checkbox.focus();
    expect(await documentScroll()).toEqual({ top: 0, left: 0 });
    await page.keyboard.press('Space');
    await expect.poll(() => checkbox.isChecked()).toBe(before);
    expect(await documentScroll()).toEqual({ top: 0, left: 0 });
    const after = await boxOf(page.getByTestId('canvas'));
    expect(after.width).toBeGreaterThan(0);
    expect(after).toEqual(canvas);
    await screenshot(page, 'editor-inspector-toggle');
  });

  it('adds a connected node when a link is dropped on empty canvas', async () => {
    await blank();
    await add('dataset.mnist');
    const canvas = await boxOf(page.getByTestId('canvas'));
    const from = await centerOf(handle(page, 'mnist', 'source', 'dataset'));
    const drop = { x: Math.min(from.x + 260, canvas.x + canvas.width - 300), y: from.y + 40 };
    await dragTo(page, handle(page, 'mnist', 'source', 'dataset'), drop);

    // Quick search offers only node types with an input that takes a dataset.
    await page.getByTestId('quick-search').waitFor();
    expect(await page.getByTestId('quick-search-link').textContent()).toMatch(/mnist\.dataset/);
    const offered = await page.getByTestId('quick-search-item').locator('.type').allTextContents();
    expect(offered).toContain('train');
    expect(offered).toContain('evaluate');
    expect(offered).not.toContain('dataset.mnist');
    expect(offered).not.toContain('export');
    await page.getByTestId('quick-search-input').fill('train');
    await page.keyboard.press('Enter');

    await expect.poll(nodes).toBe(2);
    await expect.poll(edges).toBe(1);
    expect(await page.locator('.vue-flow__edge').getAttribute('data-id')).toBe(
      'mnist.dataset->train.dataset',
    );
    // Its input lands right of the drop point, and it covers no other node.
    const added = await boxOf(page.getByTestId('node-train'));
    expect(added.x).toBeGreaterThan(drop.x - 40);
    expect(disjoint(added, await boxOf(page.getByTestId('node-mnist')))).toBe(true);
    await screenshot(page, 'editor-link-drop');

    // Node and link are one undo step.
    await page.getByTestId('canvas').click({ position: { x: 20, y: 20 } });
    await page.keyboard.press('Control+z');
    await expect.poll(nodes).toBe(1);
    expect(await edges()).toBe(0);

    // Dropping the link back on its own node (not empty canvas) opens nothing.
    await dragTo(
      page,
      handle(page, 'mnist', 'source', 'dataset'),
      await centerOf(page.getByTestId('node-mnist')),
    );
    expect(await page.getByTestId('quick-search').count()).toBe(0);
  });

  it('duplicates and deletes nodes from the context menu, and opens quick search from the canvas', async () => {
    await openSample('mnist-mlp', 4);
    await page.getByTestId('node-fit').click({ button: 'right' });
    await page.getByTestId('context-menu').waitFor();
    await screenshot(page, 'editor-context-menu');
    await page.getByTestId('context-duplicate').click();
    await expect.poll(nodes).toBe(5);
    expect(await page.getByTestId('context-menu').count()).toBe(0);
    const copy = page.getByTestId('node-fit-2');
    await copy.waitFor();
    const copyBox = await boxOf(copy);
    for (const id of ['data', 'net', 'fit', 'score'])
      expect(disjoint(copyBox, await boxOf(page.getByTestId(`node-${id}`)))).toBe(true);
    // The duplicate carries the original's params.
    await copy.click();
    expect(await page.getByTestId('param-epochs').inputValue()).toBe('3');

    await copy.click({ button: 'right' });
    await page.getByTestId('context-delete').click();
    await expect.poll(nodes).toBe(4);
    expect(await page.getByTestId('node-fit-2').count()).toBe(0);

    // The canvas's menu: Escape closes it; "Add node here…" opens quick search at that point.
    const canvas = await boxOf(page.getByTestId('canvas'));
    await page.mouse.click(canvas.x + 40, canvas.y + canvas.height - 200, { button: 'right' });
    await page.getByTestId('context-menu').waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('context-menu').count()).toBe(0);
    await page.mouse.click(canvas.x + 40, canvas.y + canvas.height - 200, { button: 'right' });
    await page.getByTestId('context-add-node').click();
    await page.getByTestId('quick-search').waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('quick-search').count()).toBe(0);
  });

  it('places nodes added by quick search and paste where they overlap nothing', async () => {
    await blank();
    for (let i = 0; i < 3; i++) {
      await page.getByTestId('canvas').click({ position: { x: 20, y: 20 } });
      await page.keyboard.press('/');
      await page.getByTestId('quick-search-input').fill('train');
      await page.keyboard.press('Enter');
      await expect.poll(nodes).toBe(i + 1);
    }
    await page.getByTestId('node-train').click();
    await page.keyboard.press('Control+c');
    await page.keyboard.press('Control+v');
    await expect.poll(nodes).toBe(4);
    await page.keyboard.press('Control+v');
    await expect.poll(nodes).toBe(5);
    const boxes = await Promise.all(
      ['train', 'train-2', 'train-3', 'train-4', 'train-5'].map((id) =>
        boxOf(page.getByTestId(`node-${id}`)),
      ),
    );
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) expect(disjoint(boxes[i]!, boxes[j]!)).toBe(true);
  });

  it('closes the shortcuts dialog with Escape', async () => {
    await page.getByTestId('menu-edit').click();
    await page.getByText('Keyboard shortcuts').click();
    await page.getByTestId('shortcuts-dialog').waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('shortcuts-dialog').count()).toBe(0);
  });

  it('keeps the palette still under the pointer, so its last item can be dragged', async () => {
    await blank();
    const groups = page.getByTestId('palette').locator('.groups');
    await groups.evaluate((element: PageElement) => element.scrollTo(0, element.scrollHeight));
    const last = page.getByTestId('palette').locator('.item').last();
    const type = (await last.getAttribute('data-testid'))!.replace('palette-item-', '');
    const footer = await boxOf(page.getByTestId('palette-help'));
    const before = await boxOf(last);
    await last.hover();
    const title = await last.locator('.title').innerText();
    await expect.poll(() => page.getByTestId('palette-help').locator('strong').textContent()).toBe(title);
    expect(await boxOf(last)).toEqual(before);
    expect(await boxOf(page.getByTestId('palette-help'))).toEqual(footer);
    await last.dragTo(page.getByTestId('canvas'), { targetPosition: { x: 400, y: 300 }, timeout: 5000 });
    await expect.poll(nodes).toBe(1);
    expect(await page.locator('.vue-flow__node .id').first().textContent()).toBe(
      type
        .split('.')
        .pop()!
        .replace(/[^A-Za-z0-9_-]+/g, '-'),
    );
  });
});
