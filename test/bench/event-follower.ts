/**
 * `npx tsx test/bench/event-follower.ts`: how long a worker event takes from its write to the
 * runner's listener when it travels through an events file (jobs/executors/event-follower.ts)
 * instead of the IPC channel, with fs.watch and with polling alone; and, where a SLURM cluster
 * answers (test/cluster/slurm.sh start), how long a job takes from `sbatch` to running, and the
 * same event latency for a writer inside a job. Every figure is printed with its ratio to the IPC
 * channel's latency (the local executor's path), measured in the same invocation.
 *
 * The writer is a child process (test/cluster/event-writer.ts, the worker's own sink), stamping
 * each line with a high-resolution clock that the reader on this machine shares.
 *
 * Environment: BENCH_EVENTS (400) events per measurement, BENCH_EVENT_INTERVAL_MS (5) between
 * them, BENCH_SLURM_JOBS (10) jobs for the submit-to-running latency; BENCH_SLURM=0 skips SLURM.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { EventFileFollower } from '../../main/jobs/executors/event-follower';
import { SlurmClient } from '../../main/jobs/executors/slurm-client';
import { isFinalState } from '../../main/jobs/executors/types';
import { EVENTS_FILE } from '../../main/worker/protocol';
import { makeTempDir } from '../helpers/tmp';

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const EVENTS = env('BENCH_EVENTS', 400);
const INTERVAL_MS = env('BENCH_EVENT_INTERVAL_MS', 5);
const SLURM_JOBS = env('BENCH_SLURM_JOBS', 10);
const REPO = join(import.meta.dirname, '..', '..');
const EVENT_WRITER = join(REPO, 'test', 'cluster', 'event-writer.ts');
const TSX = pathToFileURL(join(REPO, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

const now = (): number => performance.timeOrigin + performance.now();

interface Summary {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN, count: sorted.length };
}

function line(label: string, summary: Summary, reference?: Summary): string {
  const ms = (value: number): string => `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`;
  const ratio = reference
    ? `   ×${(summary.p50 / reference.p50).toFixed(1)} p50, ×${(summary.p99 / reference.p99).toFixed(1)} p99 of IPC`
    : '';
  return `  ${label.padEnd(36)} p50 ${ms(summary.p50).padStart(9)}   p99 ${ms(summary.p99).padStart(9)}   (${summary.count} events)${ratio}`;
}

/** The reference: a child sending the same events over the IPC channel, as the local executor's worker does. */
async function ipcLatency(dir: string): Promise<Summary> {
  const source = `
    let sent = 0;
    const now = () => performance.timeOrigin + performance.now();
    const timer = setInterval(() => {
      process.send({ type: 'progress', taskId: 'bench', done: ++sent, total: ${EVENTS}, etaSeconds: null, time: now() });
      if (sent === ${EVENTS}) { clearInterval(timer); process.disconnect(); }
    }, ${INTERVAL_MS});
  `;
  const script = join(dir, 'ipc-sender.cjs');
  writeFileSync(script, source);
  const child = fork(script, [], { serialization: 'advanced', stdio: 'inherit' });
  const latencies: number[] = [];
  child.on('message', (message) => latencies.push(now() - (message as { time: number }).time));
  await new Promise((resolve) => child.on('exit', resolve));
  return summarize(latencies);
}

function startWriter(file: string): ChildProcess {
  return spawn(process.execPath, ['--import', TSX, EVENT_WRITER, file, String(EVENTS), String(INTERVAL_MS)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Follows `file` until its `done` (or `error`) event, collecting write → delivery latencies. */
async function follow(
  file: string,
  options: { watch: boolean; pollIntervalMs: number },
  whileFollowing: () => Promise<void>,
): Promise<Summary> {
  const follower = new EventFileFollower(file, options);
  const latencies: number[] = [];
  const ended = new Promise<void>((resolve) => {
    follower.onDidEvent(({ event, time }) => {
      latencies.push(now() - time);
      if (event.type === 'done' || event.type === 'error') resolve();
    });
  });
  follower.start();
  try {
    await whileFollowing();
    await ended;
  } finally {
    follower.dispose();
  }
  return summarize(latencies);
}

async function localFollower(
  dir: string,
  name: string,
  options: { watch: boolean; pollIntervalMs: number },
): Promise<Summary> {
  const file = join(dir, name, EVENTS_FILE);
  mkdirSync(join(dir, name), { recursive: true });
  return follow(file, options, async () => {
    const writer = startWriter(file);
    await new Promise((resolve) => writer.on('exit', resolve));
  });
}

async function slurmFigures(dir: string, reference: Summary): Promise<void> {
  const client = new SlurmClient();
  let cluster;
  try {
    cluster = await client.cluster();
  } catch (error) {
    process.stdout.write(
      `\nSLURM: skipped (${(error as Error).message}); start one with test/cluster/slurm.sh start\n`,
    );
    return;
  }
  process.stdout.write(`\nSLURM ${cluster.version}, cluster "${cluster.name}", one node (this machine)\n`);

  // Submit to running: from calling sbatch to the job's first instruction, by the job's own clock.
  const toRunning: number[] = [];
  const sbatchCalls: number[] = [];
  for (let index = 0; index < SLURM_JOBS; index++) {
    const directory = join(dir, `latency-${index}`);
    const stamp = join(directory, 'started');
    const submittedAt = now();
    const submission = await client.submit({
      runId: 'bench',
      nodeId: `latency-${index}`,
      directory,
      command: ['/bin/sh', '-c', `date +%s.%N > ${stamp}`],
    });
    sbatchCalls.push(now() - submittedAt);
    for (;;) {
      const status = (await client.status([submission.jobId])).get(submission.jobId);
      if (status && isFinalState(status.state)) break;
      await delay(50);
    }
    if (!existsSync(stamp))
      throw new Error(`job ${submission.jobId} did not run: ${readFileSync(submission.errorFile, 'utf8')}`);
    toRunning.push(Number(readFileSync(stamp, 'utf8')) * 1000 - submittedAt);
  }
  const ms = (value: number): string => `${value.toFixed(0)} ms`;
  const running = summarize(toRunning);
  const calls = summarize(sbatchCalls);
  process.stdout.write(
    `  submit → running (${SLURM_JOBS} jobs, one at a time)   p50 ${ms(running.p50)}   max ${ms(running.max)}` +
      `   (the sbatch call itself: p50 ${ms(calls.p50)})\n`,
  );

  for (const [label, options] of [
    ['job → follower, fs.watch + poll 1 s', { watch: true, pollIntervalMs: 1000 }],
    ['job → follower, poll 100 ms', { watch: false, pollIntervalMs: 100 }],
  ] as const) {
    const directory = join(dir, `events-${options.pollIntervalMs}`);
    const file = join(directory, EVENTS_FILE);
    const summary = await follow(file, options, async () => {
      await client.submit({
        runId: 'bench',
        nodeId: `events-${options.pollIntervalMs}`,
        directory,
        command: [process.execPath, '--import', TSX, EVENT_WRITER, file, String(EVENTS), String(INTERVAL_MS)],
      });
    });
    process.stdout.write(`${line(label, summary, reference)}\n`);
  }
}

const { dir, cleanup } = makeTempDir('distillery-bench-follower-');
try {
  process.stdout.write(
    `event latency, write → listener (${EVENTS} events ${INTERVAL_MS} ms apart, writer in a child process)\n`,
  );
  const reference = await ipcLatency(dir);
  process.stdout.write(`${line('IPC channel (reference)', reference)}\n`);
  for (const [label, options] of [
    ['events file, fs.watch + poll 1 s', { watch: true, pollIntervalMs: 1000 }],
    ['events file, poll 100 ms', { watch: false, pollIntervalMs: 100 }],
    ['events file, poll 500 ms', { watch: false, pollIntervalMs: 500 }],
  ] as const) {
    const summary = await localFollower(
      dir,
      `${options.watch ? 'watch' : 'poll'}-${options.pollIntervalMs}`,
      options,
    );
    process.stdout.write(`${line(label, summary, reference)}\n`);
  }
  if (process.env.BENCH_SLURM !== '0') await slurmFigures(dir, reference);
} finally {
  cleanup();
}
