/**
 * `npm run bench:slurm`: what running on SLURM costs, on the single-node cluster of
 * test/cluster/slurm.sh (started here if it is not running), with the README's pipeline on real
 * MNIST, in this one invocation:
 *
 * - submit-to-running latency of each job: from sbatch's answer to squeue saying RUNNING, and to
 *   the worker's `ready` read from the events file (the scheduler's batch delay is most of it);
 * - event latency: from the worker's write of each event (its line's `time`) to the runner's
 *   delivery of it, p50 / p99 / max over every event of the run;
 * - the pipeline's wall time on SLURM against the same pipeline on this machine, without and with
 *   the warm pool: the overhead as a ratio and in seconds per task.
 *
 * Environment: BENCH_REPEATS (2; medians are printed), BENCH_SLURM_POLL_MS (500, how often squeue
 * is asked).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineDoc } from '../../preload/contract';
import { createApp } from '../../main/app/app';
import type { SlurmJobTimings } from '../../main/jobs/executors/slurm-execution';
import { numberFromEnv } from '../helpers/bench-env';
import { mnistMlpPipeline } from '../helpers/pipelines';
import { startCluster } from '../helpers/slurm-cluster';

const REPEATS = numberFromEnv('BENCH_REPEATS', 2, 1);
const POLL_MS = numberFromEnv('BENCH_SLURM_POLL_MS', 500, 50);

const README_PIPELINE: PipelineDoc = mnistMlpPipeline();

interface Result {
  wallMs: number;
  backend: string;
  jobs: SlurmJobTimings[];
  latencies: number[];
}

async function runOnce(
  executor: 'local' | 'slurm',
  warmWorkers: number,
  env: NodeJS.ProcessEnv,
): Promise<Result> {
  const dataDir = mkdtempSync(join(tmpdir(), `distillery-bench-${executor}-`));
  const app = createApp({
    dataDir,
    concurrency: 2,
    executors: {
      executor,
      warmWorkers,
      // One CPU per job, as two jobs share the two-core node.
      slurm: { env, pollIntervalMs: POLL_MS, defaults: { cpusPerTask: 1 } },
    },
  });
  try {
    const started = Date.now();
    const run = await app.runner.waitForRun(app.runner.start(README_PIPELINE).id);
    const wallMs = Date.now() - started;
    if (run.status !== 'done')
      throw new Error(`${executor} run ${run.id} ended ${run.status}: ${JSON.stringify(run.error)}`);
    const slurm = app.runner.executorSet.slurmIfStarted;
    return {
      wallMs,
      backend: run.backend?.name ?? '?',
      jobs: slurm ? [...slurm.jobs] : [],
      latencies: slurm ? [...slurm.eventLatencies] : [],
    };
  } finally {
    app.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function quantile(values: number[], q: number): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const median = (values: number[]): number => quantile(values, 0.5);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const millis = (ms: number): string => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const env = startCluster();
  const slurm: Result[] = [];
  const cold: Result[] = [];
  const warm: Result[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    slurm.push(await runOnce('slurm', 0, env));
    cold.push(await runOnce('local', 0, env));
    warm.push(await runOnce('local', 2, env));
  }
  const jobs = slurm.flatMap((result) => result.jobs);
  const toRunning = jobs.flatMap((job) => (job.runningAt ? [job.runningAt - job.acceptedAt] : []));
  const toReady = jobs.flatMap((job) => (job.readyAt ? [job.readyAt - job.acceptedAt] : []));
  const sbatch = jobs.map((job) => job.acceptedAt - job.submittedAt);
  const latencies = slurm.flatMap((result) => result.latencies);
  const slurmMs = median(slurm.map((result) => result.wallMs));
  const coldMs = median(cold.map((result) => result.wallMs));
  const warmMs = median(warm.map((result) => result.wallMs));
  const tasks = README_PIPELINE.nodes.length;
  process.stdout.write(
    [
      `SLURM executor on the single-node cluster of test/cluster/slurm.sh; README pipeline (${tasks} tasks), backend ${slurm[0]!.backend}; ${REPEATS} run(s) each, medians; squeue asked every ${POLL_MS} ms`,
      '',
      `sbatch (submission call):         median ${millis(median(sbatch))}`,
      `submit → RUNNING in squeue:       median ${seconds(median(toRunning))}, max ${seconds(Math.max(...toRunning))} (${toRunning.length} jobs; squeue polled, so up to ${POLL_MS} ms late)`,
      `submit → worker ready (event):    median ${seconds(median(toReady))}, max ${seconds(Math.max(...toReady))}`,
      `event latency, worker write → runner: p50 ${millis(quantile(latencies, 0.5))}, p99 ${millis(quantile(latencies, 0.99))}, max ${millis(Math.max(...latencies))} (${latencies.length} events)`,
      '',
      `pipeline wall time: SLURM ${seconds(slurmMs)}, local without pool ${seconds(coldMs)}, local with warm pool ${seconds(warmMs)}`,
      `overhead of SLURM: ${(slurmMs / coldMs).toFixed(2)}× local without pool (+${seconds((slurmMs - coldMs) / tasks)} per task), ${(slurmMs / warmMs).toFixed(2)}× local with pool (+${seconds((slurmMs - warmMs) / tasks)} per task)`,
    ].join('\n') + '\n',
  );
}

await main();
