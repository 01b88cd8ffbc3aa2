/**
 * `npm run bench:warm-workers`: what the local executor's warm pool saves. Two pipelines on real
 * MNIST, each run in a fresh data directory (nothing reused) with the pool off (every task starts a
 * worker process of its own and pays the process start and the tfjs/wasm load: how tasks ran
 * before) and on (a task takes a worker that is already running), in this one invocation:
 *
 * - the README's pipeline (data → MLP 300-100 → train 3 epochs → evaluate, 4 tasks);
 * - a 5-node compression pipeline: the first five nodes of the mnist-distill-prune-quantize sample
 *   (data, teacher MLP, train teacher, student MLP, distill).
 *
 * It prints each pipeline's wall time before and after, their ratio, and each task's start latency
 * (from the runner marking it running to the first event its worker sends about it), split into
 * tasks that started on a fresh worker and tasks that started on a warm one.
 *
 * Environment: BENCH_REPEATS (2; the median is printed), BENCH_WARM_WORKERS (2), BENCH_QUICK=1
 * (smaller data and fewer epochs, for a quick look).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PipelineDoc, RunInfo } from '../../preload/contract';
import { createApp } from '../../main/app/app';
import { numberFromEnv } from '../helpers/bench-env';
import { mnistMlpPipeline } from '../helpers/pipelines';

const REPEATS = numberFromEnv('BENCH_REPEATS', 2, 1);
const WARM = numberFromEnv('BENCH_WARM_WORKERS', 2);
const QUICK = process.env.BENCH_QUICK === '1';

const README_PIPELINE: PipelineDoc = mnistMlpPipeline();

/** The first five nodes of the distill → prune → quantize sample, and the links among them. */
function compressionPipeline(): PipelineDoc {
  const file = fileURLToPath(
    new URL('../../resources/pipelines/mnist-distill-prune-quantize.distillery.json', import.meta.url),
  );
  const sample = JSON.parse(readFileSync(file, 'utf8')) as PipelineDoc;
  const kept = new Set(['data', 'teacher-net', 'teacher', 'student-net', 'distill']);
  const doc: PipelineDoc = {
    format: 1,
    name: 'compress-5',
    seed: sample.seed,
    nodes: sample.nodes.filter((node) => kept.has(node.id)),
    edges: sample.edges.filter(
      (edge) => kept.has(edge.from.split('.')[0]!) && kept.has(edge.to.split('.')[0]!),
    ),
  };
  if (doc.nodes.length !== 5) throw new Error(`expected 5 nodes in ${file}, found ${doc.nodes.length}`);
  return doc;
}

/** A quick look: fewer examples and epochs, the same graph. */
function quick(doc: PipelineDoc): PipelineDoc {
  if (!QUICK) return doc;
  return {
    ...doc,
    nodes: doc.nodes.map((node) => {
      if (node.type === 'dataset.mnist')
        return { ...node, params: { ...node.params, trainLimit: 1000, testLimit: 300 } };
      if (node.type === 'train' || node.type === 'distill')
        return { ...node, params: { ...node.params, epochs: 1 } };
      return node;
    }),
  };
}

interface Measurement {
  wallMs: number;
  /** Per task: ms from running to its worker's first event, and whether the worker was warm. */
  starts: Array<{ nodeId: string; warm: boolean; ms: number }>;
  run: RunInfo;
}

async function measure(doc: PipelineDoc, warmWorkers: number): Promise<Measurement> {
  const dataDir = mkdtempSync(join(tmpdir(), 'distillery-bench-warm-'));
  const app = createApp({ dataDir, executors: { warmWorkers } });
  const runningAt = new Map<string, number>();
  const firstEventAt = new Map<string, number>();
  const note = (taskId: string): void => {
    if (runningAt.has(taskId) && !firstEventAt.has(taskId)) firstEventAt.set(taskId, Date.now());
  };
  const subscriptions = [
    app.runner.onDidChangeTask((info) => {
      if (info.status === 'running' && !runningAt.has(info.id)) runningAt.set(info.id, Date.now());
      // The first progress report also comes as a task change (its `progress` set).
      else if (info.status === 'running' && info.progress) note(info.id);
    }),
    app.runner.onDidLog((line) => note(line.taskId)),
    app.runner.onDidMetrics((batch) => note(batch.taskId)),
  ];
  try {
    const started = Date.now();
    const run = await app.runner.waitForRun(app.runner.start(doc).id);
    const wallMs = Date.now() - started;
    if (run.status !== 'done')
      throw new Error(`run ${run.id} ended ${run.status}: ${JSON.stringify(run.error)}`);
    const starts = run.tasks.map((task) => ({
      nodeId: task.nodeId,
      warm: task.warm === true,
      ms: (firstEventAt.get(task.id) ?? Number.NaN) - (runningAt.get(task.id) ?? Number.NaN),
    }));
    return { wallMs, starts, run };
  } finally {
    for (const subscription of subscriptions) subscription.dispose();
    app.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const pipelines: Array<[string, PipelineDoc]> = [
    ['README pipeline (4 tasks)', quick(README_PIPELINE)],
    ['compression pipeline (5 tasks)', quick(compressionPipeline())],
  ];
  process.stdout.write(
    `Warm workers: pool of ${WARM} vs none; median of ${REPEATS} run(s) each; backend chosen by the worker${QUICK ? '; QUICK data' : ''}\n\n`,
  );
  const rows: string[][] = [];
  const coldStarts: number[] = [];
  const warmStarts: number[] = [];
  for (const [label, doc] of pipelines) {
    const before: Measurement[] = [];
    const after: Measurement[] = [];
    // Alternated, so that drift of a shared machine falls on both sides alike.
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      before.push(await measure(doc, 0));
      after.push(await measure(doc, WARM));
    }
    for (const measurement of [...before, ...after])
      for (const start of measurement.starts) (start.warm ? warmStarts : coldStarts).push(start.ms);
    const beforeMs = median(before.map((measurement) => measurement.wallMs));
    const afterMs = median(after.map((measurement) => measurement.wallMs));
    const backend = after[0]!.run.backend?.name ?? '?';
    rows.push([
      label,
      backend,
      seconds(beforeMs),
      seconds(afterMs),
      `${(beforeMs / afterMs).toFixed(2)}×`,
      seconds(beforeMs - afterMs),
    ]);
  }
  const header = ['pipeline', 'backend', 'before (no pool)', 'after (warm pool)', 'speed-up', 'saved'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
  process.stdout.write(`${line(header)}\n${line(widths.map((width) => '-'.repeat(width)))}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
  process.stdout.write(
    `\nTask start (running → first event from its worker), median: fresh worker ${seconds(median(coldStarts))} (${coldStarts.length} tasks), warm worker ${seconds(median(warmStarts))} (${warmStarts.length} tasks); ratio ${(median(coldStarts) / median(warmStarts)).toFixed(1)}×\n`,
  );
}

await main();
