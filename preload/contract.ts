/**
 * THE contract between the renderer (or any client of `distillery serve`) and main: every request
 * (name → params → result), every pushed event (name → payload), the DTOs they carry, and the zod
 * schemas that validate requests at the boundary. Types and schemas only: no other runtime import.
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

export type PortType = 'dataset' | 'model' | 'diffusion-model';

export interface PortSpecInfo {
  type: PortType;
  help?: string;
  optional?: boolean;
}

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
      help?: string;
    };

export interface NodeSpecInfo {
  type: string;
  version: number;
  title: string;
  category: 'data' | 'model' | 'train' | 'compress' | 'diffusion' | 'evaluate' | 'export';
  help: string;
  inputs: Record<string, PortSpecInfo>;
  outputs: Record<string, PortSpecInfo>;
  params: Record<string, ParamSpecInfo>;
  op: string;
}

// ---------------------------------------------------------------------------------------------
// Runs and tasks

export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export type TaskStatus = 'queued' | 'running' | 'done' | 'reused' | 'failed' | 'cancelled' | 'skipped';

export interface BackendSummary {
  name: string;
  package: string;
  skipped: Array<{ name: string; reason: string }>;
  features: Record<string, boolean | number | string>;
}

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
  progress: { done: number; total: number; etaSeconds: number | null } | null;
  backend: BackendSummary | null;
  startedAt: string | null;
  finishedAt: string | null;
  summary: Record<string, unknown> | null;
  error: { code: string; message: string; details?: Record<string, unknown> } | null;
  checkpoint: { path: string; step: number } | null;
  /** Model versions this task registered, by output port. */
  models: Record<string, string>;
  taskDir: string;
}

export interface RunInfo {
  id: string;
  name: string;
  status: RunStatus;
  seed: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Backend the run's workers used (the first task's), with the reasons faster ones were skipped. */
  backend: BackendSummary | null;
  versions: Record<string, string>;
  pipelineFile: string | null;
  /** The pipeline document the run executes (its graph, for the run view). */
  pipeline: PipelineDoc;
  error: { code: string; message: string; details?: Record<string, unknown> } | null;
  tasks: TaskInfo[];
}

export interface MetricPointInfo {
  step: number;
  epoch?: number;
  name: string;
  value: number;
  time: number;
}

export interface MetricBatch {
  runId: string;
  taskId: string;
  points: MetricPointInfo[];
}

export interface LogLine {
  runId: string;
  taskId: string;
  level: 'info' | 'warn' | 'error';
  message: string;
  time: number;
}

// ---------------------------------------------------------------------------------------------
// Registry

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

export interface LineageEdge {
  parentId: string;
  childId: string;
  operation: string;
  params: Record<string, unknown>;
  taskId: string | null;
}

export interface LineageGraph {
  root: string;
  nodes: ModelVersionInfo[];
  edges: LineageEdge[];
}

export interface SystemInfo {
  version: string;
  backend: BackendSummary | null;
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
// Requests, events, schemas

const pipelineDocSchema = z.object({
  format: z.literal(1),
  name: z.string(),
  seed: z.number(),
  description: z.string().optional(),
  nodes: z.array(
    z.object({
      id: z.string(),
      type: z.string(),
      params: z.record(z.unknown()),
      ui: z.object({ x: z.number(), y: z.number() }).optional(),
    }),
  ),
  edges: z.array(z.object({ from: z.string(), to: z.string() })),
});

const id = z.string().min(1).max(200);

/** Zod schemas of every request's params object; the transports validate with these. */
export const requestSchemas = {
  'catalog.list': z.object({}).strict(),
  'pipelines.validate': z.object({ doc: z.unknown() }).strict(),
  'pipelines.load': z.object({ path: z.string().min(1) }).strict(),
  'pipelines.save': z.object({ path: z.string().min(1), doc: pipelineDocSchema }).strict(),
  'pipelines.samples': z.object({}).strict(),
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
  'system.info': z.object({}).strict(),
} as const;

export type RequestName = keyof typeof requestSchemas;

export interface SampleEntry {
  name: string;
  file: string;
  doc: PipelineDoc;
}

/** Every request: params in, result out. */
export interface RequestMap {
  /** Node specs as data, for the palette and the inspector. */
  'catalog.list': (params: Record<string, never>) => Promise<NodeSpecInfo[]>;
  /** Every problem of a document (shape, graph, params), never only the first. */
  'pipelines.validate': (params: { doc: unknown }) => Promise<ValidationIssue[]>;
  /** Reads and validates a pipeline file; a corrupt file is refused whole. */
  'pipelines.load': (params: { path: string }) => Promise<{ doc: PipelineDoc; issues: ValidationIssue[] }>;
  'pipelines.save': (params: { path: string; doc: PipelineDoc }) => Promise<{ path: string }>;
  /** The sample pipelines shipped in resources/pipelines/. */
  'pipelines.samples': (params: Record<string, never>) => Promise<SampleEntry[]>;
  /** Validates, plans and starts a run; returns at once with the run queued. */
  'runs.start': (params: { doc: PipelineDoc; force?: boolean; pipelineFile?: string }) => Promise<RunInfo>;
  'runs.cancel': (params: { runId: string }) => Promise<RunInfo>;
  /** Continues a cancelled or failed run from each task's last checkpoint. */
  'runs.resume': (params: { runId: string }) => Promise<RunInfo>;
  'runs.list': (params: { limit?: number }) => Promise<RunInfo[]>;
  'runs.get': (params: { runId: string }) => Promise<RunInfo>;
  'runs.metrics': (params: {
    taskId: string;
    names?: string[];
    sinceStep?: number;
  }) => Promise<MetricPointInfo[]>;
  'runs.logs': (params: { taskId: string }) => Promise<LogLine[]>;
  'models.list': (params: { name?: string }) => Promise<ModelVersionInfo[]>;
  'models.get': (params: { ref: string }) => Promise<ModelVersionInfo>;
  'models.lineage': (params: { ref: string }) => Promise<LineageGraph>;
  'models.tag': (params: { ref: string; alias: string }) => Promise<ModelVersionInfo>;
  'models.delete': (params: { ref: string; force?: boolean }) => Promise<{ deleted: string[] }>;
  'models.export': (params: { ref: string; format: string; outDir: string }) => Promise<{ files: string[] }>;
  'system.info': (params: Record<string, never>) => Promise<SystemInfo>;
}

/** Every event main pushes to clients. */
export interface EventMap {
  'run.status': RunInfo;
  'task.status': TaskInfo;
  'task.metrics': MetricBatch;
  'task.log': LogLine;
  'task.sample': { runId: string; taskId: string; path: string; step: number };
}

export type EventName = keyof EventMap;

/** The answer envelope of every handler, on every transport. */
export type Answer<T> =
  | { ok: true; result: T }
  | { ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };
