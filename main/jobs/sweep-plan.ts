/**
 * What the sweep layer reads off a sweep's pipeline before running trials: the document of each
 * trial, the node whose epochs count as a trial's budget, and the nodes every trial shares (their
 * tasks keep one fingerprint across trials, so they run once and are reused by the rest).
 */
import type { JsonValue, PipelineDoc } from '../../preload/contract';
import type { NodeCatalog } from '../nodes/catalog';
import { parseEndpoint, topologicalOrder } from '../pipeline/graph';
import { applyTrialParams, type ResolvedSweep, type TrialParams } from '../pipeline/sweep/index';

/** The scheduler's resource, when the sweep has a scheduler. */
export function resourceOf(sweep: ResolvedSweep): { key: string; nodeId: string; param: string } | undefined {
  const scheduler = sweep.scheduler;
  return scheduler.type === 'none'
    ? undefined
    : { key: scheduler.resource, nodeId: scheduler.nodeId, param: scheduler.param };
}

/**
 * A trial's run document: the sweep's pipeline with the trial's values, the resource set to its
 * budget, and under PBT the resource node checkpointing at each epoch's end (an exploit copies
 * the checkpoint of a segment's last epoch, which must therefore exist).
 */
export function trialDocument(
  doc: PipelineDoc,
  sweep: ResolvedSweep,
  catalog: NodeCatalog,
  params: Readonly<TrialParams>,
): PipelineDoc {
  const resource = resourceOf(sweep);
  const scheduler = sweep.scheduler;
  const values: TrialParams = { ...params };
  if (scheduler.type === 'pbt') {
    const node = doc.nodes.find((candidate) => candidate.id === scheduler.nodeId);
    const spec = node ? catalog.get(node.type) : undefined;
    if (spec && Object.hasOwn(spec.params, 'checkpointEvery'))
      values[`${scheduler.nodeId}.checkpointEvery`] = 0;
  }
  return applyTrialParams(
    doc,
    values,
    resource && scheduler.type !== 'none' ? { key: resource.key, value: scheduler.max } : undefined,
  );
}

/** Node id → the ids of the nodes it feeds, from the document's edges. */
function downstreamOf(doc: PipelineDoc): Map<string, string[]> {
  const next = new Map<string, string[]>();
  for (const edge of doc.edges) {
    const from = parseEndpoint(edge.from);
    const to = parseEndpoint(edge.to);
    if (!from || !to) continue;
    next.set(from.nodeId, [...(next.get(from.nodeId) ?? []), to.nodeId]);
  }
  return next;
}

/**
 * The nodes whose tasks are the same in every trial: those no swept param, the resource or the
 * PBT checkpoint setting reaches, directly or through an input.
 */
export function sharedNodes(doc: PipelineDoc, sweep: ResolvedSweep): Set<string> {
  const touched = new Set<string>();
  const start = [...sweep.space.params.map((param) => param.nodeId)];
  const resource = resourceOf(sweep);
  if (resource) start.push(resource.nodeId);
  const next = downstreamOf(doc);
  const stack = [...start];
  while (stack.length > 0) {
    const nodeId = stack.pop()!;
    if (touched.has(nodeId)) continue;
    touched.add(nodeId);
    stack.push(...(next.get(nodeId) ?? []));
  }
  return new Set(doc.nodes.map((node) => node.id).filter((id) => !touched.has(id)));
}

/**
 * The node whose epochs measure what a trial trained: the resource node, else the last node with
 * an `epochs` param that the objective's node depends on (or is), else none.
 */
export function budgetNode(doc: PipelineDoc, sweep: ResolvedSweep, catalog: NodeCatalog): string | undefined {
  const resource = resourceOf(sweep);
  if (resource) return resource.nodeId;
  const upstream = new Map<string, string[]>();
  for (const edge of doc.edges) {
    const from = parseEndpoint(edge.from);
    const to = parseEndpoint(edge.to);
    if (from && to) upstream.set(to.nodeId, [...(upstream.get(to.nodeId) ?? []), from.nodeId]);
  }
  const feeding = new Set<string>();
  const stack = [sweep.objective.node];
  while (stack.length > 0) {
    const nodeId = stack.pop()!;
    if (feeding.has(nodeId)) continue;
    feeding.add(nodeId);
    stack.push(...(upstream.get(nodeId) ?? []));
  }
  const types = new Map(doc.nodes.map((node) => [node.id, node.type]));
  const { order } = topologicalOrder(
    doc.nodes.map((node) => node.id),
    doc.edges,
  );
  return order
    .filter((nodeId) => feeding.has(nodeId))
    .filter((nodeId) => {
      const spec = catalog.get(types.get(nodeId) ?? '');
      return spec !== undefined && Object.hasOwn(spec.params, 'epochs');
    })
    .at(-1);
}

/** A trial's params as JSON for records and messages, keys in the space's order. */
export function orderedParams(
  sweep: ResolvedSweep,
  params: Readonly<TrialParams>,
): Record<string, JsonValue> {
  const ordered: Record<string, JsonValue> = {};
  for (const key of sweep.space.keys) if (Object.hasOwn(params, key)) ordered[key] = params[key]!;
  return ordered;
}
