/** The registry: SQLite records (runs, tasks, models) and the content-addressed artifact store. */
export { openDatabase, type Database, type OpenDatabaseOptions } from './db';
export { MIGRATIONS, LATEST_SCHEMA_VERSION, type Migration } from './migrations';
export {
  FsArtifactStore,
  type ArtifactEntry,
  type ArtifactManifest,
  type GcOptions,
  type GcResult,
} from './artifact-store';
export { SqliteModelRegistry, DEFAULT_GC_GRACE_MS, type RegisterVersionInput } from './model-registry';
export type { ModelKind } from './model-versions';
export { parseModelRef, validateAlias, validateModelName, type ParsedModelRef } from './model-refs';
export {
  SqliteRunStore,
  toRunInfo,
  toTaskInfo,
  type CreateRunInput,
  type CreateTaskInput,
  type MetricQuery,
  type RunPatch,
  type RunRecord,
  type TaskPatch,
  type TaskRecord,
} from './run-store';
export {
  TRIAL_STATUSES,
  type CreateSweepInput,
  type SweepEventRecord,
  type SweepPatch,
  type TrialPatch,
  type TrialRecord,
  type TrialStart,
} from './sweep-records';
export { toTrialInfo } from './sweep-rows';
export { SqliteSweepStore } from './sweep-store';
