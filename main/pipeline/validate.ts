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
import type { Endpoint } from './graph';
import { applyBypass } from './bypass';
import { validateExecutorBlock } from './executor-block';
import { countIssues, PIPELINE_LIMITS, scanDocument, type PipelineLimits } from './limits';
import {
  MODEL_NAME_MAX_LENGTH,
  PIPELINE_NAME_EXPECTED,
  PIPELINE_NAME_MAX_LENGTH,
  PIPELINE_NAME_PATTERN,
} from './names';
import { copyParams } from './params';
import { preview } from './preview';
import { validateSweep } from './sweep/validate-sweep';
import { checkRequiredInputs, validateEdges } from './validate-edges';
import { field, isObject, IssueList, kindOf, schemaIssue, withNodeId } from './validate-issues';
import { checkModelNames, validateNodes } from './validate-nodes';
import { orderNodes } from './validate-order';

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
  const { nodes, entries } = validateNodes(rawNodes, catalog, issues);
  // Model names: every node that makes a model registers it as "<pipeline name>/<node id>".
  if (pipelineName !== undefined) checkModelNames(pipelineName, entries, issues);
  // Edges: shape, endpoints, ports, types, one edge per input.
  const pairs = validateEdges(rawEdges, nodes, entries, issues);
  checkRequiredInputs(entries, issues);
  // Cycles.
  const order = orderNodes(entries, pairs, issues);

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
