/** Small pure helpers over pipeline documents. */
import type { PipelineDoc, PipelineEdge } from '../../preload/contract';
import { parseEndpoint, type Endpoint } from '../../preload/graph-rules';

// The rules shared with the editor are declared once in preload/graph-rules.ts; re-exported here so
// engine code keeps importing its graph helpers from one place.
export {
  describeNodeIdRule,
  formatEndpoint,
  isNodeId,
  NODE_ID_MAX_LENGTH,
  NODE_ID_PATTERN,
  parseEndpoint,
  portsCompatible,
  type Endpoint,
} from '../../preload/graph-rules';

/** Edges into each node, by input port. */
export function incomingEdges(doc: Pick<PipelineDoc, 'edges'>): Map<string, Map<string, Endpoint>> {
  const result = new Map<string, Map<string, Endpoint>>();
  for (const edge of doc.edges) {
    const from = parseEndpoint(edge.from);
    const to = parseEndpoint(edge.to);
    if (!from || !to) continue;
    let ports = result.get(to.nodeId);
    if (!ports) result.set(to.nodeId, (ports = new Map<string, Endpoint>()));
    if (!ports.has(to.port)) ports.set(to.port, from);
  }
  return result;
}

/**
 * Kahn's algorithm over node ids. Returns the order and, when the graph has cycles, the nodes left
 * over (each on or downstream of a cycle).
 */
export function topologicalOrder(
  nodeIds: string[],
  edges: PipelineEdge[],
): { order: string[]; cyclic: string[] } {
  const indegree = new Map(nodeIds.map((id) => [id, 0]));
  const next = new Map<string, string[]>(nodeIds.map((id) => [id, []]));
  for (const edge of edges) {
    const from = parseEndpoint(edge.from);
    const to = parseEndpoint(edge.to);
    if (!from || !to || !indegree.has(from.nodeId) || !indegree.has(to.nodeId)) continue;
    next.get(from.nodeId)!.push(to.nodeId);
    indegree.set(to.nodeId, indegree.get(to.nodeId)! + 1);
  }
  const ready = nodeIds.filter((id) => indegree.get(id) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(id);
    for (const child of next.get(id)!) {
      const left = indegree.get(child)! - 1;
      indegree.set(child, left);
      if (left === 0) ready.push(child);
    }
  }
  const placed = new Set(order);
  return { order, cyclic: nodeIds.filter((id) => !placed.has(id)) };
}

/** Finds one cycle among `candidates` (node ids), as a closed path a → b → … → a. */
export function findCycle(candidates: string[], edges: PipelineEdge[]): string[] | undefined {
  const inSet = new Set(candidates);
  const next = new Map<string, string[]>();
  for (const edge of edges) {
    const from = parseEndpoint(edge.from);
    const to = parseEndpoint(edge.to);
    if (!from || !to || !inSet.has(from.nodeId) || !inSet.has(to.nodeId)) continue;
    next.set(from.nodeId, [...(next.get(from.nodeId) ?? []), to.nodeId]);
  }
  const state = new Map<string, 'open' | 'closed'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'open');
    stack.push(id);
    for (const child of next.get(id) ?? []) {
      if (state.get(child) === 'open') return [...stack.slice(stack.indexOf(child)), child];
      if (!state.has(child)) {
        const found = visit(child);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, 'closed');
    return undefined;
  };
  for (const id of candidates) {
    if (!state.has(id)) {
      const found = visit(id);
      if (found) return found;
    }
  }
  return undefined;
}
