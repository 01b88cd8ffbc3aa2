/**
 * `npm run bench -- runs-table`: the runs table with 10,000 runs in a real registry.sqlite. Times
 * the API call that feeds the table (`runs.summaries`, answered and serialised as the serve
 * transport does, then parsed as the client does) against the same runs through `runs.list` (the
 * whole records, what the table would need without summaries), and the renderer's row work in
 * Node (rows, filter, differing-param columns, metric columns, sort, the visible window) against
 * a 60 Hz frame. Each figure is the median of several repeats.
 *
 * BENCH_RUNS (default 10000) sets the number of runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineDoc, RunSummaries } from '../../preload/contract';
import { createHandlers, dispatch } from '../../main/api/handlers';
import { createApp } from '../../main/app/app';
import {
  differingParams,
  filterRuns,
  metricColumns,
  parseRunFilter,
  rowsFromSummaries,
  sortRuns,
  visibleWindow,
} from '../../renderer/src/runs/table';
import { mnistMlpPipeline } from '../helpers/pipelines';

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const REPEATS = 5;
const FRAME_MS = 1000 / 60;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time<T>(run: () => T): { ms: number; result: T } {
  const samples: number[] = [];
  let result!: T;
  for (let i = 0; i < REPEATS; i++) {
    const started = performance.now();
    result = run();
    samples.push(performance.now() - started);
  }
  return { ms: median(samples), result };
}

async function timeAsync<T>(run: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const samples: number[] = [];
  let result!: T;
  for (let i = 0; i < REPEATS; i++) {
    const started = performance.now();
    result = await run();
    samples.push(performance.now() - started);
  }
  return { ms: median(samples), result };
}

function doc(index: number): PipelineDoc {
  return mnistMlpPipeline({
    name: index % 10 === 0 ? 'mnist-cnn' : 'mnist-mlp',
    data: { trainLimit: 5000, testLimit: 1000 },
    net: { hidden: [64 * (1 + (index % 4))] },
    fit: {
      epochs: 1 + (index % 5),
      learningRate: [1e-4, 3e-4, 1e-3, 3e-3][index % 4]!,
      batchSize: 64,
    },
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distillery-bench-runs-'));
  const app = createApp({ dataDir: dir, concurrency: 1, externalPollMs: 0 });
  try {
    const specs = new Map(app.catalog.list().map((spec) => [spec.type, spec]));
    const resolved = (type: string, params: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(specs.get(type)!.params).map(([name, spec]) => [name, params[name] ?? spec.default]),
      );
    const seeded = performance.now();
    app.db.transaction(() => {
      for (let index = 0; index < RUNS; index++) {
        const id = `r${String(index).padStart(6, '0')}`;
        const pipeline = doc(index);
        app.runs.createRun({
          id,
          name: pipeline.name,
          seed: 42,
          pipeline,
          pipelineFile: null,
          status: 'done',
          createdAt: new Date(Date.UTC(2025, 0, 1) + index * 60_000).toISOString(),
        });
        for (const node of pipeline.nodes) {
          app.runs.createTask({
            id: `${id}-${node.id}`,
            runId: id,
            nodeId: node.id,
            nodeType: node.type,
            nodeVersion: 1,
            op: node.type,
            fingerprint: `${id}-${node.id}`,
            params: resolved(node.type, node.params),
            taskDir: join(dir, 'runs', id, node.id),
            status: 'done',
          });
        }
        app.runs.updateTask(`${id}-fit`, {
          figures: { loss: 0.1 + (index % 7) / 50, val_loss: 0.2 + (index % 11) / 40, accuracy: 0.9 },
        });
        app.runs.updateTask(`${id}-score`, {
          figures: { accuracy: 0.9 + (index % 13) / 200, loss: 0.3 - (index % 13) / 100, latency_ms: 2 },
        });
        if (index % 50 === 0) app.runs.updateRunMetadata(id, { tags: ['baseline'], note: 'reference' });
      }
    })();
    process.stdout.write(
      `Seeded ${RUNS.toLocaleString('en-US')} runs (4 tasks each) in ${((performance.now() - seeded) / 1000).toFixed(1)} s\n\n`,
    );

    const handlers = createHandlers(app);
    const transport = async (method: string, params: unknown) => {
      const text = JSON.stringify(await dispatch(handlers, method, params));
      return { bytes: Buffer.byteLength(text), answer: JSON.parse(text) as { ok: true; result: unknown } };
    };
    const summaries = await timeAsync(() => transport('runs.summaries', {}));
    const list = await timeAsync(() => transport('runs.list', { limit: RUNS }));
    const answer = summaries.result.answer.result as RunSummaries;

    const rows = time(() => rowsFromSummaries(answer));
    const terms = parseRunFilter('fit.epochs>2 score.accuracy>0.92');
    const filtered = time(() => filterRuns(rows.result, terms));
    const words = time(() => filterRuns(rows.result, parseRunFilter('#baseline')));
    const differing = time(() => differingParams(rows.result));
    const category = (type: string) => specs.get(type)?.category;
    const columns = time(() => metricColumns(rows.result, category));
    const sorted = time(() => sortRuns(rows.result, 'metric:score.accuracy', 'desc'));
    const windowed = time(() => {
      const view = visibleWindow(230_000, 900, 46, sorted.result.length);
      return sorted.result.slice(view.start, view.end).length;
    });
    // What one keystroke in the filter box costs: filter, columns and sort of the result.
    const keystroke = time(() => {
      const kept = filterRuns(rows.result, terms);
      differingParams(kept);
      metricColumns(kept, category);
      return sortRuns(kept, 'metric:score.accuracy', 'desc').length;
    });

    const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
    const lines = [
      ['step', 'median', 'reference', 'ratio'],
      [
        `runs.summaries (${mib(summaries.result.bytes)})`,
        `${summaries.ms.toFixed(0)} ms`,
        `runs.list ${list.ms.toFixed(0)} ms (${mib(list.result.bytes)})`,
        `${(summaries.ms / list.ms).toFixed(2)}×`,
      ],
      ['rows from the answer', `${rows.ms.toFixed(1)} ms`, 'one-off per load', '—'],
      [
        `filter (2 comparisons → ${filtered.result.length} rows)`,
        `${filtered.ms.toFixed(1)} ms`,
        `frame ${FRAME_MS.toFixed(1)} ms`,
        `${(filtered.ms / FRAME_MS).toFixed(2)}×`,
      ],
      [
        `filter (#tag → ${words.result.length} rows)`,
        `${words.ms.toFixed(1)} ms`,
        'frame',
        `${(words.ms / FRAME_MS).toFixed(2)}×`,
      ],
      [
        `differing params (→ ${differing.result.join(', ')})`,
        `${differing.ms.toFixed(1)} ms`,
        'frame',
        `${(differing.ms / FRAME_MS).toFixed(2)}×`,
      ],
      [
        `metric columns (${columns.result.all.length})`,
        `${columns.ms.toFixed(1)} ms`,
        'frame',
        `${(columns.ms / FRAME_MS).toFixed(2)}×`,
      ],
      [
        `sort by score.accuracy`,
        `${sorted.ms.toFixed(1)} ms`,
        'frame',
        `${(sorted.ms / FRAME_MS).toFixed(2)}×`,
      ],
      [
        `visible window (${windowed.result} rows rendered)`,
        `${windowed.ms.toFixed(3)} ms`,
        'frame',
        `${(windowed.ms / FRAME_MS).toFixed(3)}×`,
      ],
      [
        `one filter keystroke (all of the above)`,
        `${keystroke.ms.toFixed(1)} ms`,
        'frame',
        `${(keystroke.ms / FRAME_MS).toFixed(2)}×`,
      ],
    ];
    const widths = lines[0]!.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)));
    for (const line of lines)
      process.stdout.write(`${line.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}\n`);
    process.stdout.write(
      `\n${RUNS.toLocaleString('en-US')} runs; medians of ${REPEATS}; Node ${process.version}. The table renders only the rows in view.\n`,
    );
  } finally {
    app.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
