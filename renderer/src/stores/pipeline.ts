/**
 * The document being edited. Every edit goes through `apply(change)` (the pure change union in
 * pipeline/changes.ts); undo/redo are stacks of inverse changes; the dirty marker compares with the
 * last saved text; the working copy is autosaved to localStorage (composables/working-copy.ts); and
 * every change is validated by main (`pipelines.validate`, debounced; composables/live-validation.ts)
 * so the issues panel and inspector show every problem.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, type ShallowRef } from 'vue';
import type {
  NodeSpecInfo,
  PipelineDoc,
  PipelineEdge,
  SweepSpec,
  ValidationIssue,
} from '../../../preload/contract';
import { parseEndpoint } from '../../../preload/graph-rules';
import { useClient } from '../api';
import { useLiveValidation } from '../composables/live-validation';
import { readWorkingCopy, useAutosave } from '../composables/working-copy';
import {
  applyChange,
  ChangeError,
  describeChange,
  emptyDoc,
  type PipelineChange,
  type Position,
} from '../pipeline/changes';
import {
  addConnectedChange,
  checkConnection,
  connectChange,
  copySelection,
  newNodeId,
  pasteChange,
  type Clip,
  type ConnectionCheck,
  type ConnectionRequest,
  type LinkStart,
} from '../pipeline/graph';
import { sweepKey, sweepParamAddition } from '../pipeline/sweep';
import { useCatalogStore } from './catalog';

export { VALIDATION_DELAY_MS } from '../composables/live-validation';
export { AUTOSAVE_DELAY_MS, WORKING_COPY_KEY } from '../composables/working-copy';
export const HISTORY_LIMIT = 200;
/** Edits of the same param within this window merge into one undo step (typing a number). */
export const COALESCE_MS = 1200;

export interface HistoryEntry {
  change: PipelineChange;
  inverse: PipelineChange;
  label: string;
  /** Entries with the same key, made within COALESCE_MS, merge. */
  key?: string;
  time: number;
}

/** Canonical text of a document, used for the dirty marker and downloads. */
export function docText(doc: PipelineDoc): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export const usePipelineStore = defineStore('pipeline', () => {
  const client = useClient();
  const catalog = useCatalogStore();

  const doc = shallowRef<PipelineDoc>(emptyDoc());
  const filePath = ref<string | null>(null);
  const savedText = ref(docText(doc.value));
  const undoStack = shallowRef<HistoryEntry[]>([]);
  const redoStack = shallowRef<HistoryEntry[]>([]);
  const validation = useLiveValidation(client, () => doc.value);
  const { issues, validating, validationError, validateNow, settled } = validation;
  const scheduleValidation = validation.schedule;
  const autosave = useAutosave(() => ({
    doc: doc.value,
    filePath: filePath.value,
    savedText: savedText.value,
  }));
  const scheduleAutosave = autosave.schedule;
  /** Selected node ids (mirrors the canvas selection; the inspector shows the single one). */
  const selection = shallowRef<string[]>([]);
  /** Selected links (Delete removes them with the selected nodes). */
  const selectedEdges = shallowRef<PipelineEdge[]>([]);
  /** A param the inspector should scroll to and focus (set by clicking an issue). */
  const focus = ref<{ nodeId: string; param?: string; nonce: number } | null>(null);
  const clipboard = shallowRef<Clip | null>(null);
  let pasteCount = 0;

  const dirty = computed(() => docText(doc.value) !== savedText.value);
  const canUndo = computed(() => undoStack.value.length > 0);
  const canRedo = computed(() => redoStack.value.length > 0);
  const undoLabel = computed(() => undoStack.value.at(-1)?.label ?? null);
  const redoLabel = computed(() => redoStack.value.at(-1)?.label ?? null);
  const nodeIssues = computed(() => {
    const map = new Map<string, ValidationIssue[]>();
    for (const issue of issues.value) {
      if (!issue.nodeId) continue;
      map.set(issue.nodeId, [...(map.get(issue.nodeId) ?? []), issue]);
    }
    return map;
  });
  const canRun = computed(
    () => doc.value.nodes.length > 0 && issues.value.length === 0 && !validationError.value,
  );
  const selectedNode = computed(() =>
    selection.value.length === 1 ? doc.value.nodes.find((node) => node.id === selection.value[0]) : undefined,
  );

  function specOf(type: string): NodeSpecInfo | undefined {
    return catalog.spec(type);
  }

  // ----------------------------------------------------------------------------------------------
  // Applying changes, undo, redo

  /** Applies a change as one undo step; returns false (and leaves the doc alone) when it cannot apply. */
  function apply(change: PipelineChange, options: { key?: string; label?: string } = {}): boolean {
    let applied;
    try {
      applied = applyChange(doc.value, change);
    } catch (error) {
      if (error instanceof ChangeError) {
        console.warn(error.message);
        return false;
      }
      throw error;
    }
    const now = Date.now();
    const top = undoStack.value.at(-1);
    if (options.key && top?.key === options.key && now - top.time < COALESCE_MS) {
      // Same param edited again: keep the first inverse so one undo restores the value before typing.
      undoStack.value = [...undoStack.value.slice(0, -1), { ...top, change, time: now }];
    } else {
      const entry: HistoryEntry = {
        change,
        inverse: applied.inverse,
        label: options.label ?? describeChange(change),
        time: now,
        ...(options.key ? { key: options.key } : {}),
      };
      undoStack.value = [...undoStack.value, entry].slice(-HISTORY_LIMIT);
    }
    redoStack.value = [];
    setDoc(applied.doc);
    return true;
  }

  /** Applies the inverse of the top entry of `from` and pushes its own inverse onto `to`. */
  function replay(from: ShallowRef<HistoryEntry[]>, to: ShallowRef<HistoryEntry[]>): boolean {
    const entry = from.value.at(-1);
    if (!entry) return false;
    const applied = applyChange(doc.value, entry.inverse);
    from.value = from.value.slice(0, -1);
    to.value = [...to.value, { ...entry, change: entry.inverse, inverse: applied.inverse, key: undefined }];
    setDoc(applied.doc);
    return true;
  }

  function undo(): boolean {
    return replay(undoStack, redoStack);
  }

  function redo(): boolean {
    return replay(redoStack, undoStack);
  }

  function setDoc(next: PipelineDoc): void {
    doc.value = next;
    const ids = new Set(next.nodes.map((node) => node.id));
    if (selection.value.some((id) => !ids.has(id)))
      selection.value = selection.value.filter((id) => ids.has(id));
    if (selectedEdges.value.length > 0) {
      const keys = new Set(next.edges.map((edge) => `${edge.from}->${edge.to}`));
      selectedEdges.value = selectedEdges.value.filter((edge) => keys.has(`${edge.from}->${edge.to}`));
    }
    scheduleValidation();
    scheduleAutosave();
  }

  // ----------------------------------------------------------------------------------------------
  // Editing helpers used by the canvas, palette, inspector and keyboard

  function addNode(type: string, position: Position): string | null {
    const spec = specOf(type);
    if (!spec) return null;
    const id = newNodeId(doc.value, type);
    const ok = apply({
      type: 'addNode',
      node: { id, type, params: {}, ui: { x: Math.round(position.x), y: Math.round(position.y) } },
    });
    if (!ok) return null;
    selection.value = [id];
    return id;
  }

  /**
   * Adds a node linked to the start of a dragged link (dropped on empty canvas, then picked in
   * quick search), as one undo step; null when the type cannot take the link.
   */
  function addConnectedNode(type: string, position: Position, from: LinkStart): string | null {
    const id = newNodeId(doc.value, type);
    const node = { id, type, params: {}, ui: { x: Math.round(position.x), y: Math.round(position.y) } };
    const change = addConnectedChange(doc.value, specOf, node, from);
    if (!change || !apply(change, { label: `Add ${id}` })) return null;
    selection.value = [id];
    return id;
  }

  function removeNodes(ids: readonly string[]): void {
    const present = ids.filter((id) => doc.value.nodes.some((node) => node.id === id));
    if (present.length > 0) apply({ type: 'removeNodes', ids: present });
  }

  function removeEdges(edges: readonly PipelineEdge[]): void {
    if (edges.length > 0) apply({ type: 'disconnect', edges: [...edges] });
  }

  function moveNodes(moves: Array<{ id: string; position: Position }>): void {
    const changed = moves.filter(({ id, position }) => {
      const node = doc.value.nodes.find((candidate) => candidate.id === id);
      return node && (node.ui?.x !== Math.round(position.x) || node.ui?.y !== Math.round(position.y));
    });
    if (changed.length === 0) return;
    apply({
      type: 'moveNodes',
      moves: changed.map(({ id, position }) => ({
        id,
        position: { x: Math.round(position.x), y: Math.round(position.y) },
      })),
    });
  }

  function setParam(nodeId: string, param: string, value: unknown): void {
    apply({ type: 'updateParam', nodeId, param, value }, { key: `param:${nodeId}:${param}` });
  }

  /** Bypasses the nodes (kept, not run: pipeline/bypass.ts in the engine) or runs them again. */
  function setBypass(ids: readonly string[], bypass: boolean): void {
    const changed = ids.filter((id) => {
      const node = doc.value.nodes.find((candidate) => candidate.id === id);
      return node !== undefined && (node.bypass === true) !== bypass;
    });
    if (changed.length > 0)
      apply({ type: 'setBypass', bypass: Object.fromEntries(changed.map((id) => [id, bypass])) });
  }

  /**
   * "Sweep this param": adds the param to the sweep's space with a suggested range, creating the
   * block (objective from the nodes' metrics, random search) when the pipeline has none.
   */
  function sweepParam(nodeId: string, param: string): boolean {
    const addition = sweepParamAddition(doc.value, specOf, nodeId, param);
    return addition ? apply({ type: 'addSweepParam', ...addition }) : false;
  }

  /** Takes a param out of the sweep; the last one out leaves the block, whose settings stay. */
  function unsweepParam(nodeId: string, param: string): boolean {
    return apply({ type: 'removeSweepParam', key: sweepKey(nodeId, param) });
  }

  /** The Sweep panel's edits; `key` coalesces typing in one field into one undo step. */
  function setSweep(sweep: SweepSpec | null, key?: string): boolean {
    return apply({ type: 'setSweep', sweep }, key ? { key: `sweep:${key}` } : {});
  }

  function renameNode(from: string, to: string): boolean {
    if (from === to) return true;
    const ok = apply({ type: 'renameNode', from, to });
    if (ok) selection.value = selection.value.map((id) => (id === from ? to : id));
    return ok;
  }

  function checkConnect(request: ConnectionRequest): ConnectionCheck {
    return checkConnection(doc.value, specOf, request);
  }

  function connect(request: ConnectionRequest): ConnectionCheck {
    const check = checkConnect(request);
    if (check.ok) apply(connectChange(check), { label: `Connect ${check.edge.from} → ${check.edge.to}` });
    return check;
  }

  function copy(ids: readonly string[] = selection.value): Clip | null {
    if (ids.length === 0) return null;
    clipboard.value = copySelection(doc.value, ids);
    pasteCount = 0;
    return clipboard.value;
  }

  /**
   * Pastes a clip shifted by `offset` (the editor passes one that lands in free space), else beside
   * the previous paste; the pasted nodes become the selection.
   */
  function paste(clip: Clip | null = clipboard.value, offset?: Position): string[] {
    if (!clip || clip.nodes.length === 0) return [];
    pasteCount++;
    const change = pasteChange(doc.value, clip, offset ?? { x: 40 * pasteCount, y: 40 * pasteCount });
    if (!apply(change)) return [];
    selection.value = change.nodes.map((node) => node.id);
    return selection.value;
  }

  /** Copies nodes (with the links among them) beside themselves, leaving the clipboard alone. */
  function duplicate(ids: readonly string[], offset: Position = { x: 40, y: 40 }): string[] {
    const present = ids.filter((id) => doc.value.nodes.some((node) => node.id === id));
    if (present.length === 0) return [];
    const change = pasteChange(doc.value, copySelection(doc.value, present), offset);
    if (
      !apply(change, { label: `Duplicate ${present.length === 1 ? present[0] : `${present.length} nodes`}` })
    )
      return [];
    selection.value = change.nodes.map((node) => node.id);
    return selection.value;
  }

  /** Deletes the selected nodes (with their links) and the selected links, as one undo step. */
  function deleteSelection(): boolean {
    const ids = selection.value.filter((id) => doc.value.nodes.some((node) => node.id === id));
    const gone = new Set(ids);
    const isGone = (endpoint: string) => {
      const nodeId = parseEndpoint(endpoint)?.nodeId;
      return nodeId !== undefined && gone.has(nodeId);
    };
    const edges = selectedEdges.value.filter(
      (edge) =>
        !isGone(edge.from) &&
        !isGone(edge.to) &&
        doc.value.edges.some((existing) => existing.from === edge.from && existing.to === edge.to),
    );
    const changes: PipelineChange[] = [];
    if (edges.length > 0) changes.push({ type: 'disconnect', edges });
    if (ids.length > 0) changes.push({ type: 'removeNodes', ids });
    if (changes.length === 0) return false;
    const ok = apply(changes.length === 1 ? changes[0]! : { type: 'batch', changes });
    if (ok) {
      selection.value = [];
      selectedEdges.value = [];
    }
    return ok;
  }

  function selectEdges(edges: readonly PipelineEdge[]): void {
    const same =
      edges.length === selectedEdges.value.length &&
      edges.every(
        (edge, index) =>
          selectedEdges.value[index]?.from === edge.from && selectedEdges.value[index]?.to === edge.to,
      );
    if (!same) selectedEdges.value = [...edges];
  }

  function select(ids: readonly string[]): void {
    const next = [...ids];
    if (next.length === selection.value.length && next.every((id, index) => selection.value[index] === id))
      return;
    selection.value = next;
  }

  /** Selects what an issue names and asks the inspector to focus the param. */
  function reveal(issue: Pick<ValidationIssue, 'nodeId' | 'param' | 'port'>): void {
    if (!issue.nodeId) return;
    selection.value = [issue.nodeId];
    focus.value = { nodeId: issue.nodeId, ...(issue.param ? { param: issue.param } : {}), nonce: Date.now() };
  }

  // ----------------------------------------------------------------------------------------------
  // Opening, saving, the working copy

  /** Replaces the document (open, new, sample); history restarts. */
  function open(next: PipelineDoc, options: { filePath?: string | null; saved?: boolean } = {}): void {
    doc.value = next;
    filePath.value = options.filePath ?? null;
    savedText.value = options.saved === false ? '' : docText(next);
    undoStack.value = [];
    redoStack.value = [];
    selection.value = [];
    pasteCount = 0;
    scheduleValidation(0);
    scheduleAutosave();
  }

  function newDoc(): void {
    open(emptyDoc(), { saved: true });
  }

  /**
   * Opens a pipeline file. `confirm` is asked once the file has loaded, before anything is replaced:
   * answering false keeps the current document (and resolves null), and a file that cannot be read
   * throws without asking.
   */
  async function openFile(
    path: string,
    confirm: () => boolean = () => true,
  ): Promise<ValidationIssue[] | null> {
    const { doc: loaded, issues: found } = await client.request('pipelines.load', { path });
    if (!confirm()) return null;
    open(loaded, { filePath: path });
    issues.value = found;
    return found;
  }

  /** Saves through main to `path` (or the current file); returns the path written. */
  async function saveAs(path: string | null = filePath.value): Promise<string> {
    if (!path) throw new Error('No file path to save to');
    const { path: written } = await client.request('pipelines.save', { path, doc: doc.value });
    filePath.value = written;
    savedText.value = docText(doc.value);
    scheduleAutosave();
    return written;
  }

  /** Marks the current state as saved (after a browser download). */
  function markSaved(): void {
    savedText.value = docText(doc.value);
    scheduleAutosave();
  }

  /** Restores the autosaved working copy, if any; returns whether one was found. */
  function restoreWorkingCopy(): boolean {
    const copy = readWorkingCopy();
    if (!copy) return false;
    doc.value = copy.doc;
    filePath.value = copy.filePath;
    savedText.value = copy.savedText;
    undoStack.value = [];
    redoStack.value = [];
    scheduleValidation(0);
    return true;
  }

  // ----------------------------------------------------------------------------------------------
  // Issues and edges, per node

  /** Issues of one param of one node (inline errors in the inspector). */
  function issuesFor(nodeId: string, param?: string): ValidationIssue[] {
    const list = nodeIssues.value.get(nodeId) ?? [];
    return param === undefined ? list : list.filter((issue) => issue.param === param);
  }

  /** Edges touching a node (for "disconnect all" and the inspector's port list). */
  function edgesOf(nodeId: string): PipelineEdge[] {
    return doc.value.edges.filter(
      (edge) => parseEndpoint(edge.from)?.nodeId === nodeId || parseEndpoint(edge.to)?.nodeId === nodeId,
    );
  }

  function dispose(): void {
    validation.dispose();
    autosave.dispose();
  }

  return {
    doc,
    filePath,
    savedText,
    undoStack,
    redoStack,
    issues,
    validating,
    validationError,
    selection,
    selectedEdges,
    focus,
    clipboard,
    dirty,
    canUndo,
    canRedo,
    undoLabel,
    redoLabel,
    nodeIssues,
    canRun,
    selectedNode,
    specOf,
    apply,
    undo,
    redo,
    addNode,
    addConnectedNode,
    removeNodes,
    removeEdges,
    moveNodes,
    setParam,
    setBypass,
    sweepParam,
    unsweepParam,
    setSweep,
    renameNode,
    checkConnect,
    connect,
    copy,
    paste,
    duplicate,
    select,
    selectEdges,
    deleteSelection,
    reveal,
    open,
    newDoc,
    openFile,
    saveAs,
    markSaved,
    restoreWorkingCopy,
    scheduleValidation,
    validateNow,
    settled,
    issuesFor,
    edgesOf,
    dispose,
  };
});
