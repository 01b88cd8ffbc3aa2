/**
 * Bypassed nodes (`"bypass": true` on a node): the node stays in the document, with its params and
 * edges, but does not run. Each of its outputs passes on the model, dataset or other value linked
 * into its first input of the same port type, so a bypassed `prune` between `train` and `export`
 * exports the trained model, and a bypassed `merge` passes on its first linked model. A bypassed
 * node whose used output has no such input is refused with BYPASS_NO_PASSTHROUGH; an output that
 * nothing reads needs none (a bypassed `export` or `evaluate` is simply skipped).
 *
 * The rewiring happens after validation, on nodes in topological order, so a chain of bypassed
 * nodes resolves to the first value that is produced, and downstream tasks are planned, seeded and
 * fingerprinted as if the edge had been drawn past the bypassed nodes: a run with a bypassed node
 * reuses the tasks of a run of the pipeline without it.
 */
import type { ValidationIssue } from '../../preload/contract';
import type { NodeSpec } from '../nodes/define';
import type { Endpoint } from './graph';

/** What the rewiring needs of a node: its spec and links, in the order validation resolved. */
export interface BypassNode {
  id: string;
  /** Index in the document's `nodes`, for issue pointers. */
  index: number;
  spec: NodeSpec;
  bypass: boolean;
  inputs: Record<string, Endpoint>;
  inputLists: Record<string, Endpoint[]>;
}

/** The node's first linked input (spec order) that takes the type `output` gives, if any. */
function passThrough(node: BypassNode, output: string): Endpoint | undefined {
  const type = node.spec.outputs[output]?.type;
  for (const [port, spec] of Object.entries(node.spec.inputs)) {
    if (spec.type !== type) continue;
    const linked = spec.multiple ? node.inputLists[port]?.[0] : node.inputs[port];
    if (linked) return linked;
  }
  return undefined;
}

/**
 * Rewrites, in place, every input of a node that runs so that it reads past bypassed nodes, and
 * returns the nodes that run (in the given order) with the issues found. `ordered` must be in a
 * topological order.
 */
export function applyBypass<T extends BypassNode>(
  ordered: readonly T[],
): { running: T[]; issues: ValidationIssue[] } {
  const byId = new Map(ordered.map((node) => [node.id, node]));
  const issues: ValidationIssue[] = [];
  const refused = new Set<string>();
  /** The endpoint that really produces what `endpoint` names, past bypassed nodes. */
  const source = (endpoint: Endpoint, reader: BypassNode, port: string): Endpoint | undefined => {
    let current = endpoint;
    for (;;) {
      const node = byId.get(current.nodeId);
      if (!node?.bypass) return current;
      const next = passThrough(node, current.port);
      if (!next) {
        const key = `${node.id}.${current.port}`;
        if (!refused.has(key)) {
          refused.add(key);
          const type = node.spec.outputs[current.port]?.type ?? 'value';
          issues.push({
            code: 'BYPASS_NO_PASSTHROUGH',
            nodeId: node.id,
            port: current.port,
            pointer: `/nodes/${node.index}/bypass`,
            expected: `a ${type} linked into an input of "${node.id}" to pass on, or "${node.id}" not bypassed`,
            received: true,
            message: `Node "${node.id}" is bypassed, but "${reader.id}.${port}" reads its output "${current.port}" and no ${type} is linked into "${node.id}" to pass on in its place`,
          });
        }
        return undefined;
      }
      current = next;
    }
  };
  const running: T[] = [];
  for (const node of ordered) {
    if (node.bypass) continue;
    for (const [port, endpoint] of Object.entries(node.inputs)) {
      const resolved = source(endpoint, node, port);
      if (resolved) node.inputs[port] = resolved;
    }
    for (const [port, links] of Object.entries(node.inputLists)) {
      node.inputLists[port] = links.flatMap((endpoint) => {
        const resolved = source(endpoint, node, port);
        return resolved ? [resolved] : [];
      });
    }
    running.push(node);
  }
  return { running, issues };
}
