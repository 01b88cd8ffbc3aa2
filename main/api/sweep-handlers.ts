/**
 * The handlers of the sweep methods (`sweeps.*`): the sweep layer (jobs/sweeps.ts) starts, cancels
 * and resumes sweeps; listing and reading go to the sweep records, after sweeps whose process has
 * died are settled as interrupted.
 */
import type { ParamImportanceInfo, RequestParams, RequestResult, SweepInfo } from '../../preload/contract';
import type { DistilleryApp } from '../app/app';
import type { NodeCatalog } from '../nodes/catalog';
import { migrate } from '../pipeline/pipeline-file';
import { paramImportance, resolveSweep } from '../pipeline/sweep/index';

export type SweepMethod = 'sweeps.start' | 'sweeps.list' | 'sweeps.get' | 'sweeps.cancel' | 'sweeps.resume';

/** The sweep methods' handlers: the slice of handlers.ts's `Handlers` they make up. */
export type SweepHandlers = {
  [K in SweepMethod]: (params: RequestParams<K>) => Promise<RequestResult<K>>;
};

/**
 * The importance of each swept param from the sweep's trials (pipeline/sweep/importance.ts). The
 * space is resolved from the block as recorded; a block the catalog no longer accepts (a node type
 * gone since) has no space to group by, so it gets no figures rather than a failed answer.
 */
export function sweepImportance(sweep: SweepInfo, catalog: NodeCatalog): ParamImportanceInfo[] {
  const resolved = resolveSweep(sweep.pipeline.sweep, sweep.pipeline, catalog).sweep;
  if (!resolved) return [];
  return paramImportance(
    resolved.space,
    sweep.trials.map((trial) => ({ params: trial.params, objective: trial.objective })),
  );
}

export function createSweepHandlers(app: DistilleryApp): SweepHandlers {
  return {
    'sweeps.start': async ({ doc, pipelineFile }) =>
      app.sweeps.start(migrate(doc), { pipelineFile: pipelineFile ?? null }),
    'sweeps.list': async ({ limit }) => {
      app.sweeps.settleAbandonedSweeps();
      return app.sweepStore.listSweeps(limit ?? 100);
    },
    'sweeps.get': async ({ sweepId, curves, importance }) => {
      app.sweeps.settleAbandonedSweeps();
      const sweep = app.sweepStore.getSweep(sweepId, { curves: curves ?? false });
      return importance ? { ...sweep, importance: sweepImportance(sweep, app.catalog) } : sweep;
    },
    'sweeps.cancel': async ({ sweepId }) => app.sweeps.cancel(sweepId),
    'sweeps.resume': async ({ sweepId, rerunFailed }) =>
      app.sweeps.resume(sweepId, { rerunFailed: rerunFailed ?? false }),
  };
}
