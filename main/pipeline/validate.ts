/**
 * Validation of a pipeline document: its shape, its nodes and params, and its graph. Returns every
 * issue found, never only the first, each naming the node, port or param and a JSON pointer.
 */
import type { PipelineDoc, ValidationIssue } from '../../preload/contract';
import type { NodeCatalog } from '../nodes/catalog';
import type { NodeParams, NodeSpec } from '../nodes/define';
import {
  describeNodeIdRule,
  findCycle,
  isNodeId,
  parseEndpoint,
  portsCompatible,
  topologicalOrder,
  type Endpoint,
} from './graph';
import { resolveParams } from './params';

export const PIPELINE_FORMAT = 1;

/** A node whose params are complete (defaults applied) and whose inputs are resolved. */
export interface ResolvedNode {
  id: string;
  type: string;
  spec: NodeSpec;
  /** What resolveParams returned for `spec`: every declared param, defaults applied. */
  params: NodeParams;
  /** The params as written in the document (no defaults): what the user chose. */
  explicitParams: Record<string, unknown>;
  /** Input port → the upstream output it is connected to. */
  inputs: Record<string, Endpoint>;
}

/** A valid pipeline, with nodes in a topological order. */
export interface ResolvedPipeline {
  doc: PipelineDoc;
  nodes: ResolvedNode[];
}

export interface ValidationResult {
  issues: ValidationIssue[];
  /** Present only when there are no issues. */
  pipeline?: ResolvedPipeline;
}

const TOP_FIELDS = ['format', 'name', 'seed', 'description', 'nodes', 'edges'];
const NODE_FIELDS = ['id', 'type', 'params', 'ui'];
const EDGE_FIELDS = ['from', 'to'];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

class IssueList {
  readonly items: ValidationIssue[] = [];
  constructor(private readonly file: string | undefined) {}

  add(item: ValidationIssue): void {
    this.items.push(this.file ? { ...item, file: this.file } : item);
  }

  schema(
    pointer: string,
    expected: string,
    received: unknown,
    message: string,
    extra: Partial<ValidationIssue> = {},
  ): void {
    this.add({ code: 'PIPELINE_SCHEMA', pointer, expected, received, message, ...extra });
  }

  unknownFields(
    value: Json,
    allowed: string[],
    pointer: string,
    where: string,
    extra: Partial<ValidationIssue> = {},
  ): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.add({
          code: 'UNKNOWN_FIELD',
          pointer: `${pointer}/${key}`,
          expected: `one of ${allowed.join(', ')}`,
          received: key,
          message: `${where}: unknown field "${key}"`,
          ...extra,
        });
      }
    }
  }
}

/** Validates a parsed document against the catalog. `file` is added to every issue. */
export function validatePipeline(doc: unknown, catalog: NodeCatalog, file?: string): ValidationResult {
  const issues = new IssueList(file);
  if (!isObject(doc)) {
    issues.schema('', 'a JSON object', kindOf(doc), `A pipeline must be a JSON object, got ${kindOf(doc)}`);
    return { issues: issues.items };
  }
  if (doc.format !== PIPELINE_FORMAT) {
    issues.add({
      code: 'PIPELINE_FORMAT_UNSUPPORTED',
      pointer: '/format',
      expected: `format ${PIPELINE_FORMAT}`,
      received: doc.format,
      message:
        typeof doc.format === 'number' && doc.format > PIPELINE_FORMAT
          ? `This pipeline was written by a newer Distillery (format ${doc.format}); this version reads format ${PIPELINE_FORMAT}`
          : `"format" must be ${PIPELINE_FORMAT}, got ${JSON.stringify(doc.format)}`,
    });
    return { issues: issues.items };
  }
  issues.unknownFields(doc, TOP_FIELDS, '', 'Pipeline');
  if (typeof doc.name !== 'string' || doc.name.trim() === '') {
    issues.schema('/name', 'a non-empty string', doc.name, '"name" must be a non-empty string');
  } else if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(doc.name)) {
    issues.schema(
      '/name',
      'letters, digits, "_", "." or "-", starting with a letter or digit',
      doc.name,
      `"name" may hold only letters, digits, "_", "." and "-", got ${JSON.stringify(doc.name)}`,
    );
  }
  if (typeof doc.seed !== 'number' || !Number.isInteger(doc.seed) || doc.seed < 0 || doc.seed > 0xffffffff) {
    issues.schema(
      '/seed',
      'an integer from 0 to 4294967295',
      doc.seed,
      `"seed" must be an integer from 0 to 4294967295, got ${JSON.stringify(doc.seed)}`,
    );
  }
  if (doc.description !== undefined && typeof doc.description !== 'string') {
    issues.schema('/description', 'a string', doc.description, '"description" must be a string');
  }
  const rawNodes = Array.isArray(doc.nodes) ? doc.nodes : [];
  const rawEdges = Array.isArray(doc.edges) ? doc.edges : [];
  if (!Array.isArray(doc.nodes))
    issues.schema('/nodes', 'an array of nodes', kindOf(doc.nodes), '"nodes" must be an array');
  if (!Array.isArray(doc.edges))
    issues.schema('/edges', 'an array of edges', kindOf(doc.edges), '"edges" must be an array');

  // Nodes: shape, ids, types, params.
  const nodes = new Map<
    string,
    { index: number; spec?: NodeSpec; params: NodeParams; explicit: Record<string, unknown> }
  >();
  rawNodes.forEach((raw: unknown, index) => {
    const pointer = `/nodes/${index}`;
    if (!isObject(raw)) {
      issues.schema(
        pointer,
        'a node object',
        kindOf(raw),
        `Node #${index} must be an object, got ${kindOf(raw)}`,
      );
      return;
    }
    const id = raw.id;
    if (!isNodeId(id)) {
      issues.schema(
        `${pointer}/id`,
        `an id of ${describeNodeIdRule}`,
        id,
        `Node #${index}: "id" must be ${describeNodeIdRule}, got ${JSON.stringify(id)}`,
      );
      return;
    }
    const at = { nodeId: id };
    issues.unknownFields(raw, NODE_FIELDS, pointer, `Node "${id}"`, at);
    if (nodes.has(id)) {
      issues.add({
        code: 'DUPLICATE_NODE_ID',
        nodeId: id,
        pointer: `${pointer}/id`,
        expected: 'a unique node id',
        received: id,
        message: `Node id "${id}" is used more than once`,
      });
      return;
    }
    if (
      raw.ui !== undefined &&
      !(
        isObject(raw.ui) &&
        typeof raw.ui.x === 'number' &&
        typeof raw.ui.y === 'number' &&
        Object.keys(raw.ui).every((k) => k === 'x' || k === 'y')
      )
    ) {
      issues.schema(
        `${pointer}/ui`,
        '{"x": number, "y": number}',
        raw.ui,
        `Node "${id}": "ui" must be {"x": number, "y": number}`,
        at,
      );
    }
    const params = raw.params === undefined ? {} : raw.params;
    if (!isObject(params)) {
      issues.schema(
        `${pointer}/params`,
        'an object',
        kindOf(params),
        `Node "${id}": "params" must be an object`,
        at,
      );
    }
    const paramObject = isObject(params) ? params : {};
    if (typeof raw.type !== 'string') {
      issues.schema(
        `${pointer}/type`,
        'a node type id',
        raw.type,
        `Node "${id}": "type" must be a string`,
        at,
      );
      nodes.set(id, { index, params: {}, explicit: paramObject });
      return;
    }
    const spec = catalog.get(raw.type);
    if (!spec) {
      issues.add({
        code: 'UNKNOWN_NODE_TYPE',
        nodeId: id,
        pointer: `${pointer}/type`,
        expected: `one of ${catalog.types.join(', ')}`,
        received: raw.type,
        message: `Node "${id}": unknown node type "${raw.type}"`,
      });
      nodes.set(id, { index, params: {}, explicit: paramObject });
      return;
    }
    const resolved = resolveParams(id, spec, paramObject, `${pointer}/params`);
    for (const item of resolved.issues) issues.add(item);
    nodes.set(id, { index, spec, params: resolved.params, explicit: paramObject });
  });

  // Edges: shape, endpoints, ports, types, one edge per input.
  const inputs = new Map<string, Record<string, Endpoint>>();
  const goodEdges: Array<{ from: string; to: string }> = [];
  rawEdges.forEach((raw: unknown, index) => {
    const pointer = `/edges/${index}`;
    if (!isObject(raw)) {
      issues.schema(
        pointer,
        'an edge object {"from", "to"}',
        kindOf(raw),
        `Edge #${index} must be an object, got ${kindOf(raw)}`,
      );
      return;
    }
    issues.unknownFields(raw, EDGE_FIELDS, pointer, `Edge #${index}`);
    const ends: Array<[string, 'from' | 'to']> = [];
    let ok = true;
    const resolvedEnds: Partial<Record<'from' | 'to', Endpoint>> = {};
    for (const side of ['from', 'to'] as const) {
      const value = raw[side];
      const endpoint = typeof value === 'string' ? parseEndpoint(value) : undefined;
      if (!endpoint) {
        issues.add({
          code: 'EDGE_ENDPOINT_INVALID',
          pointer: `${pointer}/${side}`,
          expected: '"nodeId.port"',
          received: value,
          message: `Edge #${index}: "${side}" must be written "nodeId.port", got ${JSON.stringify(value)}`,
        });
        ok = false;
        continue;
      }
      resolvedEnds[side] = endpoint;
      ends.push([endpoint.nodeId, side]);
      if (!nodes.has(endpoint.nodeId)) {
        issues.add({
          code: 'UNKNOWN_NODE',
          nodeId: endpoint.nodeId,
          port: endpoint.port,
          pointer: `${pointer}/${side}`,
          expected: `one of ${[...nodes.keys()].join(', ') || '(no nodes)'}`,
          received: endpoint.nodeId,
          message: `Edge #${index}: no node "${endpoint.nodeId}"`,
        });
        ok = false;
        continue;
      }
      const spec = nodes.get(endpoint.nodeId)!.spec;
      if (!spec) {
        ok = false;
        continue;
      }
      const ports = side === 'from' ? spec.outputs : spec.inputs;
      if (!(endpoint.port in ports)) {
        const other = side === 'from' ? spec.inputs : spec.outputs;
        const hint =
          endpoint.port in other
            ? ` ("${endpoint.port}" is an ${side === 'from' ? 'input' : 'output'}, edges go from outputs to inputs)`
            : '';
        issues.add({
          code: 'UNKNOWN_PORT',
          nodeId: endpoint.nodeId,
          port: endpoint.port,
          pointer: `${pointer}/${side}`,
          expected: `${side === 'from' ? 'an output' : 'an input'} of ${spec.type}: ${Object.keys(ports).join(', ') || '(none)'}`,
          received: endpoint.port,
          message: `Node "${endpoint.nodeId}" (${spec.type}) has no ${side === 'from' ? 'output' : 'input'} port "${endpoint.port}"${hint}`,
        });
        ok = false;
      }
    }
    const from = resolvedEnds.from;
    const to = resolvedEnds.to;
    if (!ok || !from || !to) return;
    const fromType = nodes.get(from.nodeId)!.spec!.outputs[from.port]!.type;
    const toType = nodes.get(to.nodeId)!.spec!.inputs[to.port]!.type;
    if (!portsCompatible(fromType, toType)) {
      issues.add({
        code: 'PORT_TYPE_MISMATCH',
        nodeId: to.nodeId,
        port: to.port,
        pointer,
        expected: toType,
        received: fromType,
        message: `Node "${to.nodeId}": input "${to.port}" takes a ${toType}, but "${raw.from as string}" gives a ${fromType}`,
      });
      return;
    }
    const connected = inputs.get(to.nodeId) ?? {};
    if (connected[to.port]) {
      issues.add({
        code: 'INPUT_ALREADY_CONNECTED',
        nodeId: to.nodeId,
        port: to.port,
        pointer,
        expected: 'one edge per input',
        received: raw.from,
        message: `Node "${to.nodeId}": input "${to.port}" is already connected to "${connected[to.port]!.nodeId}.${connected[to.port]!.port}"`,
      });
      return;
    }
    connected[to.port] = from;
    inputs.set(to.nodeId, connected);
    goodEdges.push({ from: raw.from as string, to: raw.to as string });
  });

  // Required inputs.
  for (const [id, node] of nodes) {
    if (!node.spec) continue;
    for (const [portName, portSpec] of Object.entries(node.spec.inputs)) {
      if (!portSpec.optional && !inputs.get(id)?.[portName]) {
        issues.add({
          code: 'MISSING_INPUT',
          nodeId: id,
          port: portName,
          pointer: `/nodes/${node.index}`,
          expected: `a ${portSpec.type} connected to "${id}.${portName}"`,
          received: null,
          message: `Node "${id}": required input "${portName}" (${portSpec.type}) is not connected`,
        });
      }
    }
  }

  // Cycles.
  const ids = [...nodes.keys()];
  const { order, cyclic } = topologicalOrder(ids, goodEdges);
  if (cyclic.length > 0) {
    const cycle = findCycle(cyclic, goodEdges) ?? cyclic;
    issues.add({
      code: 'CYCLE',
      nodeId: cycle[0],
      pointer: '/edges',
      expected: 'an acyclic graph',
      received: cycle,
      message: `The pipeline has a cycle: ${cycle.join(' → ')}`,
    });
  }

  if (issues.items.length > 0) return { issues: issues.items };
  const pipelineDoc = doc as unknown as PipelineDoc;
  return {
    issues: [],
    pipeline: {
      doc: pipelineDoc,
      nodes: order.map((id) => {
        const node = nodes.get(id)!;
        return {
          id,
          type: node.spec!.type,
          spec: node.spec!,
          params: node.params,
          explicitParams: structuredClone(node.explicit),
          inputs: inputs.get(id) ?? {},
        };
      }),
    },
  };
}
