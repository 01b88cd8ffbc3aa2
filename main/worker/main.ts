/**
 * The training subprocess. Runs tasks: loads the fastest backend it can, says `ready`, waits for
 * `start`, runs the op, reports `done` or `error`, and exits — or, when the start request says
 * `keepAlive` (a warm worker of the local pool) and the task succeeded, waits for the next one. A
 * `cancel` message (or SIGTERM) aborts the op's signal; the op finishes its current step,
 * checkpoints and stops.
 *
 * Started by the runner, it talks over the IPC channel. Started by a SLURM job, which has none, it
 * takes `--start-file PATH` (the start request as JSON) and `--events-file PATH` (where every event
 * is appended, for the runner to follow), runs that one task and exits; a requeued job continues
 * from the last checkpoint its events file names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { serializeError } from '../base/errors';
import { backendChoiceFromEnv, initBackend, tfjsVersions } from './backend';
import { WorkerOpContext } from './context';
import { EventFileSink } from './event-file';
import { getOp } from './op-registry';
import './ops/index';
import {
  decodeRequest,
  PROTOCOL_VERSION,
  type EventsFileLine,
  type StartRequest,
  type WorkerEvent,
} from './protocol';

/** A warm worker whose tasks left more than this in tensors behind exits instead of taking another. */
const LEAKED_BYTES_LIMIT = 64 * 1024 * 1024;

let sendEvent: (event: WorkerEvent) => Promise<void> = sendOverIpc;

function sendOverIpc(event: WorkerEvent): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(event, undefined, {}, () => resolve());
  });
}

function send(event: WorkerEvent): Promise<void> {
  return sendEvent(event);
}

let context: WorkerOpContext | undefined;
/** A task is running: a second `start` meanwhile is refused. */
let busy = false;
/** Set by a SIGTERM that came before the task's context existed: the task then stops at once. */
let cancelRequested = false;

/**
 * Runs one task. `stay` says, once it succeeded, whether this process takes another (and has
 * released this one); the answer goes out with `done`.
 */
async function run(
  request: StartRequest,
  backend: Awaited<ReturnType<typeof initBackend>>,
  stay: () => boolean = () => false,
): Promise<'done' | 'staying' | 'error'> {
  const ctx = new WorkerOpContext(request, backend, (event) => void send(event));
  context = ctx;
  if (cancelRequested) ctx.cancel();
  try {
    const summary = await getOp(request.nodeType).run(ctx, request.params);
    ctx.close();
    const staying = !cancelRequested && stay();
    await send({ type: 'done', taskId: request.taskId, summary, ...(staying ? { staying } : {}) });
    return staying ? 'staying' : 'done';
  } catch (error) {
    ctx.close();
    await send({ type: 'error', taskId: request.taskId, error: serializeError(error, true) });
    return 'error';
  } finally {
    context = undefined;
  }
}

/**
 * Frees what the task left in the tfjs engine before the next one; false when too much stays
 * behind for this process to be trusted with another task.
 */
function releaseTask(baselineBytes: number): boolean {
  tf.disposeVariables();
  return tf.memory().numBytes - baselineBytes <= LEAKED_BYTES_LIMIT;
}

function readyEvent(backend: Awaited<ReturnType<typeof initBackend>>): WorkerEvent {
  const jobId = process.env.SLURM_JOB_ID;
  return {
    type: 'ready',
    protocol: PROTOCOL_VERSION,
    pid: process.pid,
    backend,
    versions: tfjsVersions(),
    ...(jobId ? { jobId } : {}),
    node: process.env.SLURMD_NODENAME ?? hostname(),
  };
}

async function serveIpc(): Promise<void> {
  // Production mode skips tfjs's debug-time checks and its console banners (which would otherwise
  // fill the stderr tail the runner keeps for crash reports).
  tf.enableProdMode();
  const backend = await initBackend(backendChoiceFromEnv());
  const baselineBytes = tf.memory().numBytes;
  process.on('message', (message: unknown) => {
    let request;
    try {
      request = decodeRequest(message);
    } catch (error) {
      void send({
        type: 'error',
        taskId: '',
        error: { code: 'WORKER_PROTOCOL', message: (error as Error).message },
      });
      return;
    }
    if (request.type === 'cancel') {
      context?.cancel();
      return;
    }
    if (busy) return;
    busy = true;
    // Only a worker whose task succeeded takes another; one that failed or was cancelled exits.
    const stay = request.keepAlive === true ? () => releaseTask(baselineBytes) : undefined;
    void run(request, backend, stay).then((outcome) => {
      busy = false;
      if (outcome !== 'staying') process.disconnect();
    });
  });
  process.on('SIGTERM', () => {
    // A warm worker between tasks has nothing to checkpoint.
    if (!busy) process.exit(0);
    // The runner sends SIGTERM after the cancel grace period: stop at the next step boundary.
    cancelRequested = true;
    context?.cancel();
  });
  process.on('disconnect', () => {
    // The runner is gone: nobody will read our results, so stop at once.
    process.exit(context ? 0 : 1);
  });
  await send(readyEvent(backend));
}

/**
 * The last checkpoint of `taskId` that an events file names and that still exists: where a job that
 * SLURM requeued (preemption, node failure, `scontrol requeue`) continues from.
 */
function lastCheckpoint(eventsFile: string, taskId: string): string | undefined {
  if (!existsSync(eventsFile)) return undefined;
  let found: string | undefined;
  for (const text of readFileSync(eventsFile, 'utf8').split('\n')) {
    if (!text.includes('"checkpoint"')) continue;
    try {
      const { event } = JSON.parse(text) as EventsFileLine;
      if (event.type === 'checkpoint' && event.taskId === taskId && existsSync(event.path))
        found = event.path;
    } catch {
      // A torn line of the killed execution: the checkpoints before it still count.
    }
  }
  return found;
}

async function serveFiles(startFile: string, eventsFile: string): Promise<number> {
  // scancel (and a time limit or a preemption) sends SIGTERM: checkpoint and stop, as locally.
  process.on('SIGTERM', () => {
    cancelRequested = true;
    context?.cancel();
  });
  const sink = new EventFileSink(eventsFile);
  sendEvent = async (event) => sink.write(event);
  try {
    tf.enableProdMode();
    let request: StartRequest;
    try {
      const decoded = decodeRequest(JSON.parse(readFileSync(startFile, 'utf8')) as unknown);
      if (decoded.type !== 'start') throw new Error(`${startFile} holds a ${decoded.type} request`);
      request = decoded;
    } catch (error) {
      await send({
        type: 'error',
        taskId: '',
        error: { code: 'WORKER_PROTOCOL', message: `Cannot read ${startFile}: ${(error as Error).message}` },
      });
      return 2;
    }
    const restarts = Number(process.env.SLURM_RESTART_COUNT ?? '0');
    if (restarts > 0) {
      const checkpoint = lastCheckpoint(eventsFile, request.taskId);
      if (checkpoint) request = { ...request, resumeFrom: checkpoint };
    }
    const backend = await initBackend(backendChoiceFromEnv());
    await send(readyEvent(backend));
    const outcome = await run(request, backend);
    return outcome === 'done' ? 0 : cancelRequested ? 143 : 1;
  } catch (error) {
    await send({ type: 'error', taskId: '', error: serializeError(error, true) });
    return 1;
  } finally {
    sink.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'start-file': { type: 'string' }, 'events-file': { type: 'string' } },
    strict: true,
  });
  const startFile = values['start-file'];
  const eventsFile = values['events-file'];
  if (startFile !== undefined || eventsFile !== undefined) {
    if (startFile === undefined || eventsFile === undefined) {
      process.stderr.write('distillery worker: --start-file and --events-file go together\n');
      process.exit(2);
    }
    process.exit(await serveFiles(startFile, eventsFile));
  }
  if (!process.send) {
    process.stderr.write(
      'distillery worker: must be started by the runner (no IPC channel), or given --start-file and --events-file\n',
    );
    process.exit(2);
  }
  await serveIpc();
}

main().catch(async (error: unknown) => {
  // Also on stderr: a worker whose events file cannot be opened has nowhere else to say it.
  process.stderr.write(
    `distillery worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  await send({ type: 'error', taskId: '', error: serializeError(error, true) });
  process.exit(1);
});
