/**
 * The executors a runner has: `local` (with its warm pool) always, `slurm` once a run asks for it.
 * Says which one a run gets — the request's `executor` (`--executor`, `runs.start`), else the
 * runner's own choice, else where the run ran before (a resume), else the pipeline's `executor`
 * block, else `executors.json`'s default, else `local` — and what each SLURM task asks of the
 * cluster (executors.json's defaults, then the block, then its entry for the node).
 */
import type {
  ClusterQueueInfo,
  ExecutorName,
  PipelineDoc,
  SlurmResourcesInfo,
} from '../../../preload/contract';
import { serializeError } from '../../base/errors';
import { Disposable } from '../../base/lifecycle';
import { onUnexpectedError } from '../../base/unexpected-error';
import { resourcesForNode, SLURM_RESOURCE_FIELDS } from '../../pipeline/executor-block';
import { readExecutorsConfig, type ExecutorsConfig } from './config';
import { LocalExecutor } from './local';
import { SlurmClient } from './slurm-client';
import { SlurmExecutor, type SlurmExecutorOptions } from './slurm';
import type { Executor } from './types';

/** The default number of idle warm workers kept ready. */
export const DEFAULT_WARM_WORKERS = 2;
/** The default number of SLURM jobs one runner keeps submitted at once. */
export const DEFAULT_MAX_SLURM_JOBS = 100;

/** What a runner's creator may say about executors, over `executors.json`. */
export interface RunnerExecutorOptions {
  /** The executor of every run that does not name one in its request (`--executor`). */
  executor?: ExecutorName;
  /** Idle warm workers kept ready (0 turns the pool off). */
  warmWorkers?: number;
  /** How long an idle warm worker waits before it exits (ms). */
  warmIdleMs?: number;
  /** SLURM: the environment of its commands (SLURM_CONF), the cluster defaults, how jobs are watched. */
  slurm?: Omit<SlurmExecutorOptions, 'workerEntry' | 'workerEnv' | 'client'> & {
    env?: NodeJS.ProcessEnv;
    defaults?: SlurmResourcesInfo;
    maxJobs?: number;
  };
}

export interface ExecutorSetOptions extends RunnerExecutorOptions {
  dataDir: string;
  workerEntry: string;
  workerEnv: NodeJS.ProcessEnv;
}

export class ExecutorSet extends Disposable {
  readonly local: LocalExecutor;
  private slurmExecutor: SlurmExecutor | undefined;
  /** Asks the cluster about the status bar's counts, with a short timeout of its own. */
  private queueClient: SlurmClient | undefined;
  private queueCache: { at: number; info: Promise<ClusterQueueInfo> } | undefined;

  constructor(private readonly options: ExecutorSetOptions) {
    super();
    let config: ExecutorsConfig = {};
    try {
      config = readExecutorsConfig(options.dataDir);
    } catch (error) {
      // A broken file is reported to the run that needs it (config()); the pool takes its default.
      onUnexpectedError(error);
    }
    this.local = this._register(
      new LocalExecutor({
        entry: options.workerEntry,
        env: options.workerEnv,
        size: options.warmWorkers ?? config.local?.warmWorkers ?? DEFAULT_WARM_WORKERS,
        ...(options.warmIdleMs !== undefined
          ? { idleMs: options.warmIdleMs }
          : config.local?.idleSeconds !== undefined
            ? { idleMs: config.local.idleSeconds * 1000 }
            : {}),
      }),
    );
  }

  /** `executors.json`, read now: a broken file refuses the run that needs it, naming the file. */
  config(): ExecutorsConfig {
    return readExecutorsConfig(this.options.dataDir);
  }

  /** Which executor a run gets (see the file comment). */
  choose(requested: ExecutorName | undefined, doc: PipelineDoc, previous?: ExecutorName): ExecutorName {
    return (
      requested ??
      this.options.executor ??
      previous ??
      doc.executor?.type ??
      (doc.executor === undefined ? this.config().default : undefined) ??
      'local'
    );
  }

  get(name: ExecutorName): Executor {
    return name === 'slurm' ? this.slurm() : this.local;
  }

  /** The SLURM executor, created on first use. */
  slurm(): SlurmExecutor {
    if (!this.slurmExecutor) {
      const settings = this.config().slurm ?? {};
      const given = this.options.slurm ?? {};
      const env = Object.fromEntries(
        Object.entries(this.options.workerEnv).filter(
          (entry): entry is [string, string] => entry[1] !== undefined,
        ),
      );
      this.slurmExecutor = this._register(
        new SlurmExecutor({
          workerEntry: this.options.workerEntry,
          workerEnv: env,
          client: new SlurmClient(given.env ? { env: given.env } : {}),
          pollIntervalMs: given.pollIntervalMs ?? (settings.pollSeconds ?? 1) * 1000,
          neverStartsAfterMs: given.neverStartsAfterMs ?? (settings.neverStartsAfterSeconds ?? 60) * 1000,
          maxWaitMs: given.maxWaitMs ?? (settings.maxWaitSeconds ?? 0) * 1000,
          ...(given.eventsPollMs !== undefined ? { eventsPollMs: given.eventsPollMs } : {}),
        }),
      );
    }
    return this.slurmExecutor;
  }

  /** The SLURM executor if a run has used it, without creating it. */
  get slurmIfStarted(): SlurmExecutor | undefined {
    return this.slurmExecutor;
  }

  /** What the task of `nodeId` asks of the cluster. */
  resources(nodeId: string, doc: PipelineDoc): SlurmResourcesInfo {
    const settings = this.config().slurm ?? {};
    // Only the resource fields: the rest of the section says how jobs are watched.
    const defaults: SlurmResourcesInfo = Object.fromEntries(
      SLURM_RESOURCE_FIELDS.filter((field) => settings[field] !== undefined).map((field) => [
        field,
        settings[field],
      ]),
    );
    return resourcesForNode(nodeId, { ...defaults, ...this.options.slurm?.defaults }, doc.executor);
  }

  /** How many SLURM jobs this runner keeps submitted at once. */
  maxSlurmJobs(): number {
    try {
      return this.options.slurm?.maxJobs ?? this.config().slurm?.maxJobs ?? DEFAULT_MAX_SLURM_JOBS;
    } catch {
      return DEFAULT_MAX_SLURM_JOBS;
    }
  }

  /**
   * This user's jobs on the cluster, for the status bar (asked at most every few seconds, and given
   * a few seconds to answer); undefined where SLURM is not installed (no sbatch on PATH).
   */
  clusterQueue(): Promise<ClusterQueueInfo | undefined> {
    this.queueClient ??= new SlurmClient({
      env: this.options.slurm?.env ?? process.env,
      commandTimeoutMs: CLUSTER_QUEUE_TIMEOUT_MS,
    });
    const client = this.queueClient;
    if (!client.hasCommand('sbatch')) return Promise.resolve(undefined);
    const now = Date.now();
    if (this.queueCache && now - this.queueCache.at < CLUSTER_QUEUE_CACHE_MS) return this.queueCache.info;
    const info = (async (): Promise<ClusterQueueInfo> => {
      try {
        const [jobs, cluster] = await Promise.all([client.queue(), client.cluster()]);
        return {
          executor: 'slurm',
          cluster: cluster.name,
          pending: jobs.filter((job) => job.state === 'waiting').length,
          running: jobs.filter((job) => job.state === 'running').length,
          error: null,
        };
      } catch (error) {
        return {
          executor: 'slurm',
          cluster: null,
          pending: 0,
          running: 0,
          error: serializeError(error).message,
        };
      }
    })();
    this.queueCache = { at: now, info };
    return info;
  }
}

/** How long the status bar's question to the cluster may take, and how long its answer is kept. */
const CLUSTER_QUEUE_TIMEOUT_MS = 5000;
const CLUSTER_QUEUE_CACHE_MS = 3000;
