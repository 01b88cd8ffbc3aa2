/**
 * The edges of a pipeline document: each one's shape, endpoints, ports and types, one edge per
 * single-link input, each link once per many-link input; then the inputs left unconnected.
 */
import type { NodeSpec } from '../nodes/define';
import { parseEndpoint, portsCompatible, type Endpoint } from './graph';
import { LISTED_ITEMS, preview } from './preview';
import { field, isObject, kindOf, schemaIssue, type IssueList, type Json } from './validate-issues';
import type { NodeEntry } from './validate-nodes';

const EDGE_FIELDS = ['from', 'to'];

/**
 * Checks the document's `edges` against the nodes kept and records each accepted one in its
 * target's inputs. Returns the accepted edges as pairs of node numbers (from, to), for ordering.
 */
export function validateEdges(
  rawEdges: unknown[],
  nodes: ReadonlyMap<string, NodeEntry>,
  entries: readonly NodeEntry[],
  issues: IssueList,
): number[] {
  let nodeList: string | undefined;
  const knownNodes = (): string => {
    if (nodeList === undefined) {
      const first = entries.slice(0, LISTED_ITEMS).map((node) => node.id);
      nodeList =
        entries.length === 0
          ? '(no nodes)'
          : `${first.join(', ')}${entries.length > first.length ? ` and ${entries.length - first.length} more` : ''}`;
    }
    return nodeList;
  };
  /** One end of edge #index: its endpoint and node when both exist and the port is the node's. */
  const endOf = (
    raw: Json,
    side: 'from' | 'to',
    index: number,
  ): { endpoint: Endpoint; node: NodeEntry; spec: NodeSpec } | undefined => {
    const pointer = `/edges/${index}/${side}`;
    const value = field(raw, side);
    const endpoint = typeof value === 'string' ? parseEndpoint(value) : undefined;
    if (!endpoint) {
      issues.add(() => ({
        code: 'EDGE_ENDPOINT_INVALID',
        pointer,
        expected: '"nodeId.port"',
        received: value,
        message: `Edge #${index}: "${side}" must be written "nodeId.port", got ${preview(value)}`,
      }));
      return undefined;
    }
    const node = nodes.get(endpoint.nodeId);
    if (!node) {
      issues.add(() => ({
        code: 'UNKNOWN_NODE',
        nodeId: endpoint.nodeId,
        port: endpoint.port,
        pointer,
        expected: `one of ${knownNodes()}`,
        received: endpoint.nodeId,
        message: `Edge #${index}: no node ${preview(endpoint.nodeId)}`,
      }));
      return undefined;
    }
    const spec = node.spec;
    // A node of unknown type has had its issue; its ports cannot be checked.
    if (!spec) return undefined;
    const ports = side === 'from' ? spec.outputs : spec.inputs;
    // Own properties only: "constructor" is not a port because every object has one.
    if (!Object.hasOwn(ports, endpoint.port)) {
      const other = side === 'from' ? spec.inputs : spec.outputs;
      issues.add(() => ({
        code: 'UNKNOWN_PORT',
        nodeId: endpoint.nodeId,
        port: endpoint.port,
        pointer,
        expected: `${side === 'from' ? 'an output' : 'an input'} of ${spec.type}: ${Object.keys(ports).join(', ') || '(none)'}`,
        received: endpoint.port,
        message: `Node "${endpoint.nodeId}" (${spec.type}) has no ${side === 'from' ? 'output' : 'input'} port ${preview(endpoint.port)}${
          Object.hasOwn(other, endpoint.port)
            ? ` ("${endpoint.port}" is an ${side === 'from' ? 'input' : 'output'}, edges go from outputs to inputs)`
            : ''
        }`,
      }));
      return undefined;
    }
    return { endpoint, node, spec };
  };
  /** The accepted edges as pairs of node numbers (from, to), for ordering. */
  const pairs: number[] = [];
  /** The links into many-link ports seen so far, as "to\0from". */
  const multipleLinks = new Set<string>();
  for (let index = 0; index < rawEdges.length; index++) {
    const raw = rawEdges[index];
    if (!isObject(raw)) {
      issues.add(() =>
        schemaIssue(
          `/edges/${index}`,
          'an edge object {"from", "to"}',
          kindOf(raw),
          `Edge #${index} must be an object, got ${kindOf(raw)}`,
        ),
      );
      continue;
    }
    issues.unknownFields(raw, EDGE_FIELDS, `/edges/${index}`, `Edge #${index}`);
    // Both ends are checked, so that an edge wrong at both ends gets both issues.
    const source = endOf(raw, 'from', index);
    const target = endOf(raw, 'to', index);
    if (!source || !target) continue;
    const from = source.endpoint;
    const to = target.endpoint;
    const fromType = source.spec.outputs[from.port]!.type;
    const toType = target.spec.inputs[to.port]!.type;
    if (!portsCompatible(fromType, toType)) {
      issues.add(() => ({
        code: 'PORT_TYPE_MISMATCH',
        nodeId: to.nodeId,
        port: to.port,
        pointer: `/edges/${index}`,
        expected: toType,
        received: fromType,
        message: `Node "${to.nodeId}": input "${to.port}" takes a ${toType}, but "${from.nodeId}.${from.port}" gives a ${fromType}`,
      }));
      continue;
    }
    if (target.spec.inputs[to.port]!.multiple) {
      // A many-link port keeps its links in edge order; only the same link twice is refused.
      const links = Object.hasOwn(target.node.inputLists, to.port)
        ? target.node.inputLists[to.port]!
        : (target.node.inputLists[to.port] = []);
      // Keyed by both ends, so the check costs the same for the thousandth link as for the first.
      const key = `${to.nodeId}.${to.port}\u0000${from.nodeId}.${from.port}`;
      if (multipleLinks.has(key)) {
        issues.add(() => ({
          code: 'INPUT_ALREADY_CONNECTED',
          nodeId: to.nodeId,
          port: to.port,
          pointer: `/edges/${index}`,
          expected: 'each link once',
          received: `${from.nodeId}.${from.port}`,
          message: `Node "${to.nodeId}": input "${to.port}" is already linked to "${from.nodeId}.${from.port}"`,
        }));
        continue;
      }
      multipleLinks.add(key);
      links.push(from);
      pairs.push(source.node.number, target.node.number);
      continue;
    }
    const connected = target.node.inputs;
    if (Object.hasOwn(connected, to.port)) {
      const earlier = connected[to.port]!;
      issues.add(() => ({
        code: 'INPUT_ALREADY_CONNECTED',
        nodeId: to.nodeId,
        port: to.port,
        pointer: `/edges/${index}`,
        expected: 'one edge per input',
        received: `${from.nodeId}.${from.port}`,
        message: `Node "${to.nodeId}": input "${to.port}" is already connected to "${earlier.nodeId}.${earlier.port}"`,
      }));
      continue;
    }
    connected[to.port] = from;
    pairs.push(source.node.number, target.node.number);
  }
  return pairs;
}

/** Required inputs: every input that is not optional is connected, many-link ones often enough. */
export function checkRequiredInputs(entries: readonly NodeEntry[], issues: IssueList): void {
  for (const node of entries) {
    if (!node.spec) continue;
    for (const [portName, portSpec] of Object.entries(node.spec.inputs)) {
      if (portSpec.multiple) {
        const links = Object.hasOwn(node.inputLists, portName) ? node.inputLists[portName]!.length : 0;
        const min = portSpec.minLinks ?? 1;
        // minLinks applies once the port is linked at all; an optional port may stay empty.
        if ((links > 0 || !portSpec.optional) && links < min) {
          issues.add(() => ({
            code: 'MISSING_INPUT',
            nodeId: node.id,
            port: portName,
            pointer: `/nodes/${node.index}`,
            expected: `at least ${min} ${portSpec.type} links into "${node.id}.${portName}"`,
            received: links,
            message: `Node "${node.id}": input "${portName}" takes at least ${min} links once linked, it has ${links}`,
          }));
        }
        continue;
      }
      if (!portSpec.optional && !Object.hasOwn(node.inputs, portName)) {
        issues.add(() => ({
          code: 'MISSING_INPUT',
          nodeId: node.id,
          port: portName,
          pointer: `/nodes/${node.index}`,
          expected: `a ${portSpec.type} connected to "${node.id}.${portName}"`,
          received: null,
          message: `Node "${node.id}": required input "${portName}" (${portSpec.type}) is not connected`,
        }));
      }
    }
  }
}
