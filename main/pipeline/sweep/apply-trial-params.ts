/**
 * A trial's pipeline: the sweep's document with the trial's values put into its nodes' params and
 * the scheduler's resource set to the trial's target. The result is an ordinary pipeline (no
 * `sweep` block), so a trial runs, is fingerprinted and is validated like any run: nodes whose
 * params the trial does not touch keep their fingerprints, which is what lets trials share tasks.
 */
import type { PipelineDoc } from '../../../preload/contract';
import { DistilleryError } from '../../base/errors';
import { parseEndpoint } from '../graph';
import type { TrialParams } from './space';

/** A pipeline document that may carry a `sweep` block (`PipelineDoc` will declare it). */
export type SweptPipelineDoc = PipelineDoc & { sweep?: unknown };

/**
 * Returns a new document with each `"node.param"` of `values` (and of `resource`, when given) set
 * on its node; the input is not changed. Params a trial leaves out (a `when` that did not hold)
 * keep the pipeline's value.
 *
 * @throws DistilleryError `SWEEP_UNKNOWN_PARAM` for a key that names no node of the document
 *   (validation refuses such sweeps first).
 */
export function applyTrialParams(
  doc: SweptPipelineDoc,
  values: Readonly<TrialParams>,
  resource?: { key: string; value: number },
): PipelineDoc {
  const trial: SweptPipelineDoc = structuredClone(doc);
  // A trial is an ordinary run: it must not start a sweep of its own.
  delete trial.sweep;
  const entries = Object.entries(values);
  if (resource) entries.push([resource.key, resource.value]);
  const byId = new Map(trial.nodes.map((node) => [node.id, node]));
  for (const [key, value] of entries) {
    const endpoint = parseEndpoint(key);
    const node = endpoint ? byId.get(endpoint.nodeId) : undefined;
    if (!endpoint || !node) {
      throw new DistilleryError(
        'SWEEP_UNKNOWN_PARAM',
        `Sweep "${key}": the pipeline has no such node param`,
        {
          expected: '"node.param" naming a node of the pipeline',
          received: key,
        },
      );
    }
    node.params = { ...node.params, [endpoint.port]: structuredClone(value) };
  }
  return trial;
}
