/**
 * Sweeps end to end, in serve mode and Debian's Chromium: on the MNIST MLP sample (shrunk to a few
 * hundred images and three epochs), "Sweep this param" on the learning rate and the batch size
 * adds them to a new sweep with suggested ranges and badges the node; the Sweep panel sets a
 * 4-trial random search with ASHA; Run starts it and opens the sweep view, which fills in from
 * `sweep.status` and `trial.status`: the trials table, the optimisation history, the parallel
 * coordinates, the intermediate curves and the importance.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureRendererBuilt,
  launchChromium,
  screenshot,
  startServer,
  stopServer,
  type Server,
} from '../helpers/e2e';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

describe('sweeps in the workbench', () => {
  ensureNoLeaks();
  let server: Server | undefined;
  let browser: Browser;
  let page: Page;
  const data = makeTempDir('distillery-sweep-e2e-');
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await ensureRendererBuilt();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 1100 }, colorScheme: 'light' });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stopServer(server);
    data.cleanup();
    expect(pageErrors).toEqual([]);
  });

  // The server (and the trial workers it starts) belongs to the test, so the leak check sees
  // every worker gone once it has stopped.
  it('builds a sweep in the editor, runs it and shows it filling in live', async () => {
    server = await startServer(data.dir);
    try {
      await page.goto(server.url.href);
      await buildSweep();
      await runSweep();
    } finally {
      await stopServer(server);
    }
  }, 420_000);

  async function setParam(name: string, value: string): Promise<void> {
    const input = page.getByTestId(`param-${name}`);
    await input.fill(value);
    await input.press('Enter');
  }

  /** "Sweep this param" on two params of the shrunk sample, then the Sweep panel's budget. */
  async function buildSweep(): Promise<void> {
    await page.getByTestId('gallery-sample-mnist-mlp').click();
    await expect.poll(() => page.locator('.vue-flow__node').count()).toBe(4);

    await page.getByTestId('node-data').click();
    await setParam('trainLimit', '300');
    await setParam('testLimit', '200');

    await page.getByTestId('node-fit').click();
    await setParam('epochs', '3');
    // ASHA reads a per-epoch validation metric.
    await setParam('validationSplit', '0.2');
    await page.getByTestId('param-sweep-learningRate').click();
    // A learning rate is searched log-uniformly, a decade either way of its value (0.001).
    expect(await page.getByTestId('param-swept-learningRate').textContent()).toContain(
      'log-uniform 0.0001 – 0.01',
    );
    await page.getByTestId('param-sweep-batchSize').click();
    expect(await page.getByTestId('param-swept-batchSize').textContent()).toContain('integer 32 – 128 (log)');
    const badge = page.getByTestId('node-fit').getByTestId('node-sweep-badge');
    expect(await badge.textContent()).toContain('learningRate, batchSize');
    expect(await page.getByTestId('node-net').getByTestId('node-sweep-badge').count()).toBe(0);

    // Undo takes the batch size out again, redo puts it back (the sweep edits are changes).
    await page.keyboard.press('Control+z');
    await expect.poll(() => badge.textContent()).not.toContain('batchSize');
    await page.keyboard.press('Control+Shift+z');
    await expect.poll(() => badge.textContent()).toContain('batchSize');

    // The Sweep panel sits in the pipeline's inspector: click the empty canvas below the nodes.
    const score = await page.getByTestId('node-score').boundingBox();
    await page.locator('.vue-flow__pane').click({ position: { x: score!.x - 200, y: score!.y + 260 } });
    const panel = page.getByTestId('sweep-panel');
    await panel.waitFor();
    expect(await page.getByTestId('sweep-objective-node').inputValue()).toBe('score');
    expect(await page.getByTestId('sweep-objective-metric').inputValue()).toBe('accuracy');
    expect(await page.getByTestId('sweep-objective-mode').inputValue()).toBe('max');
    expect(await panel.getByTestId('sweep-space-fit.learningRate').count()).toBe(1);
    // ASHA over the epochs: rungs at 1 (η = 3, max 3), so a trial may be stopped after one epoch.
    await page.getByTestId('sweep-scheduler').selectOption('asha');
    expect(await page.getByTestId('sweep-resource').inputValue()).toBe('fit.epochs');
    expect(await page.getByTestId('sweep-max').inputValue()).toBe('3');
    expect(await page.getByTestId('sweep-reduction').inputValue()).toBe('3');
    const trials = page.getByTestId('sweep-trials');
    await trials.fill('4');
    await trials.press('Enter');
    await trials.blur();
    // What was typed is what the block holds, even if live validation re-rendered the panel meanwhile.
    expect(await trials.inputValue()).toBe('4');
    expect(await page.getByTestId('sweep-algorithm').inputValue()).toBe('random');
    // Live validation accepts the block as built.
    await expect.poll(() => page.getByTestId('sweep-issues').count(), { timeout: 10_000 }).toBe(0);
  }

  /** Run starts the sweep and opens its view, which fills in from the sweep and trial events. */
  async function runSweep(): Promise<void> {
    await page.getByTestId('run-button').click();
    const view = page.getByTestId('sweep-view');
    await view.waitFor();
    expect(page.url()).toMatch(/#\/sweeps\/[^/]+$/);

    // The trials table gets its rows from the trial events, then every trial finishes or is stopped.
    const rows = view.locator('[data-testid^="trial-row-"]');
    await expect.poll(() => rows.count(), { timeout: 120_000, interval: 250 }).toBe(4);
    await expect
      .poll(() => page.getByTestId('sweep-status').textContent(), { timeout: 180_000, interval: 500 })
      .toBe('done');
    const finished = async (status: string) =>
      view.locator(`[data-testid^="trial-row-"][data-status="${status}"]`).count();
    await expect
      .poll(async () => (await finished('done')) + (await finished('pruned')), { timeout: 10_000 })
      .toBe(4);
    const done = await finished('done');
    expect(done).toBeGreaterThan(0);
    expect(await page.getByTestId('sweep-counts').textContent()).toContain(`${done} done`);
    expect(await page.getByTestId('sweep-best').textContent()).toMatch(/Best: trial \d with \d+\.\d+%/);

    // The history chart holds a dot per finished trial and the best-so-far line.
    await expect
      .poll(() => page.getByTestId('sweep-history').getAttribute('data-points'))
      .toBe(String(2 * done));
    // Parallel coordinates: one line per trial, the learning rate and batch size on log axes.
    const parallel = view.getByTestId('parallel-coordinates');
    await expect.poll(() => parallel.getAttribute('data-lines')).toBe('4');
    expect(await parallel.getAttribute('data-axes')).toContain('fit.learningRate:log');
    expect(await parallel.getAttribute('data-axes')).toContain('fit.batchSize:log');
    // Intermediate curves: every trial's val_accuracy per epoch (at least one reading each).
    const curves = Number(await page.getByTestId('sweep-curves').getAttribute('data-points'));
    expect(curves).toBeGreaterThanOrEqual(4);
    // Importance figures, with the method said in the help text.
    expect(await page.getByTestId('importance-help').textContent()).toContain('ε²');
    await expect.poll(() => page.getByTestId('importance').locator('li').count()).toBe(2);

    // Rows are best first: the first row's objective is the best one.
    const objectives = await rows.evaluateAll((elements) =>
      elements.map((element) =>
        // "67.0%" for an accuracy: the number before the unit.
        parseFloat(
          (element as unknown as { children: Array<{ textContent: string }> }).children[4]!.textContent,
        ),
      ),
    );
    const scored = objectives.filter((value) => Number.isFinite(value));
    expect(scored).toHaveLength(done);
    expect(objectives[0]).toBe(Math.max(...scored));
    await screenshot(page, 'sweep', 'sweep');

    // The Sweeps tab lists it; a row opens it again.
    await page.getByTestId('nav-sweeps').click();
    const listed = page.getByTestId('sweeps-view').locator('[data-testid^="sweep-row-"]');
    await expect.poll(() => listed.count()).toBe(1);
    await listed.first().click();
    await page.getByTestId('sweep-view').waitFor();
    await expect
      .poll(() => page.getByTestId('sweep-view').locator('[data-testid^="trial-row-"]').count())
      .toBe(4);

    // A row opens its trial's run.
    await page.getByTestId('sweep-view').locator('[data-testid^="trial-row-"]').first().click();
    expect(page.url()).toMatch(/#\/runs\/[^/]+$/);
  }
});
