/**
 * The nodes of a pipeline document: each one's shape, id, type and params, and the model names a
 * run of them will register.
 */
import type { NodeCatalog } from '../nodes/catalog';
import type { NodeParams, NodeSpec } from '../nodes/define';
import { describeNodeIdRule, isNodeId, type Endpoint } from './graph';
import { isModelName, MODEL_NAME_EXPECTED, MODEL_NAME_MAX_LENGTH, modelNameFor } from './names';
import { resolveParams } from './params';
import { preview } from './preview';
import { field, isObject, kindOf, schemaIssue, type IssueList } from './validate-issues';

const NODE_FIELDS = ['id', 'type', 'params', 'ui', 'bypass'];
const UI_FIELDS = ['x', 'y'];

/** A node of the document as validation keeps it: every node with a valid, unique id. */
export interface NodeEntry {
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

/** The nodes kept, by id and in document order. */
export interface NodeEntries {
  nodes: Map<string, NodeEntry>;
  entries: NodeEntry[];
}

/** Whether a node registers what it makes: a run names each such model after the node. */
function registersModels(spec: NodeSpec): boolean {
  return Object.values(spec.outputs).some((port) => port.type === 'model' || port.type === 'diffusion-model');
}

/** Checks each node of the document's `nodes` (shape, ids, types, params) and keeps the valid ones. */
export function validateNodes(rawNodes: unknown[], catalog: NodeCatalog, issues: IssueList): NodeEntries {
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
  return { nodes, entries };
}

/** Model names: every node that makes a model registers it as "<pipeline name>/<node id>". */
export function checkModelNames(
  pipelineName: string,
  entries: readonly NodeEntry[],
  issues: IssueList,
): void {
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
