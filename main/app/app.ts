/**
 * The composition root: opens the registry, builds the catalog and the runner from a config, and
 * hands out the API handlers. Electron, `distillery serve` and the CLI all start here.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Disposable, toDisposable } from '../base/lifecycle';
import { createDefaultCatalog, type NodeCatalog } from '../nodes/index';
import { Runner } from '../jobs/runner';
import type { RunnerExecutorOptions } from '../jobs/executors/executor-set';
import { SweepRunner } from '../jobs/sweeps';
import { SqliteSweepStore } from '../registry/sweep-store';
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
  /** How often to look for other processes' runs and registry changes (ms; 0 = never). */
  externalPollMs?: number;
  /** Where tasks run (`--executor`), the warm pool, SLURM settings; over the data directory's executors.json. */
  executors?: RunnerExecutorOptions;
}

export class DistilleryApp extends Disposable {
  readonly layout: DataLayout;
  readonly db: Database;
  readonly artifacts: FsArtifactStore;
  readonly registry: SqliteModelRegistry;
  readonly runs: SqliteRunStore;
  readonly catalog: NodeCatalog;
  readonly runner: Runner;
  readonly sweepStore: SqliteSweepStore;
  readonly sweeps: SweepRunner;

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
      ...(config.externalPollMs !== undefined ? { externalPollMs: config.externalPollMs } : {}),
      ...config.executors,
    });
    // Registered last so it is disposed first: workers stop before the database closes.
    this._register(this.runner);
    this.sweepStore = new SqliteSweepStore(this.db);
    // After the runner, so it is disposed before it: it stops acting on runs that are ending.
    this.sweeps = this._register(
      new SweepRunner({
        runner: this.runner,
        store: this.sweepStore,
        runs: this.runs,
        registry: this.registry,
        catalog: this.catalog,
        sweepsDir: join(this.layout.root, 'sweeps'),
      }),
    );
  }
}

export function createApp(config: AppConfig): DistilleryApp {
  return new DistilleryApp(config);
}
