/**
 * Pure graph helpers for the editor: connection checks with a reason the canvas can show while the
 * user drags, fresh node ids, and copy/paste of a selection with the links among it.
 */
import type {
  NodeSpecInfo,
  PipelineDoc,
  PipelineEdge,
  PipelineNode,
  PortType,
} from '../../../preload/contract';
import {
  formatEndpoint,
  NODE_ID_MAX_LENGTH,
  parseEndpoint,
  portsCompatible,
} from '../../../preload/graph-rules';
import { applyChange, type PipelineChange } from './changes';

export type SpecLookup = (type: string) => NodeSpecInfo | undefined;

export interface ConnectionRequest {
  source: string;
  sourceHandle?: string | null;
  target: string;
  targetHandle?: string | null;
}

export type ConnectionCheck =
  { ok: true; edge: PipelineEdge; replaces: PipelineEdge[] } | { ok: false; reason: string };

const PORT_NOUN: Record<PortType, string> = {
  dataset: 'a dataset',
  model: 'a classifier model',
  'diffusion-model': 'a diffusion model',
};

function title(doc: PipelineDoc, specs: SpecLookup, id: string): string {
  const node = doc.nodes.find((candidate) => candidate.id === id);
  const spec = node ? specs(node.type) : undefined;
  return spec ? `${spec.title} (${id})` : id;
}

/** True when `to` can already reach `from`, so an edge from → to would close a cycle. */
export function reaches(doc: PipelineDoc, from: string, to: string): boolean {
  const next = new Map<string, string[]>();
  for (const edge of doc.edges) {
    const a = parseEndpoint(edge.from)?.nodeId;
    const b = parseEndpoint(edge.to)?.nodeId;
    // A malformed edge links nothing in the engine, so it cannot close a cycle either.
    if (a === undefined || b === undefined) continue;
    next.set(a, [...(next.get(a) ?? []), b]);
  }
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (id === to) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(next.get(id) ?? []));
  }
  return false;
}

/**
 * Checks a connection the user is dragging. An input takes one link, so connecting into an input
 * that is already fed replaces the old link (as in ComfyUI) rather than being refused; an input that
 * takes many links (`multiple`, e.g. merge's `models`) gets one more, after those it has (the op
 * receives them in link order).
 */
export function checkConnection(
  doc: PipelineDoc,
  specs: SpecLookup,
  request: ConnectionRequest,
): ConnectionCheck {
  const sourceNode = doc.nodes.find((node) => node.id === request.source);
  const targetNode = doc.nodes.find((node) => node.id === request.target);
  if (!sourceNode || !targetNode) return { ok: false, reason: 'Unknown node' };
  if (sourceNode.id === targetNode.id) return { ok: false, reason: 'A node cannot feed itself' };
  const sourceSpec = specs(sourceNode.type);
  const targetSpec = specs(targetNode.type);
  if (!sourceSpec || !targetSpec)
    return { ok: false, reason: `Unknown node type "${!sourceSpec ? sourceNode.type : targetNode.type}"` };
  const outPort = request.sourceHandle ?? '';
  const inPort = request.targetHandle ?? '';
  const out = sourceSpec.outputs[outPort];
  const input = targetSpec.inputs[inPort];
  if (!out) return { ok: false, reason: `${sourceSpec.title} has no output "${outPort}"` };
  if (!input) return { ok: false, reason: `${targetSpec.title} has no input "${inPort}"` };
  if (!portsCompatible(out.type, input.type)) {
    return {
      ok: false,
      reason: `${title(doc, specs, targetNode.id)}.${inPort} expects ${PORT_NOUN[input.type]} (${input.type}), but ${title(doc, specs, sourceNode.id)}.${outPort} gives ${PORT_NOUN[out.type]} (${out.type})`,
    };
  }
  if (reaches(doc, targetNode.id, sourceNode.id))
    return { ok: false, reason: 'That link would create a cycle' };
  const edge = {
    from: formatEndpoint({ nodeId: sourceNode.id, port: outPort }),
    to: formatEndpoint({ nodeId: targetNode.id, port: inPort }),
  };
  if (doc.edges.some((existing) => existing.from === edge.from && existing.to === edge.to))
    return { ok: false, reason: 'Already connected' };
  const replaces = input.multiple ? [] : doc.edges.filter((existing) => existing.to === edge.to);
  return { ok: true, edge, replaces };
}

/** One end of a link the user is dragging: the node and port it starts from, and its side. */
export interface LinkStart {
  nodeId: string;
  port: string;
  /** `source`: dragged out of an output; `target`: dragged out of an input. */
  side: 'source' | 'target';
  portType: PortType;
}

/**
 * The port of a node type that can take the other end of a link dragged from `from`: its first
 * compatible input (from an output) or output (from an input), in declaration order.
 */
export function portFor(spec: NodeSpecInfo, from: Pick<LinkStart, 'side' | 'portType'>): string | undefined {
  if (from.side === 'source')
    return Object.entries(spec.inputs).find(([, port]) => portsCompatible(from.portType, port.type))?.[0];
  return Object.entries(spec.outputs).find(([, port]) => portsCompatible(port.type, from.portType))?.[0];
}

/** Node types that can take the other end of a link dragged from `from`. */
export function specsAccepting(
  specs: readonly NodeSpecInfo[],
  from: Pick<LinkStart, 'side' | 'portType'>,
): NodeSpecInfo[] {
  return specs.filter((spec) => portFor(spec, from) !== undefined);
}

/**
 * Adds `node` and links it to the start of a dragged link, as one undo step. Null when the node's
 * type has no port that fits, or the link would be refused (checkConnection says why).
 */
export function addConnectedChange(
  doc: PipelineDoc,
  specs: SpecLookup,
  node: PipelineNode,
  from: LinkStart,
): PipelineChange | null {
  const spec = specs(node.type);
  const port = spec ? portFor(spec, from) : undefined;
  if (!port) return null;
  const add: PipelineChange = { type: 'addNode', node };
  const request: ConnectionRequest =
    from.side === 'source'
      ? { source: from.nodeId, sourceHandle: from.port, target: node.id, targetHandle: port }
      : { source: node.id, sourceHandle: port, target: from.nodeId, targetHandle: from.port };
  const check = checkConnection(applyChange(doc, add).doc, specs, request);
  if (!check.ok) return null;
  return { type: 'batch', changes: [add, connectChange(check)] };
}

/** The change that makes a checked connection: the new link replacing any link into the same input. */
export function connectChange(check: Extract<ConnectionCheck, { ok: true }>): PipelineChange {
  if (check.replaces.length === 0) return { type: 'connect', edge: check.edge };
  return {
    type: 'batch',
    changes: [
      { type: 'disconnect', edges: check.replaces },
      { type: 'connect', edge: check.edge },
    ],
  };
}

/**
 * Turns any text into a valid node id (preload/graph-rules.ts): other characters become "-", a
 * leading digit gets an "n" in front (`2nd-fit` → `n2nd-fit`), and the result is cut to the
 * longest id allowed. Empty text gives `node`.
 */
export function nodeIdStem(text: string): string {
  let stem = text.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  if (/^[0-9]/.test(stem)) stem = `n${stem}`;
  stem = stem.slice(0, NODE_ID_MAX_LENGTH).replace(/-+$/, '');
  return stem || 'node';
}

/** `dataset.mnist` → `mnist`, `train` → `train`: a readable stem for node ids. */
export function idStem(type: string): string {
  return nodeIdStem(type.split('.').pop() ?? type);
}

/**
 * A node id not yet used in `taken`: the stem itself, then stem-2, stem-3, … The stem is made valid
 * first and cut short where needed so that `stem-N` still fits the id length limit.
 */
export function uniqueId(stem: string, taken: ReadonlySet<string>): string {
  const base = nodeIdStem(stem);
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    // The stem starts with a letter or "_", so cutting it never leaves it empty.
    const head = base.slice(0, NODE_ID_MAX_LENGTH - suffix.length).replace(/-+$/, '');
    const id = `${head}${suffix}`;
    if (!taken.has(id)) return id;
  }
}

export function newNodeId(doc: PipelineDoc, type: string): string {
  return uniqueId(idStem(type), new Set(doc.nodes.map((node) => node.id)));
}

/** What the editor's clipboard holds: nodes and the links among them. */
export interface Clip {
  kind: 'distillery/nodes';
  nodes: PipelineNode[];
  edges: PipelineEdge[];
}

export function isClip(value: unknown): value is Clip {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Clip).kind === 'distillery/nodes' &&
    Array.isArray((value as Clip).nodes) &&
    Array.isArray((value as Clip).edges)
  );
}

/** Copies the selected nodes and only the links whose both ends are selected. */
export function copySelection(doc: PipelineDoc, ids: Iterable<string>): Clip {
  const selected = new Set(ids);
  return {
    kind: 'distillery/nodes',
    nodes: structuredClone(doc.nodes.filter((node) => selected.has(node.id))),
    edges: doc.edges
      .filter((edge) => {
        const from = parseEndpoint(edge.from);
        const to = parseEndpoint(edge.to);
        return from !== undefined && to !== undefined && selected.has(from.nodeId) && selected.has(to.nodeId);
      })
      .map((edge) => ({ ...edge })),
  };
}

/**
 * Turns a clip into a `paste` change against `doc`: every node gets a fresh id (links follow) and
 * is shifted by `offset`, so a paste lands beside the original.
 */
export function pasteChange(
  doc: PipelineDoc,
  clip: Clip,
  offset: { x: number; y: number },
): Extract<PipelineChange, { type: 'paste' }> {
  const taken = new Set(doc.nodes.map((node) => node.id));
  const rename = new Map<string, string>();
  const nodes = clip.nodes.map((node, index) => {
    const id = uniqueId(node.id.replace(/-\d+$/, '') || idStem(node.type), taken);
    taken.add(id);
    rename.set(node.id, id);
    const ui = node.ui ?? { x: index * 40, y: index * 40 };
    return { ...structuredClone(node), id, ui: { x: ui.x + offset.x, y: ui.y + offset.y } };
  });
  // Only links among the pasted nodes come along; a clip's malformed endpoint names no node, so its
  // edge is dropped rather than pasted broken.
  const edges: PipelineEdge[] = [];
  for (const edge of clip.edges) {
    const from = parseEndpoint(edge.from);
    const to = parseEndpoint(edge.to);
    const fromId = from ? rename.get(from.nodeId) : undefined;
    const toId = to ? rename.get(to.nodeId) : undefined;
    if (!from || !to || fromId === undefined || toId === undefined) continue;
    edges.push({
      from: formatEndpoint({ nodeId: fromId, port: from.port }),
      to: formatEndpoint({ nodeId: toId, port: to.port }),
    });
  }
  return { type: 'paste', nodes, edges };
}

/**
 * The links into each many-link input, numbered in document order from 1: the order in which the
 * node's op receives them. Keyed by the edge's `to` endpoint, then its `from`.
 */
export function linkOrder(doc: PipelineDoc, specs: SpecLookup): Map<string, Map<string, number>> {
  const types = new Map(doc.nodes.map((node) => [node.id, node.type]));
  const order = new Map<string, Map<string, number>>();
  for (const edge of doc.edges) {
    const to = parseEndpoint(edge.to);
    const type = to ? types.get(to.nodeId) : undefined;
    if (!to || type === undefined || !specs(type)?.inputs[to.port]?.multiple) continue;
    const links = order.get(edge.to) ?? new Map<string, number>();
    if (!links.has(edge.from)) links.set(edge.from, links.size + 1);
    order.set(edge.to, links);
  }
  return order;
}

/** Effective value of a param: the document's override, else the spec's default. */
export function paramValue(node: PipelineNode, spec: NodeSpecInfo | undefined, param: string): unknown {
  if (Object.prototype.hasOwnProperty.call(node.params, param)) return node.params[param];
  return spec?.params[param]?.default;
}
