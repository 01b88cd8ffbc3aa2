/**
 * The training subprocess. Runs one task: loads the fastest backend it can, says `ready`, waits
 * for `start`, runs the op, reports `done` or `error`, and exits. A `cancel` message (or SIGTERM)
 * aborts the op's signal; the op finishes its current step, checkpoints and stops.
 */
import * as tf from '@tensorflow/tfjs';
import { serializeError } from '../base/errors';
import { backendChoiceFromEnv, initBackend, tfjsVersions } from './backend';
import { WorkerOpContext } from './context';
import { getOp } from './op-registry';
import './ops/index';
import { decodeRequest, PROTOCOL_VERSION, type StartRequest, type WorkerEvent } from './protocol';

function send(event: WorkerEvent): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(event, undefined, {}, () => resolve());
  });
}

let context: WorkerOpContext | undefined;
let started = false;

async function run(request: StartRequest, backend: Awaited<ReturnType<typeof initBackend>>): Promise<void> {
  const ctx = new WorkerOpContext(request, backend, (event) => void send(event));
  context = ctx;
  try {
    const summary = await getOp(request.nodeType).run(ctx, request.params);
    ctx.flush();
    await send({ type: 'done', taskId: request.taskId, summary });
  } catch (error) {
    ctx.flush();
    await send({ type: 'error', taskId: request.taskId, error: serializeError(error, true) });
  }
}

async function main(): Promise<void> {
  if (!process.send) {
    process.stderr.write('distillery worker: must be started by the runner (no IPC channel)\n');
    process.exit(2);
  }
  // Production mode skips tfjs's debug-time checks and its console banners (which would otherwise
  // fill the stderr tail the runner keeps for crash reports).
  tf.enableProdMode();
  const backend = await initBackend(backendChoiceFromEnv());
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
    if (started) return;
    started = true;
    void run(request, backend).then(() => process.disconnect());
  });
  process.on('SIGTERM', () => {
    // The runner sends SIGTERM after the cancel grace period: stop at the next step boundary.
    context?.cancel();
  });
  process.on('disconnect', () => {
    // The runner is gone: nobody will read our results, so stop at once.
    process.exit(context ? 0 : 1);
  });
  await send({
    type: 'ready',
    protocol: PROTOCOL_VERSION,
    pid: process.pid,
    backend,
    versions: tfjsVersions(),
  });
}

main().catch(async (error: unknown) => {
  await send({ type: 'error', taskId: '', error: serializeError(error, true) });
  process.exit(1);
});
