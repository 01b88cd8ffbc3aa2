/**
 * The workbench as a researcher's daily tool, end to end in serve mode with Debian's Chromium:
 * runs started from the CLI appear in the open workbench (and the registry count follows) without
 * a refresh; the runs table shows the params that differ and final metrics, renames, tags and
 * filters; three runs compared draw a parallel-coordinates chart; "Re-run from here", "Re-run",
 * "Open in editor", the reused-task link and a fully reused run's metrics; the editor's "Run from
 * here"; the inspector shows only the params that apply and edits lists as lists; the registry
 * groups versions by model, hides untrained initialisations, takes a description, removes aliases.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Answer, ModelVersionInfo, PipelineDoc, RunInfo, RunSummaries } from '../../preload/contract';
import { runCli } from '../helpers/cli';
import { closeWorkbench, openWorkbench, screenshot, type Server } from '../helpers/e2e';
import { makeTempDir } from '../helpers/tmp';
import { mnistMlpPipeline } from '../helpers/pipelines';

function pipeline(epochs: number, learningRate: number): PipelineDoc {
  return mnistMlpPipeline({
    name: 'mnist-small',
    seed: 3,
    data: { trainLimit: 600, testLimit: 200, validationSplit: 0.2 },
    net: { hidden: [16] },
    fit: { epochs, learningRate, batchSize: 64 },
    score: { latencySamples: 5 },
    ui: {
      data: { x: 40, y: 160 },
      net: { x: 320, y: 40 },
      fit: { x: 600, y: 160 },
      score: { x: 880, y: 200 },
    },
  });
}

const SETTINGS: Array<[number, number]> = [
  [1, 0.001],
  [2, 0.003],
  [2, 0.0003],
];

describe('history, comparison and registry in serve mode', () => {
  let server: Server | undefined;
  let browser: Browser;
  let page: Page;
  const data = makeTempDir('distillery-e2e-history-');
  const pageErrors: string[] = [];
  const cliRuns: RunInfo[] = [];

  async function api<T>(method: string, params: unknown = {}): Promise<T> {
    const response = await fetch(new URL(`/api/${method}`, server!.url.origin), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${server!.url.searchParams.get('token')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(params),
    });
    const answer = (await response.json()) as Answer<T>;
    if (!answer.ok) throw new Error(`${method}: ${answer.error.message}`);
    return answer.result;
  }

  /** Statuses of a run's tasks once it has settled, as its page shows them. */
  async function settledTasks(): Promise<Record<string, string>> {
    await expect
      .poll(() => page.getByTestId('run-status').getAttribute('data-status'), { timeout: 90_000 })
      .toMatch(/done|failed|cancelled/);
    expect(await page.getByTestId('run-status').getAttribute('data-status')).toBe('done');
    const statuses: Record<string, string> = {};
    for (const node of ['data', 'net', 'fit', 'score'])
      statuses[node] =
        (await page.getByTestId(`task-row-${node}`).locator('[data-status]').getAttribute('data-status')) ??
        '';
    return statuses;
  }

  function runIdOfPage(): string {
    return decodeURIComponent(new URL(page.url()).hash.replace('#/runs/', ''));
  }

  beforeAll(async () => {
    ({ server, browser, page } = await openWorkbench(data.dir, { pageErrors, dialogs: 'accept' }));
    await page.goto(server.url.href);
    await page.getByTestId('palette-item-dataset.mnist').waitFor();
  }, 120_000);

  afterAll(async () => {
    await closeWorkbench(server, browser);
    data.cleanup();
  });

  it('shows runs another process starts, and the registry count follows, without a refresh', async () => {
    await page.getByTestId('nav-runs').click();
    await page.getByTestId('runs-table').waitFor();
    expect(await page.locator('[data-testid^="run-row-"]').count()).toBe(0);
    for (const [index, [epochs, learningRate]] of SETTINGS.entries()) {
      const file = join(data.dir, `p${index}.distillery.json`);
      writeFileSync(file, JSON.stringify(pipeline(epochs, learningRate)));
      const result = await runCli(['run', file, '--json'], { dataDir: data.dir });
      expect(result.code, result.stderr).toBe(0);
      const run = JSON.parse(result.stdout) as RunInfo;
      cliRuns.push(run);
      await page.getByTestId(`run-row-${run.id}`).waitFor({ timeout: 15_000 });
      await expect
        .poll(() => page.getByTestId(`run-row-${run.id}`).locator('.badge').textContent(), {
          timeout: 15_000,
        })
        .toMatch(/done/i);
    }
    const versions = await api<ModelVersionInfo[]>('models.list');
    // net (the untrained initialisation, reused by runs 2 and 3) and one fit per run.
    expect(versions).toHaveLength(4);
    await expect.poll(() => page.getByTestId('registry-count').textContent(), { timeout: 15_000 }).toBe('4');
  }, 240_000);

  it('lists the params that differ and the final metrics; renames, tags and filters runs', async () => {
    await page.getByTestId('runs-param-fit.epochs').waitFor();
    await page.getByTestId('runs-param-fit.learningRate').waitFor();
    expect(await page.getByTestId('runs-param-data.trainLimit').count()).toBe(0);
    await page.getByTestId('runs-metric-score.accuracy').waitFor();
    await page.getByTestId('runs-metric-fit.val_loss').waitFor();

    const first = cliRuns[0]!;
    await page.getByTestId(`run-actions-${first.id}`).click();
    await page.getByTestId('run-menu-edit').click();
    await page.getByTestId('run-label').fill('one epoch baseline');
    await page.getByTestId('run-tags').fill('baseline, short');
    await page.getByTestId('run-note').fill('The reference for the others.');
    await page.getByTestId('run-edit-save').click();
    await expect
      .poll(() => page.getByTestId(`run-row-${first.id}`).textContent())
      .toContain('one epoch baseline');
    expect((await api<RunInfo>('runs.get', { runId: first.id })).tags).toEqual(['baseline', 'short']);

    await page.getByTestId('runs-filter').fill('#baseline');
    await expect.poll(() => page.locator('[data-testid^="run-row-"]').count()).toBe(1);
    await page.getByTestId('runs-filter').fill('fit.epochs=2');
    await expect.poll(() => page.locator('[data-testid^="run-row-"]').count()).toBe(2);
    await page.getByTestId('runs-filter').fill('');

    // Sorted by test accuracy, best first.
    const summaries = await api<RunSummaries>('runs.summaries');
    const best = [...summaries.runs].sort(
      (a, b) => b.metrics['score.accuracy']! - a.metrics['score.accuracy']!,
    )[0]!;
    await page.getByTestId('runs-metric-score.accuracy').click();
    await expect
      .poll(() => page.locator('[data-testid^="run-row-"]').first().getAttribute('data-testid'))
      .toBe(`run-row-${best.id}`);
    await screenshot(page, 'runs-table', 'runs');
  }, 60_000);

  it('compares three runs: curves, hparams table and parallel coordinates', async () => {
    for (const run of cliRuns) await page.getByTestId(`run-select-${run.id}`).check();
    await page.getByTestId('compare-selected').click();
    const chart = page.getByTestId('parallel-coordinates');
    await chart.waitFor();
    // The ECharts instance holds one `parallel` series with a line per run.
    await expect.poll(() => chart.getAttribute('data-lines')).toBe('3');
    // learningRate spans one decade here: linear until asked for a log axis.
    expect(await chart.getAttribute('data-axes')).toMatch(/fit\.epochs:value,fit\.learningRate:value/);
    await page.getByTestId('compare-log-fit.learningRate').click();
    await expect.poll(() => chart.getAttribute('data-axes')).toMatch(/fit\.learningRate:log/);
    // …and it is drawn: the canvas has ink.
    const inked = await chart
      .locator('canvas')
      .first()
      .evaluate((canvas) => {
        const element = canvas as unknown as {
          width: number;
          height: number;
          getContext(kind: '2d'): {
            getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
          };
        };
        const pixels = element.getContext('2d').getImageData(0, 0, element.width, element.height).data;
        let count = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) count += 1;
        return count;
      });
    expect(inked).toBeGreaterThan(2000);
    expect(await page.locator('[data-testid^="hparams-row-"]').count()).toBe(3);
    await page.getByTestId('metric-chart-loss').waitFor();
    await page.getByTestId('compare-top').fill('34');
    await expect.poll(() => page.locator('[data-testid^="hparams-row-"].faded').count()).toBe(1);
    await page.getByTestId('compare-top').fill('100');
    // Tall enough for the curves and the parallel coordinates in one picture.
    await page.setViewportSize({ width: 1600, height: 1400 });
    await screenshot(page, 'compare', 'compare');
    await page.setViewportSize({ width: 1600, height: 1000 });
  }, 60_000);

  it('re-runs from a node, links reused tasks, shows a reused run’s metrics, opens a run in the editor', async () => {
    const second = cliRuns[1]!;
    await page.goto(`${server!.url.origin}/#/runs/${second.id}`);
    await page.getByTestId('rerun-from-fit').click();
    await expect.poll(() => runIdOfPage()).not.toBe(second.id);
    expect(await settledTasks()).toEqual({ data: 'reused', net: 'reused', fit: 'done', score: 'done' });
    // A reused task links to the run that produced it.
    await page.getByTestId('reused-from-data').click();
    await expect.poll(() => runIdOfPage()).toBe(cliRuns[0]!.id);

    // Re-run: everything is reused, and the page shows the metrics of the run that made them.
    await page.goto(`${server!.url.origin}/#/runs/${cliRuns[2]!.id}`);
    await page.getByTestId('rerun').click();
    await expect.poll(() => runIdOfPage()).not.toBe(cliRuns[2]!.id);
    expect(await settledTasks()).toEqual({ data: 'reused', net: 'reused', fit: 'reused', score: 'reused' });
    await page.getByTestId('task-row-fit').click();
    await page.getByTestId('reused-metrics').waitFor();
    await page.getByTestId('metric-chart-loss').waitFor();
    expect(Number(await page.getByTestId('metric-chart-loss').getAttribute('data-points'))).toBeGreaterThan(
      5,
    );

    // Open in editor: the run's own pipeline, with its params.
    await page.getByTestId('open-in-editor').click();
    await page.getByTestId('node-fit').waitFor();
    expect(await page.locator('.vue-flow__node').count()).toBe(4);
    await page.getByTestId('node-fit').click();
    expect(await page.getByTestId('param-learningRate').inputValue()).toBe('0.0003');
  }, 240_000);

  it('runs from a node of the editor (context menu)', async () => {
    await page.getByTestId('node-fit').click({ button: 'right' });
    await page.getByTestId('context-run-from-here').click();
    await page.getByTestId('run-view').waitFor();
    expect(await settledTasks()).toEqual({ data: 'reused', net: 'reused', fit: 'done', score: 'done' });
  }, 120_000);

  it('shows only the params that apply, and edits a list as a list', async () => {
    await page.getByTestId('nav-editor').click();
    await page.getByTestId('node-fit').click();
    expect(await page.getByTestId('param-field-momentum').count()).toBe(0);
    expect(await page.getByTestId('param-field-beta2').count()).toBe(1);
    await page.getByTestId('param-optimizer').selectOption('momentum');
    await page.getByTestId('param-field-momentum').waitFor();
    expect(await page.getByTestId('param-field-beta2').count()).toBe(0);
    // The params that do not apply can still be shown.
    await page.getByTestId('toggle-hidden-params').click();
    await page.getByTestId('param-field-beta2').waitFor();
    await page.getByTestId('toggle-hidden-params').click();

    await page.getByTestId('node-net').click();
    const list = page.getByTestId('param-list-hidden');
    await list.waitFor();
    expect(await list.locator('input').count()).toBe(1);
    await page.getByTestId('param-hidden-add').click();
    await expect.poll(() => list.locator('input').count()).toBe(2);
    await page.getByTestId('param-hidden-item-1').fill('8');
    await page.getByTestId('node-fit').click();
    await page.getByTestId('node-net').click();
    expect(await page.getByTestId('param-hidden-item-0').inputValue()).toBe('16');
    expect(await page.getByTestId('param-hidden-item-1').inputValue()).toBe('8');
    await page.getByTestId('param-hidden-remove-1').click();
    await expect.poll(() => list.locator('input').count()).toBe(1);
  }, 60_000);

  it('groups the registry by model, hides untrained initialisations, describes and untags', async () => {
    await page.getByTestId('nav-registry').click();
    await page.locator('[data-testid="registered-row"][data-model-name="mnist-small/fit"]').waitFor();
    expect(
      await page.locator('[data-testid="registered-row"][data-model-name="mnist-small/net"]').count(),
    ).toBe(0);
    await page.getByTestId('show-untrained').check();
    await page.locator('[data-testid="registered-row"][data-model-name="mnist-small/net"]').waitFor();
    await page.getByTestId('show-untrained').uncheck();

    await page.locator('[data-testid="registered-row"][data-model-name="mnist-small/fit"]').click();
    await page.getByTestId('registered-title').waitFor();
    expect(await page.getByTestId('version-row').count()).toBe(5);
    await page.getByTestId('edit-description').click();
    await page.getByTestId('description-input').fill('LeNet-300-100-ish MLP on 600 MNIST digits.');
    await page.getByTestId('description-save').click();
    await expect.poll(() => page.getByTestId('description-text').textContent()).toMatch(/600 MNIST digits/);

    // Tag v1 on its page, see the alias on the model's page, remove it there.
    await page.locator('[data-testid="version-row"][data-version="1"]').click();
    await page.getByTestId('alias-input').fill('best');
    await page.getByTestId('alias-add').click();
    await page.getByTestId('untag-best').waitFor();
    // The lineage: fit and zoom controls, the dataset, an edge label with the params that differ.
    const lineage = page.getByTestId('lineage-graph');
    await lineage.locator('.vue-flow__node').nth(1).waitFor();
    await page.getByTestId('lineage-fit').click();
    expect(await lineage.getByTestId('lineage-dataset').first().textContent()).toMatch(/MNIST/);
    const label = (await lineage.locator('.vue-flow__edge-text').first().textContent()) ?? '';
    // epochs differs from its default; learningRate (0.001) and batchSize (64) are at theirs.
    expect(label).toBe('train · epochs=1');
    await page.getByTestId('registered-link').click();
    await page.getByTestId('remove-alias-best').waitFor();
    await screenshot(page, 'registered-model', 'registered-model');
    await page.getByTestId('remove-alias-best').click();
    await expect.poll(() => page.getByTestId('remove-alias-best').count()).toBe(0);
    const untagged = await api<ModelVersionInfo>('models.get', { ref: 'mnist-small/fit:1' });
    expect(untagged.aliases).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
