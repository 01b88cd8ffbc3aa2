/**
 * Every edit of a pipeline document is one of these change objects, applied by one pure function.
 * Undo/redo, autosave, the dirty marker and live validation all hang off `applyChange`: it returns
 * the next document (the old one is never mutated) and the change that undoes it.
 */
import type {
  PipelineDoc,
  PipelineEdge,
  PipelineNode,
  SweepDomain,
  SweepSpec,
} from '../../../preload/contract';
import {
  describeNodeIdRule,
  formatEndpoint,
  NODE_ID_PATTERN,
  parseEndpoint,
} from '../../../preload/graph-rules';

export interface Position {
  x: number;
  y: number;
}

export type PipelineChange =
  /** Appends a node (or inserts it at `index`). */
  | { type: 'addNode'; node: PipelineNode; index?: number }
  /** Removes nodes and every edge touching them. */
  | { type: 'removeNodes'; ids: string[] }
  /** Puts nodes back where they were, with their edges; the inverse of `removeNodes`. */
  | {
      type: 'insertNodes';
      nodes: Array<{ node: PipelineNode; index: number }>;
      edges: Array<{ edge: PipelineEdge; index: number }>;
    }
  /** Sets (or, with `null`, clears) the canvas position of nodes. */
  | { type: 'moveNodes'; moves: Array<{ id: string; position: Position | null }> }
  /** Sets one parameter; `undefined` removes the override so the node's default applies. */
  | { type: 'updateParam'; nodeId: string; param: string; value: unknown }
  /** Bypasses nodes (they stay, but do not run) or runs them again: node id → bypassed. */
  | { type: 'setBypass'; bypass: Record<string, boolean> }
  /** Adds an edge (at `index` when given). */
  | { type: 'connect'; edge: PipelineEdge; index?: number }
  /** Removes edges. */
  | { type: 'disconnect'; edges: PipelineEdge[] }
  /** Renames a node id and every edge endpoint that names it. */
  | { type: 'renameNode'; from: string; to: string }
  /** Appends copied nodes with the edges among them (ids already made unique by the caller). */
  | { type: 'paste'; nodes: PipelineNode[]; edges: PipelineEdge[] }
  /** Document-level fields. */
  | { type: 'setMeta'; name?: string; description?: string | null; seed?: number }
  /** Sets the `sweep` block (the Sweep panel's edits); `null` removes it. */
  | { type: 'setSweep'; sweep: SweepSpec | null }
  /**
   * Adds a param to the sweep's space, or replaces its domain ("Sweep this param"); `init` is the
   * block created when the pipeline has none yet.
   */
  | { type: 'addSweepParam'; key: string; domain: SweepDomain; init?: SweepSpec }
  /** Takes a param out of the sweep's space. */
  | { type: 'removeSweepParam'; key: string }
  /** Replaces the whole document (new, open, new from sample). */
  | { type: 'replaceDoc'; doc: PipelineDoc }
  /** Several changes applied in order as one undo step. */
  | { type: 'batch'; changes: PipelineChange[] };

export type ChangeErrorCode =
  | 'NODE_NOT_FOUND'
  | 'NODE_ID_TAKEN'
  | 'EDGE_NOT_FOUND'
  | 'EDGE_EXISTS'
  | 'NODE_ID_INVALID'
  | 'EDGE_ENDPOINT_INVALID'
  | 'SWEEP_NOT_FOUND';

/** A change that cannot apply to this document (a programming error or a stale UI action). */
export class ChangeError extends Error {
  constructor(
    readonly code: ChangeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ChangeError';
  }
}

export interface AppliedChange {
  doc: PipelineDoc;
  inverse: PipelineChange;
}

export function edgeKey(edge: PipelineEdge): string {
  return `${edge.from}->${edge.to}`;
}

/** The node an endpoint names; undefined when it is not `"nodeId.port"` (the engine refuses it). */
function endpointNode(endpoint: string): string | undefined {
  return parseEndpoint(endpoint)?.nodeId;
}

// A malformed endpoint names no node, as in the engine, so removing a node leaves such an edge for
// validation to report instead of guessing which node it meant.
function touches(edge: PipelineEdge, ids: Set<string>): boolean {
  const from = endpointNode(edge.from);
  const to = endpointNode(edge.to);
  return (from !== undefined && ids.has(from)) || (to !== undefined && ids.has(to));
}

function requireNode(doc: PipelineDoc, id: string): number {
  const index = doc.nodes.findIndex((node) => node.id === id);
  if (index < 0) throw new ChangeError('NODE_NOT_FOUND', `No node "${id}" in the pipeline`);
  return index;
}

function requireNodeId(id: string): void {
  if (!NODE_ID_PATTERN.test(id))
    throw new ChangeError('NODE_ID_INVALID', `Node id "${id}" must be ${describeNodeIdRule}`);
}

function requireEndpoint(doc: PipelineDoc, endpoint: string): void {
  const nodeId = endpointNode(endpoint);
  if (nodeId === undefined)
    throw new ChangeError('EDGE_ENDPOINT_INVALID', `Endpoint "${endpoint}" must be written "nodeId.port"`);
  requireNode(doc, nodeId);
}

function insertAt<T>(items: readonly T[], item: T, index: number | undefined): T[] {
  const next = [...items];
  const at = index === undefined ? next.length : Math.max(0, Math.min(index, next.length));
  next.splice(at, 0, item);
  return next;
}

/** The document with `sweep` set, or without the key for `null`. */
function withSweep(doc: PipelineDoc, sweep: SweepSpec | null | undefined): PipelineDoc {
  const next = { ...doc };
  if (sweep) next.sweep = sweep;
  else delete next.sweep;
  return next;
}

/** A sweep block with the node `from` renamed to `to` in every key and field that names it. */
function renameInSweep(sweep: SweepSpec, from: string, to: string): SweepSpec {
  const rename = (key: string) => (key.startsWith(`${from}.`) ? `${to}${key.slice(from.length)}` : key);
  const space = Object.fromEntries(
    Object.entries(sweep.space).map(([key, domain]) => {
      if (!domain.when) return [rename(key), domain];
      const when = Object.fromEntries(
        Object.entries(domain.when).map(([other, value]) => [rename(other), value]),
      );
      return [rename(key), { ...domain, when }];
    }),
  );
  const next: SweepSpec = { ...sweep, space };
  if (sweep.objective.node === from) next.objective = { ...sweep.objective, node: to };
  const scheduler = sweep.scheduler;
  if (scheduler && scheduler.type !== 'none') {
    next.scheduler = { ...scheduler, resource: rename(scheduler.resource) };
    if (scheduler.type === 'pbt' && scheduler.mutable)
      next.scheduler = {
        ...scheduler,
        resource: rename(scheduler.resource),
        mutable: scheduler.mutable.map(rename),
      };
  }
  return next;
}

/** Applies one change; returns the next document and the change that undoes it. */
export function applyChange(doc: PipelineDoc, change: PipelineChange): AppliedChange {
  switch (change.type) {
    case 'addNode': {
      requireNodeId(change.node.id);
      if (doc.nodes.some((node) => node.id === change.node.id))
        throw new ChangeError('NODE_ID_TAKEN', `Node id "${change.node.id}" is already used`);
      return {
        doc: { ...doc, nodes: insertAt(doc.nodes, change.node, change.index) },
        inverse: { type: 'removeNodes', ids: [change.node.id] },
      };
    }
    case 'removeNodes': {
      const ids = new Set(change.ids);
      for (const id of ids) requireNode(doc, id);
      const nodes: Array<{ node: PipelineNode; index: number }> = [];
      doc.nodes.forEach((node, index) => ids.has(node.id) && nodes.push({ node, index }));
      const edges: Array<{ edge: PipelineEdge; index: number }> = [];
      doc.edges.forEach((edge, index) => touches(edge, ids) && edges.push({ edge, index }));
      return {
        doc: {
          ...doc,
          nodes: doc.nodes.filter((node) => !ids.has(node.id)),
          edges: doc.edges.filter((edge) => !touches(edge, ids)),
        },
        inverse: { type: 'insertNodes', nodes, edges },
      };
    }
    case 'insertNodes': {
      let nodes = [...doc.nodes];
      for (const { node, index } of [...change.nodes].sort((a, b) => a.index - b.index)) {
        if (nodes.some((existing) => existing.id === node.id))
          throw new ChangeError('NODE_ID_TAKEN', `Node id "${node.id}" is already used`);
        nodes = insertAt(nodes, node, index);
      }
      let edges = [...doc.edges];
      for (const { edge, index } of [...change.edges].sort((a, b) => a.index - b.index))
        edges = insertAt(edges, edge, index);
      return {
        doc: { ...doc, nodes, edges },
        inverse: { type: 'removeNodes', ids: change.nodes.map(({ node }) => node.id) },
      };
    }
    case 'moveNodes': {
      const moves = new Map(change.moves.map((move) => [move.id, move.position]));
      const previous: Array<{ id: string; position: Position | null }> = [];
      for (const id of moves.keys()) {
        const node = doc.nodes[requireNode(doc, id)]!;
        previous.push({ id, position: node.ui ? { x: node.ui.x, y: node.ui.y } : null });
      }
      const nodes = doc.nodes.map((node) => {
        if (!moves.has(node.id)) return node;
        const position = moves.get(node.id);
        if (position) return { ...node, ui: { x: position.x, y: position.y } };
        const rest = { ...node };
        delete rest.ui;
        return rest;
      });
      return { doc: { ...doc, nodes }, inverse: { type: 'moveNodes', moves: previous } };
    }
    case 'updateParam': {
      const index = requireNode(doc, change.nodeId);
      const node = doc.nodes[index]!;
      const had = Object.prototype.hasOwnProperty.call(node.params, change.param);
      const old = had ? node.params[change.param] : undefined;
      const params = { ...node.params };
      if (change.value === undefined) delete params[change.param];
      else params[change.param] = change.value;
      const nodes = [...doc.nodes];
      nodes[index] = { ...node, params };
      return {
        doc: { ...doc, nodes },
        inverse: { type: 'updateParam', nodeId: change.nodeId, param: change.param, value: old },
      };
    }
    case 'setBypass': {
      const inverse: Record<string, boolean> = {};
      const nodes = [...doc.nodes];
      for (const [id, bypass] of Object.entries(change.bypass)) {
        const index = requireNode(doc, id);
        const node = nodes[index]!;
        inverse[id] = node.bypass === true;
        // Written only when set, so that a pipeline without bypassed nodes keeps its file as it was.
        const next = { ...node };
        if (bypass) next.bypass = true;
        else delete next.bypass;
        nodes[index] = next;
      }
      return { doc: { ...doc, nodes }, inverse: { type: 'setBypass', bypass: inverse } };
    }
    case 'connect': {
      const key = edgeKey(change.edge);
      if (doc.edges.some((edge) => edgeKey(edge) === key))
        throw new ChangeError('EDGE_EXISTS', `${change.edge.from} is already connected to ${change.edge.to}`);
      requireEndpoint(doc, change.edge.from);
      requireEndpoint(doc, change.edge.to);
      return {
        doc: { ...doc, edges: insertAt(doc.edges, { ...change.edge }, change.index) },
        inverse: { type: 'disconnect', edges: [change.edge] },
      };
    }
    case 'disconnect': {
      const keys = new Set(change.edges.map(edgeKey));
      const removed: Array<{ edge: PipelineEdge; index: number }> = [];
      doc.edges.forEach((edge, index) => keys.has(edgeKey(edge)) && removed.push({ edge, index }));
      if (removed.length !== keys.size) {
        const found = new Set(removed.map(({ edge }) => edgeKey(edge)));
        const missing = [...keys].filter((key) => !found.has(key));
        throw new ChangeError('EDGE_NOT_FOUND', `No edge ${missing.join(', ')}`);
      }
      return {
        doc: { ...doc, edges: doc.edges.filter((edge) => !keys.has(edgeKey(edge))) },
        // Re-inserted in ascending index order, each lands back at its old position.
        inverse: {
          type: 'batch',
          changes: removed.map(({ edge, index }) => ({ type: 'connect', edge, index })),
        },
      };
    }
    case 'renameNode': {
      if (change.from === change.to) return { doc, inverse: change };
      const index = requireNode(doc, change.from);
      requireNodeId(change.to);
      if (doc.nodes.some((node) => node.id === change.to))
        throw new ChangeError('NODE_ID_TAKEN', `Node id "${change.to}" is already used`);
      const rename = (endpoint: string) => {
        const parsed = parseEndpoint(endpoint);
        return parsed?.nodeId === change.from
          ? formatEndpoint({ nodeId: change.to, port: parsed.port })
          : endpoint;
      };
      const nodes = [...doc.nodes];
      nodes[index] = { ...nodes[index]!, id: change.to };
      const renamed: PipelineDoc = {
        ...doc,
        nodes,
        edges: doc.edges.map((edge) => ({ from: rename(edge.from), to: rename(edge.to) })),
      };
      // The sweep names nodes too; the new id was free, so renaming back restores it exactly.
      if (doc.sweep) renamed.sweep = renameInSweep(doc.sweep, change.from, change.to);
      return { doc: renamed, inverse: { type: 'renameNode', from: change.to, to: change.from } };
    }
    case 'paste': {
      const taken = new Set(doc.nodes.map((node) => node.id));
      for (const node of change.nodes) {
        requireNodeId(node.id);
        if (taken.has(node.id))
          throw new ChangeError('NODE_ID_TAKEN', `Node id "${node.id}" is already used`);
        taken.add(node.id);
      }
      return {
        doc: { ...doc, nodes: [...doc.nodes, ...change.nodes], edges: [...doc.edges, ...change.edges] },
        inverse: { type: 'removeNodes', ids: change.nodes.map((node) => node.id) },
      };
    }
    case 'setMeta': {
      const next: PipelineDoc = { ...doc };
      const inverse: Extract<PipelineChange, { type: 'setMeta' }> = { type: 'setMeta' };
      if (change.name !== undefined) {
        inverse.name = doc.name;
        next.name = change.name;
      }
      if (change.seed !== undefined) {
        inverse.seed = doc.seed;
        next.seed = change.seed;
      }
      if (change.description !== undefined) {
        inverse.description = doc.description ?? null;
        if (change.description === null) delete next.description;
        else next.description = change.description;
      }
      return { doc: next, inverse };
    }
    case 'setSweep':
      return { doc: withSweep(doc, change.sweep), inverse: { type: 'setSweep', sweep: doc.sweep ?? null } };
    case 'addSweepParam': {
      const base = doc.sweep ?? change.init;
      if (!base)
        throw new ChangeError('SWEEP_NOT_FOUND', `The pipeline has no sweep to add "${change.key}" to`);
      return {
        doc: withSweep(doc, { ...base, space: { ...base.space, [change.key]: change.domain } }),
        inverse: { type: 'setSweep', sweep: doc.sweep ?? null },
      };
    }
    case 'removeSweepParam': {
      if (!doc.sweep || !(change.key in doc.sweep.space))
        throw new ChangeError('SWEEP_NOT_FOUND', `The sweep does not search "${change.key}"`);
      const space = { ...doc.sweep.space };
      delete space[change.key];
      return {
        doc: withSweep(doc, { ...doc.sweep, space }),
        inverse: { type: 'setSweep', sweep: doc.sweep },
      };
    }
    case 'replaceDoc':
      return { doc: change.doc, inverse: { type: 'replaceDoc', doc } };
    case 'batch': {
      let current = doc;
      const inverses: PipelineChange[] = [];
      for (const part of change.changes) {
        const applied = applyChange(current, part);
        current = applied.doc;
        inverses.unshift(applied.inverse);
      }
      return { doc: current, inverse: { type: 'batch', changes: inverses } };
    }
  }
}

/** Applies changes in order (a convenience for tests and replays). */
export function applyChanges(doc: PipelineDoc, changes: readonly PipelineChange[]): PipelineDoc {
  return changes.reduce((current, change) => applyChange(current, change).doc, doc);
}

/** A short human label for the undo/redo menu. */
export function describeChange(change: PipelineChange): string {
  switch (change.type) {
    case 'addNode':
      return `Add ${change.node.id}`;
    case 'removeNodes':
      return change.ids.length === 1 ? `Delete ${change.ids[0]}` : `Delete ${change.ids.length} nodes`;
    case 'insertNodes':
      return `Restore ${change.nodes.length} node${change.nodes.length === 1 ? '' : 's'}`;
    case 'moveNodes':
      return change.moves.length === 1 ? `Move ${change.moves[0]!.id}` : `Move ${change.moves.length} nodes`;
    case 'updateParam':
      return `Set ${change.nodeId}.${change.param}`;
    case 'setBypass': {
      const ids = Object.keys(change.bypass);
      const what = ids.length === 1 ? ids[0]! : `${ids.length} nodes`;
      return Object.values(change.bypass).every(Boolean) ? `Bypass ${what}` : `Stop bypassing ${what}`;
    }
    case 'connect':
      return `Connect ${change.edge.from} → ${change.edge.to}`;
    case 'disconnect':
      return change.edges.length === 1
        ? `Disconnect ${change.edges[0]!.to}`
        : `Disconnect ${change.edges.length} links`;
    case 'renameNode':
      return `Rename ${change.from} to ${change.to}`;
    case 'paste':
      return `Paste ${change.nodes.length} node${change.nodes.length === 1 ? '' : 's'}`;
    case 'setMeta':
      return 'Edit pipeline settings';
    case 'setSweep':
      return change.sweep ? 'Edit the sweep' : 'Remove the sweep';
    case 'addSweepParam':
      return `Sweep ${change.key}`;
    case 'removeSweepParam':
      return `Stop sweeping ${change.key}`;
    case 'replaceDoc':
      return `Open ${change.doc.name}`;
    case 'batch':
      return change.changes.length === 1
        ? describeChange(change.changes[0]!)
        : `${change.changes.length} edits`;
  }
}

/** An empty document. */
export function emptyDoc(name = 'untitled'): PipelineDoc {
  return { format: 1, name, seed: 42, nodes: [], edges: [] };
}
