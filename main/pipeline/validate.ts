/**
 * Validation of a pipeline document: its shape, its nodes and params, its graph, and every name a
 * run of it will register. Returns every issue found, never only the first, each naming the node,
 * port or param and a JSON pointer. A document it accepts plans and runs without meeting a limit
 * that a later stage enforces.
 *
 * The cost is linear in the document, and the document is bounded (limits.ts): every lookup is by
 * Map or own property, every message quotes a bounded preview and lists a bounded number of
 * candidates, and past `limits.issues` issues are only counted.
 */
import type { PipelineDoc, ValidationIssue } from '../../preload/contract';
import type { NodeCatalog } from '../nodes/catalog';
import type { NodeParams, NodeSpec } from '../nodes/define';
import {
  describeNodeIdRule,
  findCycleNumbered,
  isNodeId,
  orderNumbered,
  parseEndpoint,
  portsCompatible,
  type Endpoint,
} from './graph';
import { applyBypass } from './bypass';
import { validateExecutorBlock } from './executor-block';
import { countIssues, PIPELINE_LIMITS, scanDocument, type PipelineLimits } from './limits';
import {
  isModelName,
  MODEL_NAME_EXPECTED,
  MODEL_NAME_MAX_LENGTH,
  modelNameFor,
  PIPELINE_NAME_EXPECTED,
  PIPELINE_NAME_MAX_LENGTH,
  PIPELINE_NAME_PATTERN,
} from './names';
import { copyParams, resolveParams } from './params';
import { LISTED_ITEMS, pointerSegment, preview } from './preview';
import { validateSweep } from './sweep/validate-sweep';

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
  /**
   * Ports that take many links (PortSpecInfo.multiple) → the upstream outputs linked to them, in
   * the order of the document's edges; a port without links is absent.
   */
  inputLists: Record<string, Endpoint[]>;
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

const TOP_FIELDS = ['format', 'name', 'seed', 'description', 'nodes', 'edges', 'sweep', 'executor'];
const NODE_FIELDS = ['id', 'type', 'params', 'ui', 'bypass'];
const EDGE_FIELDS = ['from', 'to'];
const UI_FIELDS = ['x', 'y'];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A field of a document object, read only when the object has it as its own property: every
 * object inherits `constructor` and `toString`, and neither is a field of a pipeline.
 */
function field(object: Json, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${preview(value)}`;
}

/** Whether a node registers what it makes: a run names each such model after the node. */
function registersModels(spec: NodeSpec): boolean {
  return Object.values(spec.outputs).some((port) => port.type === 'model' || port.type === 'diffusion-model');
}

/** A closed path a → b → … → a, with at most {@link LISTED_ITEMS} of its nodes written out. */
function describeCycle(cycle: readonly string[]): string {
  const nodes = cycle.length - 1;
  if (nodes <= LISTED_ITEMS) return cycle.join(' → ');
  return `${cycle.slice(0, LISTED_ITEMS).join(' → ')} → … (${nodes - LISTED_ITEMS - 1} more) → ${cycle[nodes - 1]!} → ${cycle[0]!}`;
}

/** Codes that complain about a value's type: said already when the value is a non-finite number. */
const VALUE_TYPE_CODES = new Set(['PIPELINE_SCHEMA', 'PARAM_TYPE']);

/** An issue, or what builds it: built only while the list has room. */
type IssueSource = ValidationIssue | (() => ValidationIssue);

function schemaIssue(
  pointer: string,
  expected: string,
  received: unknown,
  message: string,
  extra: Partial<ValidationIssue> = {},
): ValidationIssue {
  return { code: 'PIPELINE_SCHEMA', pointer, expected, received, message, ...extra };
}

class IssueList {
  private readonly items: ValidationIssue[] = [];
  private omitted = 0;
  /** Set when checks were skipped because the list was full: the count is then a lower bound. */
  partial = false;
  /** Pointers of the non-finite numbers reported, so that no second issue repeats one. */
  private readonly nonFinite = new Set<string>();

  constructor(
    private readonly file: string | undefined,
    private readonly max: number,
  ) {}

  /** Issues found, listed or not. */
  get size(): number {
    return this.items.length + this.omitted;
  }

  /** Whether the list is full: from then on issues are counted, never built. */
  get full(): boolean {
    return this.items.length >= this.max;
  }

  add(source: IssueSource): void {
    if (this.full) {
      this.omitted++;
      return;
    }
    const item = typeof source === 'function' ? source() : source;
    if (item.pointer !== undefined) {
      if (item.code === 'NUMBER_NOT_FINITE') this.nonFinite.add(item.pointer);
      else if (VALUE_TYPE_CODES.has(item.code) && this.nonFinite.has(item.pointer)) return;
    }
    this.items.push(this.file ? { ...item, file: this.file } : item);
  }

  /** Counts issues found but not built (the document scan stops building them past the cap). */
  skip(count: number): void {
    this.omitted += count;
  }

  /** The listed issues, and one last issue counting the others when there were too many. */
  list(): ValidationIssue[] {
    if (this.omitted === 0) return this.items;
    const summary: ValidationIssue = {
      code: 'ISSUES_TRUNCATED',
      expected: `at most ${this.max} issues listed`,
      received: this.size,
      message: `Only the first ${this.max} issues are listed; ${this.omitted} more ${this.omitted === 1 ? 'was' : 'were'} found${this.partial ? ', and the params of the nodes after that were not checked' : ''}`,
    };
    return [...this.items, this.file ? { ...summary, file: this.file } : summary];
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
        this.add(() => ({
          code: 'UNKNOWN_FIELD',
          pointer: `${pointer}/${pointerSegment(key)}`,
          expected: `one of ${allowed.join(', ')}`,
          received: key,
          message: `${where}: unknown field ${preview(key)}`,
          ...extra,
        }));
      }
    }
  }
}

const NODE_POINTER = /^\/nodes\/(\d+)(?:\/|$)/;

/** Adds the node id to an issue of the document scan that points into a node with a valid id. */
function withNodeId(issue: ValidationIssue, doc: unknown): ValidationIssue {
  const match = issue.pointer === undefined ? null : NODE_POINTER.exec(issue.pointer);
  if (!match || !isObject(doc)) return issue;
  const nodes = field(doc, 'nodes');
  const node = Array.isArray(nodes) ? (nodes[Number(match[1])] as unknown) : undefined;
  const id = isObject(node) ? field(node, 'id') : undefined;
  return isNodeId(id) ? { ...issue, nodeId: id } : issue;
}

interface NodeEntry {
  id: string;
  /** Its place in the document's `nodes`. */
  index: number;
  /** Its number in the graph: 0 … n − 1, in document order of the nodes kept. */
  number: number;
  spec?: NodeSpec;
  params: NodeParams;
  explicit: Record<string, unknown>;
  /** `"bypass": true`: validated like any node, not run (bypass.ts). */
  bypass: boolean;
  /** Input port → the upstream output connected to it. */
  inputs: Record<string, Endpoint>;
  /** Many-link port → the upstream outputs linked to it, in edge order. */
  inputLists: Record<string, Endpoint[]>;
}

/**
 * Validates a parsed document against the catalog. `file` is added to every issue. `limits`
 * defaults to {@link PIPELINE_LIMITS}.
 */
export function validatePipeline(
  doc: unknown,
  catalog: NodeCatalog,
  file?: string,
  limits: PipelineLimits = PIPELINE_LIMITS,
): ValidationResult {
  const issues = new IssueList(file, limits.issues);
  // Counts first: they cost nothing and bound everything below.
  if (isObject(doc)) {
    const counted = countIssues(doc, limits);
    for (const item of counted) issues.add(item);
    if (counted.length > 0) return { issues: issues.list() };
  }
  const scan = scanDocument(doc, limits);
  for (const item of scan.issues) issues.add(withNodeId(item, doc));
  issues.skip(scan.omitted);
  if (scan.fatal) return { issues: issues.list() };

  if (!isObject(doc)) {
    issues.add(() =>
      schemaIssue('', 'a JSON object', kindOf(doc), `A pipeline must be a JSON object, got ${kindOf(doc)}`),
    );
    return { issues: issues.list() };
  }
  const format = field(doc, 'format');
  if (format !== PIPELINE_FORMAT) {
    issues.add(() => ({
      code: 'PIPELINE_FORMAT_UNSUPPORTED',
      pointer: '/format',
      expected: `format ${PIPELINE_FORMAT}`,
      received: format,
      message:
        typeof format === 'number' && format > PIPELINE_FORMAT
          ? `This pipeline was written by a newer Distillery (format ${format}); this version reads format ${PIPELINE_FORMAT}`
          : `"format" must be ${PIPELINE_FORMAT}, got ${preview(format)}`,
    }));
    return { issues: issues.list() };
  }
  issues.unknownFields(doc, TOP_FIELDS, '', 'Pipeline');
  const name = field(doc, 'name');
  /** The name when it is valid: the first half of every model name a run registers. */
  let pipelineName: string | undefined;
  if (typeof name !== 'string' || name.trim() === '') {
    issues.add(() => schemaIssue('/name', 'a non-empty string', name, '"name" must be a non-empty string'));
  } else if (name.length > PIPELINE_NAME_MAX_LENGTH) {
    issues.add(() =>
      schemaIssue(
        '/name',
        PIPELINE_NAME_EXPECTED,
        name,
        `"name" may be at most ${PIPELINE_NAME_MAX_LENGTH} characters (a run registers its models as "<name>/<node id>", at most ${MODEL_NAME_MAX_LENGTH} characters), got ${name.length}`,
      ),
    );
  } else if (!PIPELINE_NAME_PATTERN.test(name)) {
    issues.add(() =>
      schemaIssue(
        '/name',
        PIPELINE_NAME_EXPECTED,
        name,
        `"name" may hold only letters, digits, "_", "." and "-", starting with a letter or digit, got ${preview(name)}`,
      ),
    );
  } else {
    pipelineName = name;
  }
  const seed = field(doc, 'seed');
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    issues.add(() =>
      schemaIssue(
        '/seed',
        'an integer from 0 to 4294967295',
        seed,
        `"seed" must be an integer from 0 to 4294967295, got ${preview(seed)}`,
      ),
    );
  }
  const description = field(doc, 'description');
  if (description !== undefined && typeof description !== 'string') {
    issues.add(() => schemaIssue('/description', 'a string', description, '"description" must be a string'));
  }
  const nodesValue = field(doc, 'nodes');
  const edgesValue = field(doc, 'edges');
  const rawNodes: unknown[] = Array.isArray(nodesValue) ? nodesValue : [];
  const rawEdges: unknown[] = Array.isArray(edgesValue) ? edgesValue : [];
  if (!Array.isArray(nodesValue))
    issues.add(() =>
      schemaIssue('/nodes', 'an array of nodes', kindOf(nodesValue), '"nodes" must be an array'),
    );
  if (!Array.isArray(edgesValue))
    issues.add(() =>
      schemaIssue('/edges', 'an array of edges', kindOf(edgesValue), '"edges" must be an array'),
    );

  // Nodes: shape, ids, types, params.
  const nodes = new Map<string, NodeEntry>();
  const entries: NodeEntry[] = [];
  const addNode = (
    id: string,
    index: number,
    spec: NodeSpec | undefined,
    params: NodeParams,
    explicit: Record<string, unknown>,
    bypass: boolean,
  ): void => {
    const entry: NodeEntry = {
      id,
      index,
      number: entries.length,
      spec,
      params,
      explicit,
      bypass,
      inputs: {},
      inputLists: {},
    };
    entries.push(entry);
    nodes.set(id, entry);
  };
  let typeList: string | undefined;
  for (let index = 0; index < rawNodes.length; index++) {
    const raw = rawNodes[index];
    const pointer = `/nodes/${index}`;
    if (!isObject(raw)) {
      issues.add(() =>
        schemaIssue(
          pointer,
          'a node object',
          kindOf(raw),
          `Node #${index} must be an object, got ${kindOf(raw)}`,
        ),
      );
      continue;
    }
    const id = field(raw, 'id');
    if (!isNodeId(id)) {
      issues.add(() =>
        schemaIssue(
          `${pointer}/id`,
          `an id of ${describeNodeIdRule}`,
          id,
          `Node #${index}: "id" must be ${describeNodeIdRule}, got ${preview(id)}`,
        ),
      );
      continue;
    }
    const at = { nodeId: id };
    issues.unknownFields(raw, NODE_FIELDS, pointer, `Node "${id}"`, at);
    if (nodes.has(id)) {
      issues.add(() => ({
        code: 'DUPLICATE_NODE_ID',
        nodeId: id,
        pointer: `${pointer}/id`,
        expected: 'a unique node id',
        received: id,
        message: `Node id "${id}" is used more than once`,
      }));
      continue;
    }
    const ui = field(raw, 'ui');
    if (
      ui !== undefined &&
      !(
        isObject(ui) &&
        typeof field(ui, 'x') === 'number' &&
        typeof field(ui, 'y') === 'number' &&
        Object.keys(ui).every((key) => UI_FIELDS.includes(key))
      )
    ) {
      issues.add(() =>
        schemaIssue(
          `${pointer}/ui`,
          '{"x": number, "y": number}',
          ui,
          `Node "${id}": "ui" must be {"x": number, "y": number}`,
          at,
        ),
      );
    }
    const bypassValue = field(raw, 'bypass');
    if (bypassValue !== undefined && typeof bypassValue !== 'boolean') {
      issues.add(() =>
        schemaIssue(
          `${pointer}/bypass`,
          'true or false',
          bypassValue,
          `Node "${id}": "bypass" must be true or false, got ${preview(bypassValue)}`,
          at,
        ),
      );
    }
    const bypass = bypassValue === true;
    const given = field(raw, 'params');
    const params = given === undefined ? {} : given;
    if (!isObject(params)) {
      issues.add(() =>
        schemaIssue(
          `${pointer}/params`,
          'an object',
          kindOf(params),
          `Node "${id}": "params" must be an object`,
          at,
        ),
      );
    }
    const paramObject = isObject(params) ? params : {};
    const type = field(raw, 'type');
    if (typeof type !== 'string') {
      issues.add(() =>
        schemaIssue(`${pointer}/type`, 'a node type id', type, `Node "${id}": "type" must be a string`, at),
      );
      addNode(id, index, undefined, {}, paramObject, bypass);
      continue;
    }
    const spec = catalog.get(type);
    if (!spec) {
      issues.add(() => ({
        code: 'UNKNOWN_NODE_TYPE',
        nodeId: id,
        pointer: `${pointer}/type`,
        expected: `one of ${(typeList ??= catalog.types.join(', '))}`,
        received: type,
        message: `Node "${id}": unknown node type ${preview(type)}`,
      }));
      addNode(id, index, undefined, {}, paramObject, bypass);
      continue;
    }
    if (issues.full) {
      // Nothing more will be listed and the document is refused already: the remaining nodes'
      // params are left unchecked rather than checked only to be counted.
      issues.partial = true;
      addNode(id, index, spec, {}, paramObject, bypass);
      continue;
    }
    const resolved = resolveParams(id, spec, paramObject, `${pointer}/params`);
    for (const item of resolved.issues) issues.add(item);
    addNode(id, index, spec, resolved.params, paramObject, bypass);
  }

  // Model names: every node that makes a model registers it as "<pipeline name>/<node id>".
  if (pipelineName !== undefined) {
    for (const node of entries) {
      if (!node.spec || !registersModels(node.spec)) continue;
      const modelName = modelNameFor(pipelineName, node.id);
      if (isModelName(modelName)) continue;
      issues.add(() => ({
        code: 'MODEL_NAME_INVALID',
        nodeId: node.id,
        pointer: `/nodes/${node.index}/id`,
        expected: `a model name of ${MODEL_NAME_EXPECTED}`,
        received: modelName,
        message:
          modelName.length > MODEL_NAME_MAX_LENGTH
            ? `Node "${node.id}": its models would be registered as "${modelName}", ${modelName.length} characters, over the registry's limit of ${MODEL_NAME_MAX_LENGTH}: shorten the pipeline name or the node id`
            : `Node "${node.id}": its models would be registered as "${modelName}", which the registry refuses: use ${MODEL_NAME_EXPECTED}`,
      }));
    }
  }

  // Edges: shape, endpoints, ports, types, one edge per input.
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

  // Required inputs.
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

  // Cycles.
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

  // The search over the pipeline's params, when it has one (pipeline/sweep/validate-sweep.ts).
  const sweep = field(doc, 'sweep');
  if (sweep !== undefined) for (const item of validateSweep(sweep, doc, catalog)) issues.add(item);

  // Where the tasks run (executor-block.ts): its shape and resources; never part of a fingerprint.
  const executor = field(doc, 'executor');
  if (executor !== undefined)
    for (const item of validateExecutorBlock(executor, new Set(nodes.keys()))) issues.add(item);

  // A sweep's objective must come from a node that runs.
  const objective = isObject(sweep) ? field(sweep, 'objective') : undefined;
  const objectiveNode = isObject(objective) ? field(objective, 'node') : undefined;
  if (typeof objectiveNode === 'string' && nodes.get(objectiveNode)?.bypass) {
    issues.add(() => ({
      code: 'SWEEP_OBJECTIVE_BYPASSED',
      nodeId: objectiveNode,
      pointer: '/sweep/objective/node',
      expected: 'a node that runs',
      received: objectiveNode,
      message: `The sweep's objective reads node "${objectiveNode}", which is bypassed and reports nothing`,
    }));
  }

  if (issues.size > 0) return { issues: issues.list() };
  // Bypassed nodes drop out here, their outputs replaced by what they would pass on (bypass.ts).
  const bypassed = applyBypass(
    Array.from(order, (number) => ({ ...entries[number]!, spec: entries[number]!.spec! })),
  );
  if (bypassed.issues.length > 0) {
    for (const item of bypassed.issues) issues.add(item);
    return { issues: issues.list() };
  }
  return {
    issues: [],
    pipeline: {
      doc: doc as unknown as PipelineDoc,
      nodes: bypassed.running.map((node): ResolvedNode => ({
        id: node.id,
        type: node.spec.type,
        spec: node.spec,
        params: node.params,
        explicitParams: copyParams(node.explicit),
        inputs: node.inputs,
        inputLists: node.inputLists,
      })),
    },
  };
}
