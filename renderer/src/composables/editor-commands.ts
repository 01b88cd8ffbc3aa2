/**
 * The editor's commands, shared by the menus, keyboard shortcuts and Electron's native menu: new,
 * open, save, run, undo/redo, clipboard. Native dialogs are used when the desktop bridge has them;
 * in the browser the renderer's own dialogs (typed path, upload, download) stand in.
 */
import type { PipelineDoc, RunInfo, SampleEntry } from '../../../preload/contract';
import { errorMessage } from '../api';
import { desktopDialogs } from '../api/desktop';
import type { Position } from '../pipeline/changes';
import { copySelection, isClip } from '../pipeline/graph';
import { useNavigationStore } from '../stores/navigation';
import { useNotificationsStore } from '../stores/notifications';
import { docText, usePipelineStore } from '../stores/pipeline';
import { useRunsStore } from '../stores/runs';
import { useSweepsStore } from '../stores/sweeps';
import { useUiStore } from '../stores/ui';
import { useNodePlacement } from './node-placement';

/** Checks that parsed JSON looks like a format-1 pipeline before the editor takes it. */
export function parsePipelineText(text: string): PipelineDoc {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`Not JSON: ${errorMessage(error)}`);
  }
  const doc = value as Partial<PipelineDoc>;
  if (!doc || typeof doc !== 'object') throw new Error('Not a pipeline file');
  if (doc.format !== 1)
    throw new Error(`Unsupported pipeline format ${JSON.stringify(doc.format)}; expected 1`);
  if (!Array.isArray(doc.nodes) || !Array.isArray(doc.edges))
    throw new Error('A pipeline needs "nodes" and "edges" arrays');
  return {
    format: 1,
    name: typeof doc.name === 'string' ? doc.name : 'untitled',
    seed: typeof doc.seed === 'number' ? doc.seed : 42,
    ...(typeof doc.description === 'string' ? { description: doc.description } : {}),
    nodes: doc.nodes,
    edges: doc.edges,
  };
}

export function useEditorCommands() {
  const pipeline = usePipelineStore();
  const runs = useRunsStore();
  const sweeps = useSweepsStore();
  const ui = useUiStore();
  const notifications = useNotificationsStore();
  const navigation = useNavigationStore();
  const placement = useNodePlacement();

  function confirmDiscard(): boolean {
    return !pipeline.dirty || window.confirm('Discard unsaved changes to this pipeline?');
  }

  function newPipeline(): void {
    if (!confirmDiscard()) return;
    pipeline.newDoc();
    navigation.go({ name: 'editor' });
  }

  function openSample(sample: SampleEntry): void {
    if (!confirmDiscard()) return;
    // A copy: saving must not overwrite the shipped sample.
    pipeline.open(structuredClone(sample.doc), { filePath: null });
    ui.closeDialog();
    ui.requestFit();
    navigation.go({ name: 'editor' });
  }

  /**
   * Opens a pipeline file by path. Unsaved edits are only replaced once the user agrees, as for
   * a sample or an upload; `confirmed` says the caller has already asked (before a native dialog).
   */
  async function openPath(path: string, options: { confirmed?: boolean } = {}): Promise<boolean> {
    try {
      const issues = await pipeline.openFile(path, options.confirmed ? undefined : confirmDiscard);
      if (issues === null) return false;
      notifications.push(
        'success',
        `Opened ${path}`,
        issues.length ? `${issues.length} issue(s) to fix` : undefined,
      );
      ui.closeDialog();
      ui.requestFit();
      navigation.go({ name: 'editor' });
      return true;
    } catch (error) {
      notifications.push('error', 'Cannot open the pipeline', errorMessage(error));
      return false;
    }
  }

  /**
   * Opens a run's pipeline (the document it ran, with its params) in the editor, as an unsaved
   * copy: saving it names a file, so it never overwrites one that changed since the run.
   */
  function openRun(run: RunInfo): boolean {
    if (!confirmDiscard()) return false;
    pipeline.open(structuredClone(run.pipeline), { filePath: null });
    ui.requestFit();
    navigation.go({ name: 'editor' });
    notifications.push('success', `Opened the pipeline of run ${run.id}`, run.label ?? run.name);
    return true;
  }

  async function openUpload(file: File): Promise<void> {
    try {
      const doc = parsePipelineText(await file.text());
      if (!confirmDiscard()) return;
      pipeline.open(doc, { filePath: null });
      ui.closeDialog();
      ui.requestFit();
      navigation.go({ name: 'editor' });
    } catch (error) {
      notifications.push('error', `Cannot open ${file.name}`, errorMessage(error));
    }
  }

  async function open(): Promise<void> {
    const dialogs = desktopDialogs();
    if (!dialogs) {
      ui.openDialog('open');
      return;
    }
    if (!confirmDiscard()) return;
    const path = await dialogs.openPipeline();
    if (path) await openPath(path, { confirmed: true });
  }

  async function saveTo(path: string): Promise<boolean> {
    try {
      const written = await pipeline.saveAs(path);
      notifications.push('success', `Saved ${written}`);
      ui.closeDialog();
      return true;
    } catch (error) {
      notifications.push('error', 'Cannot save the pipeline', errorMessage(error));
      return false;
    }
  }

  async function saveAs(): Promise<void> {
    const dialogs = desktopDialogs();
    if (!dialogs) {
      ui.openDialog('save-as');
      return;
    }
    const path = await dialogs.savePipeline(`${pipeline.doc.name}.distillery.json`);
    if (path) await saveTo(path);
  }

  async function save(): Promise<void> {
    if (pipeline.filePath) await saveTo(pipeline.filePath);
    else await saveAs();
  }

  /** Browser save: the document as a `.distillery.json` download. */
  function download(): void {
    const blob = new Blob([docText(pipeline.doc)], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = `${pipeline.doc.name || 'pipeline'}.distillery.json`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    pipeline.markSaved();
    ui.closeDialog();
  }

  /**
   * Runs the pipeline, or starts its sweep when it has a `sweep` block; `forceNodes` runs those
   * nodes and everything downstream again ("Run from here"), once.
   */
  async function run(options: { force?: boolean; forceNodes?: string[] } = {}): Promise<void> {
    await pipeline.settled();
    if (!pipeline.canRun) {
      const count = pipeline.issues.length;
      notifications.push(
        'error',
        pipeline.doc.nodes.length === 0
          ? 'Nothing to run: add nodes first'
          : `Fix ${count} issue${count === 1 ? '' : 's'} before running`,
      );
      return;
    }
    if (pipeline.doc.sweep && !options.force && !options.forceNodes?.length) {
      // A pipeline with a sweep block runs as its search (each trial a run of it); "Run from here"
      // still runs it once with its own values.
      try {
        const started = await sweeps.start(pipeline.doc, pipeline.filePath);
        navigation.go({ name: 'sweep', sweepId: started.id });
      } catch (error) {
        notifications.push('error', 'The sweep did not start', errorMessage(error));
      }
      return;
    }
    try {
      const started = await runs.start(pipeline.doc, { ...options, pipelineFile: pipeline.filePath });
      navigation.go({ name: 'run', runId: started.id });
    } catch (error) {
      notifications.push('error', 'The run did not start', errorMessage(error));
    }
  }

  async function copy(): Promise<void> {
    const clip = pipeline.copy();
    if (!clip) return;
    try {
      await navigator.clipboard?.writeText(JSON.stringify(clip));
    } catch {
      // The in-app clipboard still holds it (the system clipboard needs focus and permission).
    }
  }

  /** Pastes into free space: at `at` (flow coordinates; the context menu's point) or beside the copy. */
  async function paste(at?: Position): Promise<void> {
    let clip = pipeline.clipboard;
    try {
      const text = await navigator.clipboard?.readText();
      const parsed: unknown = text ? JSON.parse(text) : null;
      if (isClip(parsed) && JSON.stringify(parsed) !== JSON.stringify(clip)) clip = parsed;
    } catch {
      // Not ours or not permitted: use the in-app clipboard.
    }
    if (clip) pipeline.paste(clip, placement.pasteOffset(clip, at));
  }

  /** Duplicates nodes (the selection unless told) into free space beside them. */
  function duplicate(ids: readonly string[] = pipeline.selection): void {
    if (ids.length === 0) return;
    pipeline.duplicate(ids, placement.pasteOffset(copySelection(pipeline.doc, ids)));
  }

  function selectAll(): void {
    pipeline.select(pipeline.doc.nodes.map((node) => node.id));
  }

  return {
    newPipeline,
    openSample,
    openPath,
    openUpload,
    openRun,
    open,
    save,
    saveAs,
    saveTo,
    download,
    run,
    copy,
    paste,
    duplicate,
    selectAll,
    undo: () => pipeline.undo(),
    redo: () => pipeline.redo(),
    deleteSelection: () => pipeline.deleteSelection(),
    fitView: () => ui.requestFit(),
    quickSearch: () => ui.openQuickSearch(null),
  };
}

export type EditorCommands = ReturnType<typeof useEditorCommands>;
