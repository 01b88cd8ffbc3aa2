/**
 * A stand-in for the worker inside the SLURM jobs of the cluster tests and of the event-follower
 * benchmark: it writes worker events through the worker's own sink (main/worker/event-file.ts),
 * and stops on SIGTERM the way the worker does (a checkpoint, then `error` TASK_CANCELLED, exit 0).
 *
 *   node --import tsx test/cluster/event-writer.ts <events file> <count> <interval ms>
 *
 * Writes a `log` event first (naming the SLURM job and node, when there is one), then `count`
 * `progress` events `interval` ms apart (forever when count is 0), then `done`. Line times are
 * high-resolution (fractional ms since the epoch), so a reader on the same machine can measure
 * the latency from write to delivery.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { EventFileSink } from '../../main/worker/event-file';

const [path, countText = '0', intervalText = '10'] = process.argv.slice(2);
if (!path) {
  process.stderr.write('usage: event-writer.ts <events file> <count> <interval ms>\n');
  process.exit(2);
}
const count = Number(countText);
const intervalMs = Number(intervalText);
const taskId = process.env.DISTILLERY_TASK_ID ?? 'task';
const sink = new EventFileSink(path, { now: () => performance.timeOrigin + performance.now() });
let stopping = false;

process.on('SIGTERM', () => {
  stopping = true;
});

sink.write({
  type: 'log',
  taskId,
  level: 'info',
  message: `started in job ${process.env.SLURM_JOB_ID ?? 'none'} on ${process.env.SLURMD_NODENAME ?? 'no node'}`,
  time: Date.now(),
});
for (let done = 1; count === 0 || done <= count; done++) {
  await delay(intervalMs);
  if (stopping) {
    sink.write({ type: 'checkpoint', taskId, path: `${path}.checkpoint`, step: done - 1 });
    sink.write({
      type: 'error',
      taskId,
      error: { code: 'TASK_CANCELLED', message: `Task "${taskId}" was cancelled` },
    });
    sink.close();
    process.exit(0);
  }
  sink.write({ type: 'progress', taskId, done, total: count, etaSeconds: null });
}
sink.write({ type: 'done', taskId, summary: { steps: count } });
sink.close();
