/**
 * The handlers of the sweep methods (`sweeps.*`): the sweep layer (jobs/sweeps.ts) starts, cancels
 * and resumes sweeps; listing and reading go to the sweep records, after sweeps whose process has
 * died are settled as interrupted.
 */
import type { RequestParams, RequestResult } from '../../preload/contract';
import type { DistilleryApp } from '../app/app';
import { migrate } from '../pipeline/pipeline-file';

export type SweepMethod = 'sweeps.start' | 'sweeps.list' | 'sweeps.get' | 'sweeps.cancel' | 'sweeps.resume';

/** The sweep methods' handlers: the slice of handlers.ts's `Handlers` they make up. */
export type SweepHandlers = {
  [K in SweepMethod]: (params: RequestParams<K>) => Promise<RequestResult<K>>;
};

export function createSweepHandlers(app: DistilleryApp): SweepHandlers {
  return {
    'sweeps.start': async ({ doc, pipelineFile }) =>
      app.sweeps.start(migrate(doc), { pipelineFile: pipelineFile ?? null }),
    'sweeps.list': async ({ limit }) => {
      app.sweeps.settleAbandonedSweeps();
      return app.sweepStore.listSweeps(limit ?? 100);
    },
    'sweeps.get': async ({ sweepId, curves }) => {
      app.sweeps.settleAbandonedSweeps();
      return app.sweepStore.getSweep(sweepId, { curves: curves ?? false });
    },
    'sweeps.cancel': async ({ sweepId }) => app.sweeps.cancel(sweepId),
    'sweeps.resume': async ({ sweepId, rerunFailed }) =>
      app.sweeps.resume(sweepId, { rerunFailed: rerunFailed ?? false }),
  };
}
