/**
 * What every check of a `sweep` block shares (validate-sweep.ts): the issue list with its message
 * helpers, the document's nodes and edges as the checks read them, and the lookup of a
 * `node.param` key.
 */
import type { ValidationIssue } from '../../../preload/contract';
import type { NodeCatalog } from '../../nodes/catalog';
import type { NodeParams, NodeSpec, ParamSpec } from '../../nodes/define';
import { parseEndpoint } from '../graph';
import { checkParam, resolveParams } from '../params';

/** A JSON object as parsed, its fields not yet checked. */
export type Json = Record<string, unknown>;

/** A node of the document, its params resolved (defaults applied) only when a check needs them. */
export class NodeEntry {
  private resolved?: NodeParams;

  constructor(
    private readonly id: string,
    private readonly index: number,
    private readonly given: Json,
    readonly spec: NodeSpec | undefined,
  ) {}

  get params(): NodeParams {
    this.resolved ??= this.spec
      ? resolveParams(this.id, this.spec, this.given, `/nodes/${this.index}/params`).params
      : (this.given as NodeParams);
    return this.resolved;
  }
}

/** A `node.param` key that names a param of a known node type. */
export interface ParamTarget {
  key: string;
  nodeId: string;
  param: string;
  spec: ParamSpec;
  node: NodeSpec;
  /** The value the pipeline gives it (its default when unset). */
  value: unknown;
}

/** Whether `value` is a JSON object (not null, not an array). */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value` is an integer number. */
export function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

/** Whether `value` is a finite number. */
export function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A value quoted for a message, cut short: a sweep block may hold long lists. */
export function quote(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    // JSON.stringify answers undefined for functions and symbols, which a parsed file cannot hold.
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Names for a message, the first ten of them: a pipeline may have thousands of nodes. */
export function list(names: Iterable<string>): string {
  const all = [...names];
  if (all.length === 0) return '(none)';
  return all.length > 10 ? `${all.slice(0, 10).join(', ')} and ${all.length - 10} more` : all.join(', ');
}

/** One segment of a JSON pointer (RFC 6901). */
export function segment(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Every issue found in a sweep block, in the order the checks find them. */
export class SweepIssues {
  readonly items: ValidationIssue[] = [];

  add(
    code: string,
    pointer: string,
    message: string,
    fields: { expected?: string; received?: unknown; nodeId?: string; param?: string } = {},
  ): void {
    this.items.push({ code, message, pointer, ...fields });
  }

  unknownFields(value: Json, allowed: readonly string[], pointer: string, where: string): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.add('UNKNOWN_FIELD', `${pointer}/${segment(key)}`, `${where}: unknown field "${key}"`, {
          expected: `one of ${allowed.join(', ')}`,
          received: key,
        });
      }
    }
  }
}

/** The document's nodes by id (the first of a duplicated id), ignoring their problems. */
function nodeTable(doc: unknown, catalog: NodeCatalog): Map<string, NodeEntry> {
  const table = new Map<string, NodeEntry>();
  const raw = isObject(doc) && Array.isArray(doc.nodes) ? (doc.nodes as unknown[]) : [];
  raw.forEach((node, index) => {
    if (!isObject(node) || typeof node.id !== 'string' || table.has(node.id)) return;
    const spec = typeof node.type === 'string' ? catalog.get(node.type) : undefined;
    table.set(node.id, new NodeEntry(node.id, index, isObject(node.params) ? node.params : {}, spec));
  });
  return table;
}

/** Input port → source node id, per node, from the document's well-formed edges. */
function incoming(doc: unknown): Map<string, Map<string, string>> {
  const result = new Map<string, Map<string, string>>();
  const raw = isObject(doc) && Array.isArray(doc.edges) ? (doc.edges as unknown[]) : [];
  for (const edge of raw) {
    if (!isObject(edge) || typeof edge.from !== 'string' || typeof edge.to !== 'string') continue;
    const from = parseEndpoint(edge.from);
    const to = parseEndpoint(edge.to);
    if (!from || !to) continue;
    const ports = result.get(to.nodeId) ?? new Map<string, string>();
    if (!ports.has(to.port)) ports.set(to.port, from.nodeId);
    result.set(to.nodeId, ports);
  }
  return result;
}

/** What the checks of one sweep block share: its issues, the document's nodes and edges, the param lookup. */
export interface SweepContext {
  issues: SweepIssues;
  nodes: Map<string, NodeEntry>;
  /** Input port → source node id, per node. */
  edges: Map<string, Map<string, string>>;
  /** Resolves a `node.param` key, reporting with `code` at `pointer` when it names nothing. */
  lookup: (key: unknown, pointer: string, code: string, where: string) => ParamTarget | undefined;
  /** Problems with `value` as a value of `target`'s param, as checkParam words them. */
  paramProblem: (target: ParamTarget, value: unknown) => string | undefined;
}

/** The context the checks of a sweep block on pipeline `doc` share, reporting into `issues`. */
export function sweepContext(doc: unknown, catalog: NodeCatalog, issues: SweepIssues): SweepContext {
  const nodes = nodeTable(doc, catalog);
  const edges = incoming(doc);

  /** Resolves a `node.param` key, reporting with `code` at `pointer` when it names nothing. */
  const lookup = (key: unknown, pointer: string, code: string, where: string): ParamTarget | undefined => {
    const endpoint = typeof key === 'string' ? parseEndpoint(key) : undefined;
    if (typeof key !== 'string' || !endpoint) {
      issues.add(code, pointer, `${where}: ${quote(key)} must name a param as "node.param"`, {
        expected: '"node.param", e.g. "fit.learningRate"',
        received: key,
      });
      return undefined;
    }
    const node = nodes.get(endpoint.nodeId);
    if (!node) {
      issues.add(code, pointer, `${where}: the pipeline has no node "${endpoint.nodeId}"`, {
        expected: `a node of the pipeline: ${list(nodes.keys())}`,
        received: key,
        nodeId: endpoint.nodeId,
      });
      return undefined;
    }
    // A node of an unknown type is the pipeline validator's to report.
    if (!node.spec) return undefined;
    const spec = node.spec.params[endpoint.port];
    if (!spec) {
      issues.add(
        code,
        pointer,
        `${where}: node "${endpoint.nodeId}" (${node.spec.type}) has no param "${endpoint.port}"`,
        {
          expected: `a param of ${node.spec.type}: ${list(Object.keys(node.spec.params))}`,
          received: key,
          nodeId: endpoint.nodeId,
          param: endpoint.port,
        },
      );
      return undefined;
    }
    return {
      key,
      nodeId: endpoint.nodeId,
      param: endpoint.port,
      spec,
      node: node.spec,
      value: node.params[endpoint.port],
    };
  };

  /** Problems with `value` as a value of `target`'s param, as checkParam words them. */
  const paramProblem = (target: ParamTarget, value: unknown): string | undefined =>
    checkParam(target.nodeId, target.param, target.spec, value, '')[0]?.expected;

  return { issues, nodes, edges, lookup, paramProblem };
}
