/**
 * The order of a pipeline's nodes: topological when the graph is acyclic, and otherwise a cycle
 * found and named in an issue.
 */
import { findCycleNumbered, orderNumbered } from './graph';
import { LISTED_ITEMS } from './preview';
import type { IssueList } from './validate-issues';
import type { NodeEntry } from './validate-nodes';

/** A closed path a → b → … → a, with at most {@link LISTED_ITEMS} of its nodes written out. */
function describeCycle(cycle: readonly string[]): string {
  const nodes = cycle.length - 1;
  if (nodes <= LISTED_ITEMS) return cycle.join(' → ');
  return `${cycle.slice(0, LISTED_ITEMS).join(' → ')} → … (${nodes - LISTED_ITEMS - 1} more) → ${cycle[nodes - 1]!} → ${cycle[0]!}`;
}

/**
 * The node numbers in a topological order of `pairs` (from, to); when some nodes are on or after a
 * cycle, the order is short of them and one CYCLE issue names a cycle.
 */
export function orderNodes(entries: readonly NodeEntry[], pairs: number[], issues: IssueList): Int32Array {
  const order = orderNumbered(entries.length, pairs);
  if (order.length < entries.length) {
    const placed = new Uint8Array(entries.length);
    for (const number of order) placed[number] = 1;
    const found = findCycleNumbered(entries.length, pairs, (number) => placed[number] === 0);
    const cycle = found
      ? found.map((number) => entries[number]!.id)
      : entries.filter((node) => placed[node.number] === 0).map((node) => node.id);
    issues.add(() => ({
      code: 'CYCLE',
      nodeId: cycle[0],
      pointer: '/edges',
      expected: 'an acyclic graph',
      received: cycle,
      message: `The pipeline has a cycle of ${Math.max(1, cycle.length - 1)} node${cycle.length === 2 ? '' : 's'}: ${describeCycle(cycle)}`,
    }));
  }
  return order;
}
