/** What deleting a run removes of its models, and the registry port it does that through. */

/** What `deleteRun` removed, and the model versions of the run it kept. */
export interface DeletedRun {
  deleted: string;
  deletedModels: string[];
  keptModels: string[];
}

/** What deleting a run's models needs from the registry. */
export interface RunModelsPort {
  /** Versions registered by the run, newest first. */
  versionsOfRun(runId: string): string[];
  /** Deletes a version; throws MODEL_HAS_DESCENDANTS while others derive from it. */
  delete(ref: string): string[];
}

/**
 * Deletes the model versions the run registered, newest first; a version others derive from is
 * kept and named in `keptModels`.
 */
export function deleteRunModels(
  models: RunModelsPort,
  runId: string,
): Pick<DeletedRun, 'deletedModels' | 'keptModels'> {
  const deletedModels: string[] = [];
  const keptModels: string[] = [];
  for (const versionId of models.versionsOfRun(runId)) {
    try {
      deletedModels.push(...models.delete(versionId));
    } catch (error) {
      if ((error as { code?: string }).code !== 'MODEL_HAS_DESCENDANTS') throw error;
      keptModels.push(versionId);
    }
  }
  return { deletedModels, keptModels };
}
