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

/** One parameter of a node type as data: its kind, default, bounds and help, for the inspector. */
export type ParamSpecInfo =
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
  /** Latest value of each metric recorded for this version (accuracy, loss, …). */
  metrics: Record<string, number>;
  meta: Record<string, unknown>;
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
}

// ---------------------------------------------------------------------------------------------
// Requests and events

/** A sample pipeline shipped in resources/pipelines/ (`pipelines.samples`). */
export interface SampleEntry {
  name: string;
  file: string;
  doc: PipelineDoc;
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
  /** Validates, plans and starts a run; returns at once with the run queued. */
  'runs.start': (params: { doc: PipelineDoc; force?: boolean; pipelineFile?: string }) => Promise<RunInfo>;
  /** Cancels a run: running tasks checkpoint and stop, queued ones are dropped. */
  'runs.cancel': (params: { runId: string }) => Promise<RunInfo>;
  /** Continues a cancelled or failed run from each task's last checkpoint. */
  'runs.resume': (params: { runId: string }) => Promise<RunInfo>;
  /** Recent runs, newest first (100 unless `limit` says otherwise). */
  'runs.list': (params: { limit?: number }) => Promise<RunInfo[]>;
  /** One run with its tasks. */
  'runs.get': (params: { runId: string }) => Promise<RunInfo>;
  /** A task's recorded metric points, optionally only some names or only after a step. */
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
  /** Deletes a version; refused while others derive from it unless `force`. */
  'models.delete': (params: { ref: string; force?: boolean }) => Promise<{ deleted: string[] }>;
  /** Writes a version to `outDir` in one of `system.info`'s export formats. */
  'models.export': (params: { ref: string; format: string; outDir: string }) => Promise<{ files: string[] }>;
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
    .object({ doc: pipelineDocSchema, force: z.boolean().optional(), pipelineFile: z.string().optional() })
    .strict(),
  'runs.cancel': z.object({ runId: id }).strict(),
  'runs.resume': z.object({ runId: id }).strict(),
  'runs.list': z.object({ limit: z.number().int().positive().max(10_000).optional() }).strict(),
  'runs.get': z.object({ runId: id }).strict(),
  'runs.metrics': z
    .object({ taskId: id, names: z.array(z.string()).optional(), sinceStep: z.number().optional() })
    .strict(),
  'runs.logs': z.object({ taskId: id }).strict(),
  'models.list': z.object({ name: z.string().optional() }).strict(),
  'models.get': z.object({ ref: id }).strict(),
  'models.lineage': z.object({ ref: id }).strict(),
  'models.tag': z.object({ ref: id, alias: z.string().min(1).max(100) }).strict(),
  'models.delete': z.object({ ref: id, force: z.boolean().optional() }).strict(),
  'models.export': z.object({ ref: id, format: z.string().min(1), outDir: z.string().min(1) }).strict(),
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
