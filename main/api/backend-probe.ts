import type { BackendInfo } from '../../preload/contract';
import type { DistilleryApp } from '../app/app';
import { WorkerProcess } from '../jobs/worker-process';
import { defaultWorkerEntry } from '../app/paths';

const cache = new WeakMap<DistilleryApp, Promise<BackendInfo | null>>();

/** Starts one worker to learn which backend workers get (and why not a faster one); cached. */
export function probeBackend(app: DistilleryApp): Promise<BackendInfo | null> {
  let pending = cache.get(app);
  if (!pending) {
    pending = (async () => {
      try {
        const worker = await WorkerProcess.start({
          entry: app.config.workerEntry ?? defaultWorkerEntry(),
          env: app.config.backend ? { DISTILLERY_BACKEND: app.config.backend } : {},
        });
        const { backend } = worker.ready;
        await worker.kill();
        worker.dispose();
        return {
          name: backend.name,
          package: backend.package,
          skipped: backend.skipped,
          features: backend.features,
        };
      } catch {
        return null;
      }
    })();
    cache.set(app, pending);
  }
  return pending;
}
