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

/** An edge between two nodes, by node id: `[from, to]`. */
export type Link = readonly [from: string, to: string];

function linksOf(edges: readonly PipelineEdge[]): Link[] {
  const links: Link[] = [];
  for (const edge of edges) {
    const from = parseEndpoint(edge.from);
    const to = parseEndpoint(edge.to);
    if (from && to) links.push([from.nodeId, to.nodeId]);
  }
  return links;
}

/** Node ids as numbers 0 … n − 1 and links as flat pairs of them; links to unknown ids are dropped. */
function numbered(nodeIds: readonly string[], links: readonly Link[]): number[] {
  const index = new Map<string, number>();
  nodeIds.forEach((id, i) => index.set(id, i));
  const pairs: number[] = [];
  for (const [from, to] of links) {
    const a = index.get(from);
    const b = index.get(to);
    if (a !== undefined && b !== undefined) pairs.push(a, b);
  }
  return pairs;
}

/**
 * Kahn's algorithm over nodes numbered 0 … count − 1, `pairs` holding each edge as two numbers
 * (from, to). Returns the nodes in order; those missing from it are on or downstream of a cycle.
 * Linear time: the adjacency is built as compressed rows and the queue is read from its head.
 */
export function orderNumbered(count: number, pairs: ArrayLike<number>): Int32Array {
  const start = new Int32Array(count + 1);
  for (let k = 0; k < pairs.length; k += 2) start[pairs[k]! + 1]!++;
  for (let i = 0; i < count; i++) start[i + 1]! += start[i]!;
  const fill = start.slice(0, count);
  const next = new Int32Array(pairs.length / 2);
  const indegree = new Int32Array(count);
  for (let k = 0; k < pairs.length; k += 2) {
    next[fill[pairs[k]!]!++] = pairs[k + 1]!;
    indegree[pairs[k + 1]!]!++;
  }
  // Array.shift would make the sort quadratic; the queue is a buffer read from its head instead.
  const queue = new Int32Array(count);
  let tail = 0;
  for (let i = 0; i < count; i++) if (indegree[i] === 0) queue[tail++] = i;
  for (let head = 0; head < tail; head++) {
    const node = queue[head]!;
    for (let k = start[node]!; k < start[node + 1]!; k++) {
      const child = next[k]!;
      if (--indegree[child]! === 0) queue[tail++] = child;
    }
  }
  return queue.subarray(0, tail);
}

/**
 * One cycle among the nodes numbered 0 … count − 1 that `candidate` marks, as a closed path
 * a → b → … → a; undefined when they hold none. Linear time, no recursion: the candidates with no
 * predecessor among the candidates cannot be on a cycle and are peeled off first (Kahn again);
 * every node left then has a predecessor left, so walking predecessors from any of them must come
 * back to a node already walked, and the walk from there is a cycle, read backwards.
 */
export function findCycleNumbered(
  count: number,
  pairs: ArrayLike<number>,
  candidate: (node: number) => boolean,
): number[] | undefined {
  const inside: number[] = [];
  for (let k = 0; k < pairs.length; k += 2) {
    if (candidate(pairs[k]!) && candidate(pairs[k + 1]!)) inside.push(pairs[k]!, pairs[k + 1]!);
  }
  const left = new Uint8Array(count);
  for (let i = 0; i < count; i++) if (candidate(i)) left[i] = 1;
  for (const node of orderNumbered(count, inside)) left[node] = 0;
  const predecessor = new Int32Array(count).fill(-1);
  let first = -1;
  for (let k = 0; k < inside.length; k += 2) {
    const from = inside[k]!;
    const to = inside[k + 1]!;
    if (left[from] && left[to] && predecessor[to] === -1) {
      predecessor[to] = from;
      if (first === -1) first = to;
    }
  }
  if (first === -1) return undefined;
  const walked = new Int32Array(count).fill(-1);
  const walk: number[] = [];
  let current = first;
  while (walked[current] === -1) {
    walked[current] = walk.length;
    walk.push(current);
    current = predecessor[current]!;
  }
  // The walk closed at walk[j]; the edges run walk[k + 1] → walk[k].
  const j = walked[current]!;
  return [current, ...walk.slice(j + 1).reverse(), current];
}

/**
 * Kahn's algorithm over node ids. Returns the order and, when the graph has cycles, the nodes left
 * over (each on or downstream of a cycle). Edges naming other nodes are ignored. Linear time.
 */
export function topologicalOrder(
  nodeIds: readonly string[],
  edges: readonly PipelineEdge[],
): { order: string[]; cyclic: string[] } {
  const order = orderNumbered(nodeIds.length, numbered(nodeIds, linksOf(edges)));
  const placed = new Uint8Array(nodeIds.length);
  for (const node of order) placed[node] = 1;
  return {
    order: Array.from(order, (node) => nodeIds[node]!),
    cyclic: nodeIds.filter((_, node) => !placed[node]),
  };
}

/** Finds one cycle among `candidates` (node ids), as a closed path a → b → … → a. */
export function findCycle(
  candidates: readonly string[],
  edges: readonly PipelineEdge[],
): string[] | undefined {
  const cycle = findCycleNumbered(candidates.length, numbered(candidates, linksOf(edges)), () => true);
  return cycle?.map((node) => candidates[node]!);
}
