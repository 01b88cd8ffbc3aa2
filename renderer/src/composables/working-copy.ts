/**
 * The autosaved working copy: the edited document, its file path and the last saved text, written
 * to localStorage shortly after each change so a reload (or a crash) loses nothing.
 */
import type { PipelineDoc } from '../../../preload/contract';
import { browserStorage } from '../stores/storage';

export const WORKING_COPY_KEY = 'distillery.workingCopy';
export const AUTOSAVE_DELAY_MS = 400;

export interface WorkingCopy {
  doc: PipelineDoc;
  filePath: string | null;
  savedText: string;
}

/** Debounced writes of `snapshot()`; `schedule` does nothing where there is no storage. */
export function useAutosave(snapshot: () => WorkingCopy): { schedule: () => void; dispose: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;

  function schedule(): void {
    const storage = browserStorage();
    if (!storage) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      try {
        storage.setItem(WORKING_COPY_KEY, JSON.stringify(snapshot()));
      } catch (error) {
        console.warn('Autosave failed', error);
      }
    }, AUTOSAVE_DELAY_MS);
  }

  function dispose(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
  }

  return { schedule, dispose };
}

/** The autosaved working copy, or null when there is none or it is not a format-1 document. */
export function readWorkingCopy(): WorkingCopy | null {
  const raw = browserStorage()?.getItem(WORKING_COPY_KEY);
  if (!raw) return null;
  try {
    const copy = JSON.parse(raw) as WorkingCopy;
    if (
      !copy?.doc ||
      copy.doc.format !== 1 ||
      !Array.isArray(copy.doc.nodes) ||
      !Array.isArray(copy.doc.edges)
    )
      return null;
    return {
      doc: copy.doc,
      filePath: copy.filePath ?? null,
      savedText: typeof copy.savedText === 'string' ? copy.savedText : '',
    };
  } catch {
    return null;
  }
}
