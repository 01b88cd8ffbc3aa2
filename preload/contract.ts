/**
 * THE contract between the renderer (or any client of `distillery serve`) and main: every request
 * (name → params → result), every pushed event (name → payload), the DTOs they carry, and the zod
 * schemas that validate requests at the boundary. Types and schemas only: no other runtime import.
 *
 * Each concept that crosses a process boundary is declared here once: main (api, jobs, registry,
 * serve), the worker's protocol (main/worker/protocol.ts re-exports what it shares) and the
 * renderer all use these declarations, so a field cannot mean one thing on one side and another
 * on the other.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Pipelines

/** A node in a pipeline file. `ui` is editor layout only and never affects fingerprints. */
export interface PipelineNode {
  id: string;
  type: string;
  params: Record<string, unknown>;
  ui?: { x: number; y: number };
  /**
   * The node does not run: each output passes on what is linked into its first input of the same
   * port type (a bypassed `prune` passes its model on). Its params and edges are kept and checked.
   */
  bypass?: boolean;
}

/** An edge from an output port to an input port, both written `"nodeId.port"`. */
export interface PipelineEdge {
  from: string;
  to: string;
}

/** A `*.distillery.json` document, format 1. */
export interface PipelineDoc {
  format: 1;
  name: string;
  seed: number;
  description?: string;
  nodes: PipelineNode[];
  edges: PipelineEdge[];
  /**
   * A search over the pipeline's params (see {@link SweepSpec}); a file without it is an ordinary
   * pipeline. `sweeps.start` runs the search; `runs.start` runs the pipeline once, with its own values.
   */
  sweep?: SweepSpec;
  /**
   * Where the run's tasks run (see {@link ExecutorBlock}); without it, on this machine. Not part of
   * any fingerprint: where a task runs does not change what it computes.
   */
  executor?: ExecutorBlock;
}

/** Where a task's worker runs: a process on this machine, or a SLURM batch job. */
export type ExecutorName = 'local' | 'slurm';

/**
 * How a task's execution stands, whatever runs it (NNI's training-service states): `waiting`
 * (accepted, not started: a job pending in the queue, or requeued), `running`, and the three ends.
 */
export type ExecutorState = 'waiting' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/**
 * What a SLURM job asks of the cluster, as an `executor` block, its `nodes` entries and the data
 * directory's `executors.json` write it. Every field may be left to the cluster's defaults.
 */
export interface SlurmResourcesInfo {
  /** `--partition`: one partition, or several separated by commas. */
  partition?: string;
  /** `--account` to charge. */
  account?: string;
  /** `--cpus-per-task`. */
  cpusPerTask?: number;
  /** `--mem`: a whole number with an optional unit K, M (the default), G or T. */
  memory?: string;
  /** `--time`: minutes, `minutes:seconds`, `hours:minutes:seconds` or `days-hours[:minutes[:seconds]]`. */
  time?: string;
  /** GPUs per node, asked for as `--gres=gpu:N`. */
  gpus?: number;
  /** Further sbatch flags, passed as they are (`["--qos=high"]`). */
  extraFlags?: string[];
}

/**
 * A pipeline's `executor` block: `type` chooses the executor; the resources (SLURM only) apply to
 * every task, over the data directory's defaults, and `nodes` overrides them for single nodes.
 */
export interface ExecutorBlock extends SlurmResourcesInfo {
  type: ExecutorName;
  /** Node id → resources of that node's task, over the block's own. */
  nodes?: Record<string, SlurmResourcesInfo>;
}

/** The cluster's queue as the status bar shows it: this user's jobs pending and running. */
export interface ClusterQueueInfo {
  executor: 'slurm';
  /** The cluster's name; null when the controller did not answer. */
  cluster: string | null;
  pending: number;
  running: number;
  /** Why the queue could not be read (no controller, no sbatch); null when it was. */
  error: string | null;
}

/** One problem found in a pipeline; validation returns all of them at once. */
export interface ValidationIssue {
  code: string;
  message: string;
  nodeId?: string;
  port?: string;
  param?: string;
  expected?: string;
  received?: unknown;
  /** JSON pointer into the document, e.g. `/nodes/2/params/alpha`. */
  pointer?: string;
  file?: string;
}

// ---------------------------------------------------------------------------------------------
// Node catalog (node specs as data, for the palette and inspector)

/** What flows along an edge; an input accepts only outputs of a compatible type. */
export type PortType = 'dataset' | 'model' | 'diffusion-model';

/** One input or output port of a node type. */
export interface PortSpecInfo {
  type: PortType;
  help?: string;
  /** An optional input may stay unconnected. */
  optional?: boolean;
  /**
   * An input that takes many links (e.g. merge's `models`): the op receives them as a list, in the
   * order of the pipeline's edges.
   */
  multiple?: true;
  /** The fewest links a `multiple` input takes once it is connected at all. */
  minLinks?: number;
}

/**
 * When a param applies, in terms of other params of the same node: every named param's value (as
 * written, else its default) must be one of the listed values. A param without it always applies.
 * The inspector shows only the params that apply and `distillery nodes TYPE` says when each does;
 * the validator still checks every param, so a value set while it applied stays valid.
 */
export type ParamVisibility = Record<string, Array<string | number | boolean>>;

/** One parameter of a node type as data: its kind, default, bounds and help, for the inspector. */
export type ParamSpecInfo = ParamSpecInfoByKind & { visibleWhen?: ParamVisibility };

/** The kinds of param, each with what describes its values. */
export type ParamSpecInfoByKind =
  | { kind: 'number'; default: number; min?: number; max?: number; exclusiveMax?: boolean; help?: string }
  | { kind: 'integer'; default: number; min?: number; max?: number; help?: string }
  | { kind: 'choice'; default: string; choices: string[]; help?: string }
  | { kind: 'boolean'; default: boolean; help?: string }
  | { kind: 'string'; default: string; required?: boolean; pattern?: string; help?: string }
  | {
      kind: 'list';
      of: 'integer' | 'number' | 'string';
      default: Array<number | string>;
      min?: number;
      max?: number;
      minLength?: number;
      maxLength?: number;
      /** For lists of strings: the names an item may be. */
      choices?: string[];
      help?: string;
    };

/** A node type as data (`catalog.list`): the palette and the inspector are built from it. */
export interface NodeSpecInfo {
  type: string;
  version: number;
  title: string;
  category: 'data' | 'model' | 'train' | 'compress' | 'diffusion' | 'evaluate' | 'export';
  help: string;
  inputs: Record<string, PortSpecInfo>;
  outputs: Record<string, PortSpecInfo>;
  params: Record<string, ParamSpecInfo>;
  /** What the node's task changes outside its task folder; absent when nothing. */
  effects?: NodeEffects;
  /**
   * The scalar metrics the node's task reports, which a sweep objective may name (`val_*` ones once
   * per epoch, for a sweep scheduler); absent when it reports none a sweep can read.
   */
  metrics?: string[];
}

/**
 * Effects of a task outside its run folder. `external` names the params holding a path (a folder
 * or a file) that the task writes. A finished task's reuse is checked against them: it is reused
 * only while every file it wrote there still holds the bytes it wrote (their sha256 is recorded
 * when it finishes), and runs again otherwise, so a reused task never reports an output it did
 * not produce.
 */
export interface NodeEffects {
  external: string[];
}

// ---------------------------------------------------------------------------------------------
// Runs and tasks

/** Where a run is in its life; `done`, `failed` and `cancelled` are final until a resume. */
export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
/** Where a task is; `reused` took a finished task's outputs by fingerprint, `skipped` had an upstream that did not finish. */
export type TaskStatus = 'queued' | 'running' | 'done' | 'reused' | 'failed' | 'cancelled' | 'skipped';

/** The tfjs backends a worker can run on, fastest first. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/**
 * Which tfjs backend a worker runs on and why it did not get a faster one: what the worker reports
 * in its `ready` event, and what run and task records and `system.info` show. The worker narrows
 * `Name` to the `BackendName`s it knows; records and clients read any string, since a record may
 * have been written by a version with other backends.
 */
export interface BackendInfo<Name extends string = string> {
  name: Name;
  /** Package that provides it, e.g. `@tensorflow/tfjs-backend-wasm`. */
  package: string;
  /** Human-readable reasons the faster backends were skipped, in preference order. */
  skipped: Array<{ name: Name; reason: string }>;
  /** Extra facts: SIMD, threads, whether the wasm kernel fixes are installed. */
  features: Record<string, boolean | number | string>;
}

/**
 * Where an error happened, as precisely as it is known: the node and its port or param, what was
 * expected and what was received, and for pipeline files the file and a JSON pointer.
 */
export interface ErrorDetails {
  nodeId?: string;
  port?: string;
  param?: string;
  expected?: string;
  received?: unknown;
  file?: string;
  /** JSON pointer into the pipeline file (RFC 6901), e.g. `/nodes/2/params/alpha`. */
  pointer?: string;
  [key: string]: unknown;
}

/**
 * An error as data: what a failed answer carries (`Answer`), what a failed or cancelled task or
 * run records, and what a worker reports. Main narrows `Code` to its own list (`ErrorCode` in
 * main/base/errors.ts); clients read any string, since a newer main may send a code they do not
 * know yet.
 */
export interface ErrorInfo<Code extends string = string> {
  /** Stable, upper-snake-case code, e.g. `PARAM_OUT_OF_RANGE`; never renamed. */
  code: Code;
  message: string;
  details?: ErrorDetails;
  /**
   * Where it was thrown. Workers send it, so a task record keeps it for debugging; the error of a
   * failed answer never carries one.
   */
  stack?: string;
}

/** A dataset or model as files: what a task was handed (inputs) or produced (outputs), by port. */
export interface ArtifactRef {
  kind: 'dataset' | 'model';
  /** Directory holding the artifact (see worker/data/dataset-file.ts, worker/models/model-file.ts). */
  path: string;
  meta: Record<string, unknown>;
}

/** How far a running task is; `total` is in the op's own units (steps, images, …). */
export interface TaskProgress {
  done: number;
  total: number;
  /** Seconds left at the current pace; null until the op can tell. */
  etaSeconds: number | null;
}

/** The latest checkpoint of a task: a resume continues from it. */
export interface TaskCheckpoint {
  path: string;
  /** The step it was written after. */
  step: number;
}

/** One task of a run: one node of the pipeline, run (or reused) in a worker. */
export interface TaskInfo {
  id: string;
  runId: string;
  nodeId: string;
  nodeType: string;
  op: string;
  fingerprint: string;
  status: TaskStatus;
  /** Task whose result this task reused, when status is `reused`. */
  reusedFrom: string | null;
  /** The run of `reusedFrom` (where its metrics, logs and models were recorded); null otherwise. */
  reusedFromRun: string | null;
  attempt: number;
  progress: TaskProgress | null;
  backend: BackendInfo | null;
  startedAt: string | null;
  finishedAt: string | null;
  summary: Record<string, unknown> | null;
  error: ErrorInfo | null;
  checkpoint: TaskCheckpoint | null;
  /** Model versions this task registered, by output port. */
  models: Record<string, string>;
  taskDir: string;
  /** Where its latest attempt ran; null before any attempt started. */
  executor: ExecutorName | null;
  /** The latest attempt's SLURM job id, or the process id of its local worker; null before. */
  jobId: string | null;
  /** The machine the latest attempt ran on (a SLURM node, or this host); null until known. */
  nodeName: string | null;
  /**
   * Whether the latest attempt started on a warm worker (one of the local pool, already running);
   * null where no local worker ran it.
   */
  warm: boolean | null;
  /** How the latest attempt's execution stands (a job pending, running, ended); null before. */
  executorState: ExecutorState | null;
}

/** One run of a pipeline, with its tasks in plan order. */
export interface RunInfo {
  id: string;
  name: string;
  status: RunStatus;
  seed: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Backend the run's workers used (the first task's), with the reasons faster ones were skipped. */
  backend: BackendInfo | null;
  versions: Record<string, string>;
  pipelineFile: string | null;
  /** The pipeline document the run executes (its graph, for the run view). */
  pipeline: PipelineDoc;
  /**
   * Why the run failed (its first failed task's error), or why it was closed after the process
   * running it had exited; null otherwise.
   */
  error: ErrorInfo | null;
  tasks: TaskInfo[];
  /** A name the user gave the run (the pipeline's `name` stays what models are named after). */
  label: string | null;
  /** Tags the user put on the run, sorted. */
  tags: string[];
  /** The user's note on the run; empty when none. */
  note: string;
}

/**
 * One run as the runs table lists it (`runs.summaries`): its record without the pipeline and the
 * tasks, the params of its nodes and the figures its tasks reported.
 */
export interface RunSummary {
  id: string;
  name: string;
  label: string | null;
  tags: string[];
  note: string;
  status: RunStatus;
  seed: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Name of the backend the run's workers used. */
  backend: string | null;
  pipelineFile: string | null;
  /** How many of its tasks are in each state. */
  tasks: { total: number; done: number; reused: number; failed: number; running: number };
  /** The node type of each of its nodes, by node id. */
  nodes: Record<string, string>;
  /**
   * Resolved params of its nodes, keyed `node.param`, that are not in the answer's `sharedParams`
   * (every param of the run is in one of the two).
   */
  params: Record<string, unknown>;
  /**
   * Each task's figure of each metric its node type reports, keyed `node.metric`: for a `val_*`
   * metric the best value over the task (the lowest for names with `loss` or `error`, else the
   * highest), for any other metric the last value. A reused task has its source's figures.
   */
  metrics: Record<string, number>;
}

/** `runs.summaries`: the runs, and the params that every one of them has with the same value. */
export interface RunSummaries {
  runs: RunSummary[];
  sharedParams: Record<string, unknown>;
  /** How many runs the data directory holds in all (the list may be limited). */
  total: number;
}

/** One value of one metric, as a worker streams it and `runs.metrics` returns it. */
export interface MetricPointInfo {
  /** Global optimisation step (or evaluation index for ops without steps). */
  step: number;
  epoch?: number;
  name: string;
  value: number;
  /** Milliseconds since the epoch. */
  time: number;
}

/** Metric points of one task, in the order they were recorded (`task.metrics`, batched). */
export interface MetricBatch {
  runId: string;
  taskId: string;
  points: MetricPointInfo[];
}

/** One line a task logged (`task.log`, `runs.logs`). */
export interface LogLine {
  runId: string;
  taskId: string;
  level: 'info' | 'warn' | 'error';
  message: string;
  /** Milliseconds since the epoch. */
  time: number;
}

/** An image grid a task wrote while it ran (diffusion samples), pushed as `task.sample`. */
export interface TaskSample {
  runId: string;
  taskId: string;
  /** The image file, inside the task directory. */
  path: string;
  /** The step it was drawn at. */
  step: number;
}

// ---------------------------------------------------------------------------------------------
// Registry

/** Where a metric was measured. */
export type MetricSplit = 'train' | 'validation' | 'test';

/** One metric value recorded for a model version, with the task that measured it. */
export interface VersionMetricInfo {
  name: string;
  value: number;
  /** The split it was measured on; null when the recording task did not say. */
  split: MetricSplit | null;
  /** The task that recorded it (an evaluate task, or the task that made the version). */
  taskId: string | null;
  /** That task's run; null when the run record is gone. */
  runId: string | null;
  recordedAt: string;
}

/** One registered model version: a model a task produced, with its metrics and provenance. */
export interface ModelVersionInfo {
  id: string;
  name: string;
  version: number;
  kind: 'classifier' | 'diffusion';
  framework: string;
  aliases: string[];
  createdAt: string;
  runId: string | null;
  taskId: string | null;
  nodeType: string | null;
  backend: string | null;
  paramCount: number;
  nonZeroParams: number;
  sizeBytes: number;
  /** Architecture and op parameters that produced this version. */
  params: Record<string, unknown>;
  /** Latest value of each metric an evaluation recorded for this version (accuracy, loss, …). */
  metrics: Record<string, number>;
  /**
   * Every metric recorded for this version, the latest per name, split and task: evaluations (of
   * this run or later ones) and the figures of the task that made it (train and validation).
   */
  metricRecords: VersionMetricInfo[];
  meta: Record<string, unknown>;
}

/** A registered model: one name and all its versions (`models.registered`). */
export interface RegisteredModelInfo {
  name: string;
  kind: ModelVersionInfo['kind'];
  description: string;
  versionCount: number;
  latestVersion: number | null;
  /** Id of the latest version. */
  latestId: string | null;
  /** Current aliases: alias → version number. */
  aliases: Record<string, number>;
  createdAt: string;
  /** When its latest version was registered. */
  updatedAt: string;
  /** Node type that made its latest version (`train`, `model.mlp`, …). */
  nodeType: string | null;
}

/** Child ← parent: the operation (node type) and key params that made one version from another. */
export interface LineageEdge {
  parentId: string;
  childId: string;
  operation: string;
  params: Record<string, unknown>;
  taskId: string | null;
}

/** A version's ancestors and descendants (`models.lineage`). */
export interface LineageGraph {
  root: string;
  nodes: ModelVersionInfo[];
  edges: LineageEdge[];
  /**
   * The dataset each version was made from (the dataset input of the task that made it), by
   * version id; absent for a version whose task had none or whose run record is gone.
   */
  datasets: Record<string, LineageDataset>;
}

/** The dataset a version's task read: its name (with split sizes) as the dataset node made it. */
export interface LineageDataset {
  name: string;
  /** The input port it came in through (`dataset`, `data`). */
  port: string;
  /** Examples per split. */
  counts: Record<string, number>;
}

/** This installation (`system.info`): version, the backend workers get, resources, the queue. */
export interface SystemInfo {
  version: string;
  backend: BackendInfo | null;
  cores: number;
  memoryBytes: number;
  freeMemoryBytes: number;
  dataDir: string;
  queueLength: number;
  versions: Record<string, string>;
  /** Formats `models.export` writes. */
  exportFormats: Array<{ format: string; title: string }>;
  /** This user's jobs on the SLURM cluster; absent where SLURM is not installed. */
  cluster?: ClusterQueueInfo;
}

// ---------------------------------------------------------------------------------------------
// Sweeps: the `sweep` block of a pipeline file (its JSON shape as written), and the records of a
// sweep and its trials
/** Any value a JSON file can hold: what `choice` and `grid` lists and `when` conditions carry. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Whether the objective is minimised or maximised. */
export type SweepMode = 'min' | 'max';

/** What a trial is scored by: the last value of `metric` reported by the task of `node`. */
export interface SweepObjective {
  node: string;
  metric: string;
  mode: SweepMode;
}

/**
 * `when`: the param takes part in a trial only if every named param (`"node.param"`, swept or
 * not) has exactly the given value in that trial (JSON equality); otherwise the pipeline's own
 * value stays.
 */
export type SweepCondition = Record<string, JsonValue>;

export interface SweepDomainCommon {
  when?: SweepCondition;
}

/** A number drawn uniformly from `[low, high)`. */
export interface UniformDomain extends SweepDomainCommon {
  uniform: [number, number];
}

/** A number whose logarithm is uniform on `[log low, log high)`: learning rates, weight decay. */
export interface LogUniformDomain extends SweepDomainCommon {
  logUniform: [number, number];
}

/**
 * An integer from `low` to `high`, both included, each equally likely; with `log: true`, each
 * integer k weighs log((k + ½) / (k − ½)) (log-uniform on [low − ½, high + ½], then rounded).
 */
export interface IntDomain extends SweepDomainCommon {
  int: [number, number];
  log?: boolean;
}

/** One of the listed values (any JSON values valid for the param), each equally likely. */
export interface ChoiceDomain extends SweepDomainCommon {
  choice: JsonValue[];
}

/**
 * Values to enumerate: the `grid` algorithm tries every combination of every grid (and choice)
 * param; the other algorithms draw from the list as from a `choice`.
 */
export interface GridDomain extends SweepDomainCommon {
  grid: JsonValue[];
}

export type SweepDomain = UniformDomain | LogUniformDomain | IntDomain | ChoiceDomain | GridDomain;

/** The name of a domain's kind: the one key, besides `when` and `log`, that a domain object has. */
export type DomainKind = 'uniform' | 'logUniform' | 'int' | 'choice' | 'grid';

/** How configurations are proposed: every grid point in turn, seeded random draws, or TPE. */
export type SweepAlgorithm = 'grid' | 'random' | 'tpe';

export type SchedulerType = 'none' | 'asha' | 'hyperband' | 'pbt';

/** Fields every early-stopping scheduler has. */
export interface SweepSchedulerCommon {
  /**
   * The integer param that measures a trial's budget, `"node.param"` (e.g. `"fit.epochs"`); the
   * scheduler sets it, so it may not be in the space. Its node is the one whose per-epoch metric
   * the scheduler reads.
   */
  resource: string;
  /**
   * The per-epoch validation metric of the resource's node the scheduler ranks trials by. Default:
   * the objective's metric when the objective is that node's `val_*` metric, else `val_accuracy`
   * when the objective is maximised and `val_loss` when it is minimised.
   */
  metric?: string;
  /**
   * Whether `metric` is better low or high. Default: the objective's mode, when `metric` is
   * defaulted too; required with an explicit `metric`, since a loss and an accuracy go opposite ways.
   */
  mode?: SweepMode;
}

/**
 * Asynchronous successive halving (Li et al. 2020). Every trial runs toward `max`; at each rung
 * `min·η^k` below `max` it continues only if it is in the top 1/η of the trials that reached that
 * rung so far (at least the best one), else it is stopped (pruned).
 */
export interface AshaSchedulerSpec extends SweepSchedulerCommon {
  type: 'asha';
  /** The first rung (the grace period). Default 1. */
  min?: number;
  /** The budget of a trial that is never stopped. Default: the resource param's value in the pipeline. */
  max?: number;
  /** η, an integer ≥ 2. Default 3. */
  reductionFactor?: number;
}

/**
 * Hyperband (Li et al. 2017): trials are split among brackets s = s_max … 0, s_max =
 * ⌊log_η(max/min)⌋; bracket s starts ⌈(s_max+1)/(s+1)·η^s⌉ configurations per Hyperband iteration
 * at first rung max·η^−s and halves them asynchronously at each rung, as ASHA does. Same fields
 * and defaults as ASHA.
 */
export interface HyperbandSchedulerSpec extends SweepSchedulerCommon {
  type: 'hyperband';
  min?: number;
  max?: number;
  reductionFactor?: number;
}

/**
 * Population-based training (Jaderberg et al. 2017). Trials run in segments of `interval` epochs;
 * at each segment's end a trial in the bottom `quantile` copies a top-`quantile` trial's checkpoint
 * (weights and optimizer state) and params, then perturbs its `mutable` params.
 */
export interface PbtSchedulerSpec extends SweepSchedulerCommon {
  type: 'pbt';
  /** Epochs between exploit decisions. Required. */
  interval: number;
  /** The budget of every trial. Default: the resource param's value in the pipeline. */
  max?: number;
  /** Fraction of the population in the bottom (and top) group, in (0, 0.5]. Default 0.25 (Ray). */
  quantile?: number;
  /** Chance that a mutable param is drawn again from the space instead of perturbed. Default 0.25. */
  resampleProbability?: number;
  /** Factors a numeric param is multiplied by, one picked at random. Default [0.8, 1.2]. */
  perturbation?: [number, number];
  /**
   * The space keys an exploit may change. Default: the numeric (uniform, logUniform, int) space
   * keys of the resource's node. Only that node's params can change, since the copied checkpoint
   * fixes the model and the data.
   */
  mutable?: string[];
}

export type SweepScheduler = { type: 'none' } | AshaSchedulerSpec | HyperbandSchedulerSpec | PbtSchedulerSpec;

/** The `sweep` block as written in a pipeline file. */
export interface SweepSpec {
  objective: SweepObjective;
  /** `"node.param"` → where its values come from. */
  space: Record<string, SweepDomain>;
  /** Default `random`. */
  algorithm?: SweepAlgorithm;
  /** Default: none (every trial runs its full budget). */
  scheduler?: SweepScheduler;
  /**
   * Configurations to try. Default: the grid's size for `grid`, one Hyperband iteration's total
   * for a Hyperband scheduler; required otherwise.
   */
  trials?: number;
  /** Trials running at once. Default 1. */
  concurrency?: number;
  /** Seed of the samplers and schedulers. Default: the pipeline's seed. */
  seed?: number;
}

/** Where a sweep is in its life; `done`, `failed` and `cancelled` are final until a resume. */
export type SweepStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/**
 * Where a trial is. `pruned`: its scheduler stopped it early (its metrics and checkpoint are kept);
 * `cancelled`: the sweep was cancelled or interrupted while it ran (a resume continues it);
 * `failed`: its run failed or its values broke a node's checks (a resume with `rerunFailed` runs
 * it again). These names are a contract: `distillery sweeps show --json` prints them.
 */
export type TrialStatus = 'queued' | 'running' | 'done' | 'pruned' | 'failed' | 'cancelled';

/** A scheduler's reading of a trial: the value of its metric after `resource` units (epochs). */
export interface TrialResultPoint {
  resource: number;
  value: number;
}

/** How one PBT explore step changed one param. */
export interface TrialParamChange {
  key: string;
  /** Absent when the param was not active before (`activated`). */
  from?: JsonValue;
  /** Absent when the param is no longer active (`deactivated`). */
  to?: JsonValue;
  /** ×factor, a choice's neighbour, a fresh draw, or a `when` condition that changed. */
  how: 'perturb' | 'shift' | 'resample' | 'activated' | 'deactivated';
  factor?: number;
}

/**
 * One PBT exploit: at `resource` the trial was in the bottom quantile, copied trial `from`'s
 * checkpoint at `atResource` (weights and optimizer state) and params, and explored from them.
 */
export interface TrialExploitInfo {
  resource: number;
  from: number;
  atResource: number;
  /** The trial's params before the exploit, and after it. */
  before: Record<string, JsonValue>;
  after: Record<string, JsonValue>;
  changes: TrialParamChange[];
  /** The run that continued from the copied checkpoint, once it started. */
  runId: string | null;
}

/** One trial of a sweep: a configuration and the runs that tried it. */
export interface TrialInfo {
  sweepId: string;
  /** 0-based position in the sweep; samplers and schedulers know trials by it. */
  index: number;
  /** Space key (`node.param`) → value, for the params active in this trial. */
  params: Record<string, JsonValue>;
  status: TrialStatus;
  /** The objective's value when the trial ran to its end; null otherwise. */
  objective: number | null;
  /** The resource (e.g. epochs) the trial reached: its budget, or where it was stopped. */
  epochs: number;
  /** Epochs it trained in all, counting those a PBT exploit trained again. */
  epochsTrained: number;
  /** Its latest run (a PBT trial has one per segment it ran); null before it starts. */
  runId: string | null;
  /** All its runs, oldest first. */
  runs: string[];
  /** The scheduler metric at the furthest resource it reported; null before its first. */
  lastResult: TrialResultPoint | null;
  /** Where and why the scheduler stopped it, for a pruned trial. */
  stopped: { rung: number; reason: string } | null;
  /** PBT's exploits of this trial, in order. */
  exploits: TrialExploitInfo[];
  error: ErrorInfo | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Every scheduler reading, in order; only in `sweeps.get` with `curves`. */
  curve?: TrialResultPoint[];
}

/** The best trial so far and where its models are. */
export interface SweepBest {
  trial: number;
  objective: number;
  runId: string | null;
  /** `node.port` → model version id, for every model the best trial's run registered. */
  models: Record<string, string>;
  /**
   * The alias each of those models' best version carries (`sweep-<id>-best`), so that
   * `<model>@<alias>` names the best trial's model in one step.
   */
  alias: string;
}

/** A sweep without its trials and pipeline: what `sweeps.list` and `sweep.status` carry. */
export interface SweepSummary {
  id: string;
  /** The pipeline's name. */
  name: string;
  status: SweepStatus;
  pipelineFile: string | null;
  /** The `sweep` block as written. */
  spec: SweepSpec;
  objective: SweepObjective;
  algorithm: SweepAlgorithm;
  scheduler: SchedulerType;
  /** The scheduler's resource param (`node.param`); null without a scheduler. */
  resource: string | null;
  /** Configurations the sweep tries in all. */
  trialCount: number;
  concurrency: number;
  seed: number;
  /** Trials in each state (trials not yet proposed are counted in none). */
  counts: Record<TrialStatus, number>;
  best: SweepBest | null;
  /** Why the sweep failed, or why it was closed after the process running it had exited. */
  error: ErrorInfo | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/**
 * How much one swept param mattered: the share of the objective's variance explained by the
 * trials' groups of its values (ε² of a one-way analysis of variance; README "Sweeps").
 */
export interface ParamImportanceInfo {
  /** The space key, `node.param`. */
  key: string;
  /** ε², in [0, 1]. */
  importance: number;
  /** `importance` over the sum of every param's (0 when all are 0). */
  normalised: number;
  /** Groups the trials fell into (bins of a numeric param, values of a choice). */
  groups: number;
}

/**
 * A sweep with its pipeline and trials (`sweeps.get`, `distillery sweeps show --json`). The field
 * names are a contract that users' scripts rely on.
 */
export interface SweepInfo extends SweepSummary {
  /** The pipeline with its `sweep` block. */
  pipeline: PipelineDoc;
  /** Every trial proposed so far, by index. */
  trials: TrialInfo[];
  /**
   * Each swept param's importance from the finished trials, most important first (all 0 before 3
   * trials have finished); only in `sweeps.get` with `importance`.
   */
  importance?: ParamImportanceInfo[];
}

// ---------------------------------------------------------------------------------------------
// Requests and events

/** A sample pipeline shipped in resources/pipelines/ (`pipelines.samples`), in gallery order. */
export interface SampleEntry {
  name: string;
  file: string;
  doc: PipelineDoc;
  /** Title for the gallery ("MNIST MLP"); the name for a sample the index does not list. */
  title: string;
  /**
   * Wall time of `distillery run` of the sample as shipped, in a fresh data directory on a 2-core
   * machine (test/bench/samples.ts), in seconds; null when not measured.
   */
  expectedSeconds: number | null;
  /** Debian packages the sample reads data from, and whether each is installed on this machine. */
  requires: Array<{ debian: string; installed: boolean }>;
}

/** Every request: params in, result out. Each method takes one params object. */
export interface RequestMap {
  /** Node specs as data, for the palette and the inspector. */
  'catalog.list': (params: Record<string, never>) => Promise<NodeSpecInfo[]>;
  /**
   * Every problem of a document (shape, graph, params), never only the first. `doc` may be any
   * value, since the point is to say what is wrong with it; `file`, the path it was read from, is
   * named in every issue.
   */
  'pipelines.validate': (params: { doc: unknown; file?: string }) => Promise<ValidationIssue[]>;
  /** Reads and validates a pipeline file; a corrupt file is refused whole. */
  'pipelines.load': (params: { path: string }) => Promise<{ doc: PipelineDoc; issues: ValidationIssue[] }>;
  /** Writes a document in canonical form (a `.distillery.json` suffix is added when missing). */
  'pipelines.save': (params: { path: string; doc: PipelineDoc }) => Promise<{ path: string }>;
  /** The sample pipelines shipped in resources/pipelines/. */
  'pipelines.samples': (params: Record<string, never>) => Promise<SampleEntry[]>;
  /**
   * Validates, plans and starts a run; returns at once with the run queued. `force` runs every
   * task again; `forceNodes` runs those nodes and everything downstream of them again. `executor`
   * runs its tasks there whatever the pipeline's `executor` block says.
   */
  'runs.start': (params: {
    doc: PipelineDoc;
    force?: boolean;
    forceNodes?: string[];
    pipelineFile?: string;
    executor?: ExecutorName;
  }) => Promise<RunInfo>;
  /** Cancels a run: running tasks checkpoint and stop, queued ones are dropped. */
  'runs.cancel': (params: { runId: string }) => Promise<RunInfo>;
  /**
   * Continues a cancelled or failed run from each task's last checkpoint, where it ran before
   * unless `executor` says where.
   */
  'runs.resume': (params: { runId: string; executor?: ExecutorName }) => Promise<RunInfo>;
  /** Recent runs, newest first (100 unless `limit` says otherwise). */
  'runs.list': (params: { limit?: number }) => Promise<RunInfo[]>;
  /** One run with its tasks. */
  'runs.get': (params: { runId: string }) => Promise<RunInfo>;
  /**
   * Runs for the runs table, newest first: params and figures, no pipelines (all unless `limit`;
   * only those named when `runIds` is given).
   */
  'runs.summaries': (params: { limit?: number; runIds?: string[] }) => Promise<RunSummaries>;
  /** Renames, tags or annotates a run (`label: null` drops the name); the fields given change. */
  'runs.update': (params: {
    runId: string;
    label?: string | null;
    tags?: string[];
    note?: string;
  }) => Promise<RunInfo>;
  /**
   * Deletes a finished run: its records, metrics, logs and folder. The model versions it registered
   * stay in the registry unless `deleteModels` (then those without descendants elsewhere go too).
   */
  'runs.delete': (params: { runId: string; deleteModels?: boolean }) => Promise<{
    deleted: string;
    deletedModels: string[];
    keptModels: string[];
  }>;
  /**
   * A task's recorded metric points, optionally only some names or only after a step. A reused
   * task has the points of the task it reused.
   */
  'runs.metrics': (params: {
    taskId: string;
    names?: string[];
    sinceStep?: number;
  }) => Promise<MetricPointInfo[]>;
  /** A task's log lines. */
  'runs.logs': (params: { taskId: string }) => Promise<LogLine[]>;
  /** Model versions, newest first; `name` keeps one model's versions. */
  'models.list': (params: { name?: string }) => Promise<ModelVersionInfo[]>;
  /** One version by reference: id, `name:version`, `name@alias` or `name` (its latest). */
  'models.get': (params: { ref: string }) => Promise<ModelVersionInfo>;
  /** A version's ancestors and descendants, with the operation on each edge. */
  'models.lineage': (params: { ref: string }) => Promise<LineageGraph>;
  /** Points `alias` at a version (moving it if it named another version of the model). */
  'models.tag': (params: { ref: string; alias: string }) => Promise<ModelVersionInfo>;
  /** Removes `alias` from the version it names; ALIAS_INVALID when that version lacks it. */
  'models.untag': (params: { ref: string; alias: string }) => Promise<ModelVersionInfo>;
  /** Every registered model (a name with its versions), by name. */
  'models.registered': (params: Record<string, never>) => Promise<RegisteredModelInfo[]>;
  /** Sets the description of a registered model (by name). */
  'models.describe': (params: { name: string; description: string }) => Promise<RegisteredModelInfo>;
  /** Deletes a version; refused while others derive from it unless `force`. */
  'models.delete': (params: { ref: string; force?: boolean }) => Promise<{ deleted: string[] }>;
  /**
   * Writes a version to `outDir` in one of `system.info`'s export formats. A relative `outDir` is a
   * folder below `<data dir>/exports`. A folder that holds anything but exports of this same version
   * (or of a model with the same content) is refused with EXPORT_TARGET_INVALID unless `force`.
   */
  'models.export': (params: {
    ref: string;
    format: string;
    outDir: string;
    force?: boolean;
  }) => Promise<{ files: string[] }>;
  /**
   * Starts the search of a pipeline's `sweep` block: each trial is an ordinary run of the pipeline
   * with the trial's values; returns at once with the sweep recorded.
   */
  'sweeps.start': (params: { doc: PipelineDoc; pipelineFile?: string }) => Promise<SweepInfo>;
  /** Recent sweeps, newest first (100 unless `limit` says otherwise). */
  'sweeps.list': (params: { limit?: number }) => Promise<SweepSummary[]>;
  /**
   * One sweep with its trials; `curves` adds each trial's scheduler readings, `importance` each
   * swept param's importance.
   */
  'sweeps.get': (params: { sweepId: string; curves?: boolean; importance?: boolean }) => Promise<SweepInfo>;
  /** Cancels a sweep: running trials checkpoint and stop (a resume continues them), no new ones start. */
  'sweeps.cancel': (params: { sweepId: string }) => Promise<SweepInfo>;
  /**
   * Continues a cancelled or interrupted sweep: finished trials stay, cancelled and running ones
   * continue from their checkpoints, then new ones are proposed. Failed trials stay failed unless
   * `rerunFailed`, which runs them again too.
   */
  'sweeps.resume': (params: { sweepId: string; rerunFailed?: boolean }) => Promise<SweepInfo>;
  /** Version, backend, resources and queue of this installation. */
  'system.info': (params: Record<string, never>) => Promise<SystemInfo>;
}

/** The name of a request. */
export type RequestName = keyof RequestMap;
/** The params object of a request. */
export type RequestParams<K extends RequestName> = Parameters<RequestMap[K]>[0];
/** What a request resolves to, inside the answer envelope. */
export type RequestResult<K extends RequestName> = Awaited<ReturnType<RequestMap[K]>>;

/** Every event main pushes to clients. */
export interface EventMap {
  /** A run changed: its status, backend or error. */
  'run.status': RunInfo;
  /** A task changed status, progress or checkpoint. */
  'task.status': TaskInfo;
  /** New metric points of a task, batched a few times a second. */
  'task.metrics': MetricBatch;
  /** A line a task logged. */
  'task.log': LogLine;
  /** An image grid a task wrote. */
  'task.sample': TaskSample;
  /** A sweep changed: its status, counts or best trial. */
  'sweep.status': SweepSummary;
  /** A trial changed: its status, run, scheduler reading or objective. */
  'trial.status': TrialInfo;
  /**
   * The registry changed (a version registered, tagged, described or deleted, metrics recorded),
   * in this process or another one using the same data directory.
   */
  'registry.changed': RegistryChange;
}

/** What `registry.changed` says: the registry's size now, for counts that need no refetch. */
export interface RegistryChange {
  versions: number;
  models: number;
}

/** The name of an event. */
export type EventName = keyof EventMap;

/** The answer envelope of every handler, on every transport. */
export type Answer<T> = { ok: true; result: T } | { ok: false; error: ErrorInfo };

// ---------------------------------------------------------------------------------------------
// Schemas, tied to RequestMap

/**
 * A pipeline document as `runs.start` and `pipelines.save` receive it: any value, required. Its
 * shape is the validator's to check (main/pipeline/validate.ts), which names every problem as
 * `distillery validate` does for a file; a zod shape here would drop unknown fields and pass
 * non-finite numbers before the validator could name them.
 */
const pipelineDocSchema = z.custom<PipelineDoc>((value) => value !== undefined, { message: 'Required' });

const id = z.string().min(1).max(200);
const executorName = z.enum(['local', 'slurm']);

/** Longest run label, tag, note and model description (the run store and registry check them too). */
export const RUN_LABEL_MAX_LENGTH = 200;
export const RUN_TAG_MAX_LENGTH = 64;
export const RUN_TAGS_MAX = 64;
export const RUN_NOTE_MAX_LENGTH = 20_000;
export const MODEL_DESCRIPTION_MAX_LENGTH = 20_000;

/**
 * The params of a method that takes none: an empty object, any key refused. zod infers `{}` for
 * it, which TypeScript reads as "any value but null"; the contract means "no keys".
 */
const noParams = z
  .object({})
  .strict()
  .transform((params): Record<string, never> => params);

/**
 * Zod schemas of every request's params object; the transports validate with these. Each infers
 * exactly its method's params in RequestMap, or the contract does not compile (`SchemaDrift`).
 */
export const requestSchemas = {
  'catalog.list': noParams,
  'pipelines.validate': z
    .object({ doc: z.unknown(), file: z.string().min(1).optional() })
    .strict()
    // zod types a key of `unknown` as optional, and accepts it missing; the document is required.
    .refine((params): params is { doc: unknown; file?: string } => 'doc' in params, {
      message: 'Required',
      path: ['doc'],
    }),
  'pipelines.load': z.object({ path: z.string().min(1) }).strict(),
  'pipelines.save': z.object({ path: z.string().min(1), doc: pipelineDocSchema }).strict(),
  'pipelines.samples': noParams,
  'runs.start': z
    .object({
      doc: pipelineDocSchema,
      force: z.boolean().optional(),
      forceNodes: z.array(id).max(100_000).optional(),
      pipelineFile: z.string().optional(),
      executor: executorName.optional(),
    })
    .strict(),
  'runs.cancel': z.object({ runId: id }).strict(),
  'runs.resume': z.object({ runId: id, executor: executorName.optional() }).strict(),
  'runs.list': z.object({ limit: z.number().int().positive().max(10_000).optional() }).strict(),
  'runs.get': z.object({ runId: id }).strict(),
  'runs.summaries': z
    .object({
      limit: z.number().int().positive().max(1_000_000).optional(),
      runIds: z.array(id).max(100_000).optional(),
    })
    .strict(),
  'runs.update': z
    .object({
      runId: id,
      label: z.string().max(RUN_LABEL_MAX_LENGTH).nullable().optional(),
      tags: z.array(z.string().min(1).max(RUN_TAG_MAX_LENGTH)).max(RUN_TAGS_MAX).optional(),
      note: z.string().max(RUN_NOTE_MAX_LENGTH).optional(),
    })
    .strict(),
  'runs.delete': z.object({ runId: id, deleteModels: z.boolean().optional() }).strict(),
  'runs.metrics': z
    .object({ taskId: id, names: z.array(z.string()).optional(), sinceStep: z.number().optional() })
    .strict(),
  'runs.logs': z.object({ taskId: id }).strict(),
  'models.list': z.object({ name: z.string().optional() }).strict(),
  'models.get': z.object({ ref: id }).strict(),
  'models.lineage': z.object({ ref: id }).strict(),
  'models.tag': z.object({ ref: id, alias: z.string().min(1).max(100) }).strict(),
  'models.untag': z.object({ ref: id, alias: z.string().min(1).max(100) }).strict(),
  'models.registered': noParams,
  'models.describe': z
    .object({ name: id, description: z.string().max(MODEL_DESCRIPTION_MAX_LENGTH) })
    .strict(),
  'models.delete': z.object({ ref: id, force: z.boolean().optional() }).strict(),
  'models.export': z
    .object({ ref: id, format: z.string().min(1), outDir: z.string().min(1), force: z.boolean().optional() })
    .strict(),
  'sweeps.start': z.object({ doc: pipelineDocSchema, pipelineFile: z.string().optional() }).strict(),
  'sweeps.list': z.object({ limit: z.number().int().positive().max(10_000).optional() }).strict(),
  'sweeps.get': z
    .object({ sweepId: id, curves: z.boolean().optional(), importance: z.boolean().optional() })
    .strict(),
  'sweeps.cancel': z.object({ sweepId: id }).strict(),
  'sweeps.resume': z.object({ sweepId: id, rerunFailed: z.boolean().optional() }).strict(),
  'system.info': noParams,
} as const;

/**
 * `true` when A and B are the same type, not merely assignable one way: an optional key that only
 * one side has, which assignability lets through, makes them differ.
 */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/**
 * The methods whose schema does not infer exactly their params (or that have no schema, or a
 * schema but no method): `never` when `Schemas` and `Map` agree. Generic so that a test can show
 * it catches drift in made-up maps.
 */
export type SchemaDrift<Map = RequestMap, Schemas = typeof requestSchemas> =
  | {
      [K in keyof Map]: K extends keyof Schemas
        ? Map[K] extends (params: infer P) => unknown
          ? Schemas[K] extends z.ZodTypeAny
            ? Equals<z.infer<Schemas[K]>, P> extends true
              ? never
              : K
            : K
          : K
        : K;
    }[keyof Map]
  | Exclude<keyof Schemas, keyof Map>;

/** Compiles only when `Drift` is `never`; the error goes on to name a method that drifted. */
type AssertNoDrift<Drift extends never> = Drift;

/** The compile-time tie between `requestSchemas` and `RequestMap`: a drift fails here. */
export type RequestSchemasMatchRequestMap = AssertNoDrift<SchemaDrift>;
