/**
 * The composition root: opens the registry, builds the catalog and the runner from a config, and
 * hands out the API handlers. Electron, `distillery serve` and the CLI all start here.
 */
import { cpus } from 'node:os';
import { Disposable, toDisposable } from '../base/lifecycle';
import { createDefaultCatalog, type NodeCatalog } from '../nodes/index';
import { Runner } from '../jobs/runner';
import { FsArtifactStore } from '../registry/artifact-store';
import { openDatabase, type Database } from '../registry/db';
import { SqliteModelRegistry } from '../registry/model-registry';
import { SqliteRunStore } from '../registry/run-store';
import { dataLayout, defaultWorkerEntry, type DataLayout } from './paths';

export interface AppConfig {
  dataDir: string;
  /** Worker processes at once; default: number of cores. */
  concurrency?: number;
  /** Forced backend (`tensorflow-gpu`, `tensorflow`, `wasm`, `cpu`); default: the fastest that loads. */
  backend?: string;
  workerEntry?: string;
  cancelGraceMs?: number;
  workerEnv?: NodeJS.ProcessEnv;
}

export class DistilleryApp extends Disposable {
  readonly layout: DataLayout;
  readonly db: Database;
  readonly artifacts: FsArtifactStore;
  readonly registry: SqliteModelRegistry;
  readonly runs: SqliteRunStore;
  readonly catalog: NodeCatalog;
  readonly runner: Runner;

  constructor(readonly config: AppConfig) {
    super();
    this.layout = dataLayout(config.dataDir);
    this.db = openDatabase(this.layout.database);
    this._register(toDisposable(() => this.db.close()));
    this.artifacts = new FsArtifactStore(this.layout.artifacts);
    this.registry = new SqliteModelRegistry(this.db, this.artifacts);
    this.runs = new SqliteRunStore(this.db);
    this.catalog = createDefaultCatalog();
    this.runner = new Runner({
      store: this.runs,
      registry: this.registry,
      catalog: this.catalog,
      runsDir: this.layout.runs,
      workerEntry: config.workerEntry ?? defaultWorkerEntry(),
      concurrency: config.concurrency ?? Math.max(1, cpus().length),
      ...(config.backend ? { backend: config.backend } : {}),
      ...(config.cancelGraceMs !== undefined ? { cancelGraceMs: config.cancelGraceMs } : {}),
      ...(config.workerEnv ? { workerEnv: config.workerEnv } : {}),
    });
    // Registered last so it is disposed first: workers stop before the database closes.
    this._register(this.runner);
  }
}

export function createApp(config: AppConfig): DistilleryApp {
  return new DistilleryApp(config);
}
