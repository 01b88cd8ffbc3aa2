/**
 * One handler per contract method, transport-agnostic. Electron's IPC, `distillery serve` and the
 * CLI call `dispatch`, which validates params with the contract's zod schemas and answers with the
 * `{ok, result} | {ok: false, error}` envelope.
 */
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { freemem, totalmem, cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ZodIssue } from 'zod';
import {
  requestSchemas,
  type Answer,
  type PipelineDoc,
  type RequestMap,
  type RequestName,
  type SampleEntry,
  type ValidationIssue,
} from '../../preload/contract';
import { DistilleryError, serializeError } from '../base/errors';
import type { DistilleryApp } from '../app/app';
import { appRoot } from '../app/paths';
import { getExporter, listExporters, productVersion } from '../export/exporter';
import { migrate, parseJson, PIPELINE_FILE_SUFFIX, serializePipeline } from '../pipeline/pipeline-file';
import { validatePipeline } from '../pipeline/validate';
import { probeBackend } from './backend-probe';

type Params<K extends RequestName> = Parameters<RequestMap[K]>[0];
type Result<K extends RequestName> = Awaited<ReturnType<RequestMap[K]>>;
export type Handlers = { [K in RequestName]: (params: Params<K>) => Promise<Result<K>> };

/** Issues that make a file unusable as a document at all (as opposed to an invalid graph). */
const STRUCTURAL = new Set([
  'PIPELINE_SCHEMA',
  'PIPELINE_FORMAT_UNSUPPORTED',
  'EDGE_ENDPOINT_INVALID',
  'DUPLICATE_NODE_ID',
]);

function readPipelineFile(app: DistilleryApp, path: string): { doc: PipelineDoc; issues: ValidationIssue[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DistilleryError(
      'PIPELINE_FILE_UNREADABLE',
      `Cannot read ${path}: ${(error as Error).message}`,
      { file: path },
    );
  }
  const doc = migrate(parseJson(text, path));
  const { issues } = validatePipeline(doc, app.catalog, path);
  const structural = issues.filter((issue) => STRUCTURAL.has(issue.code));
  if (structural.length > 0) {
    throw new DistilleryError(
      structural[0]!.code as 'PIPELINE_SCHEMA',
      `${path}: not a usable pipeline file:\n${structural.map((issue) => `  - ${issue.message}`).join('\n')}`,
      { file: path, issues: structural },
    );
  }
  return { doc: doc as PipelineDoc, issues };
}

export function listSamples(app: DistilleryApp): SampleEntry[] {
  const dir = join(appRoot(), 'resources', 'pipelines');
  let files: string[] = [];
  try {
    files = readdirSync(dir)
      .filter((file) => file.endsWith(PIPELINE_FILE_SUFFIX))
      .sort();
  } catch {
    return [];
  }
  return files.map((file) => {
    const path = join(dir, file);
    const { doc } = readPipelineFile(app, path);
    return { name: basename(file, PIPELINE_FILE_SUFFIX), file: path, doc };
  });
}

export function createHandlers(app: DistilleryApp): Handlers {
  return {
    'catalog.list': async () => app.catalog.list(),
    'pipelines.validate': async ({ doc }) => validatePipeline(migrate(doc), app.catalog).issues,
    'pipelines.load': async ({ path }) => readPipelineFile(app, path),
    'pipelines.save': async ({ path, doc }) => {
      const target = path.endsWith('.json') ? path : `${path}${PIPELINE_FILE_SUFFIX}`;
      const temp = `${target}.${process.pid}.tmp`;
      writeFileSync(temp, serializePipeline(doc));
      renameSync(temp, target);
      return { path: target };
    },
    'pipelines.samples': async () => listSamples(app),
    'runs.start': async ({ doc, force, pipelineFile }) =>
      app.runner.start(doc, { force: force ?? false, pipelineFile: pipelineFile ?? null }),
    'runs.cancel': async ({ runId }) => app.runner.cancel(runId),
    'runs.resume': async ({ runId }) => app.runner.resume(runId),
    'runs.list': async ({ limit }) => app.runs.listRuns(limit ?? 100),
    'runs.get': async ({ runId }) => app.runs.getRun(runId),
    'runs.metrics': async ({ taskId, names, sinceStep }) =>
      app.runs.getMetrics(taskId, {
        ...(names ? { names } : {}),
        ...(sinceStep !== undefined ? { sinceStep } : {}),
      }),
    'runs.logs': async ({ taskId }) => app.runs.getLogs(taskId),
    'models.list': async ({ name }) => app.registry.list(name ? { name } : {}),
    'models.get': async ({ ref }) => app.registry.resolve(ref),
    'models.lineage': async ({ ref }) => app.registry.lineage(ref),
    'models.tag': async ({ ref, alias }) => app.registry.tag(ref, alias),
    'models.delete': async ({ ref, force }) => ({
      deleted: app.registry.delete(ref, { force: force ?? false }),
    }),
    'models.export': async ({ ref, format, outDir }) => exportModel(app, ref, format, outDir),
    'system.info': async () => ({
      version: productVersion(),
      backend: await probeBackend(app),
      cores: cpus().length,
      memoryBytes: totalmem(),
      freeMemoryBytes: freemem(),
      dataDir: app.layout.root,
      queueLength: app.runner.queueLength,
      versions: { node: process.versions.node, distillery: productVersion() },
      exportFormats: listExporters().map(({ format, title }) => ({ format, title })),
    }),
  };
}

/** Writes a registered model version to `outDir` in `format`. */
export async function exportModel(
  app: DistilleryApp,
  ref: string,
  format: string,
  outDir: string,
): Promise<{ files: string[] }> {
  const exporter = getExporter(format);
  const version = app.registry.resolve(ref);
  const staging = mkdtempSync(join(tmpdir(), 'distillery-export-'));
  try {
    await app.registry.materialize(version.id, staging);
    return await exporter.export(staging, outDir, {});
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function zodDetails(issues: ZodIssue[]): { issues: Array<{ path: string; message: string }> } {
  return { issues: issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })) };
}

export function isRequestName(name: string): name is RequestName {
  return Object.prototype.hasOwnProperty.call(requestSchemas, name);
}

/** Validates and runs one request; never throws. */
export async function dispatch(
  handlers: Handlers,
  method: string,
  params: unknown,
): Promise<Answer<unknown>> {
  if (!isRequestName(method)) {
    return {
      ok: false,
      error: {
        code: 'UNKNOWN_METHOD',
        message: `Unknown method "${method}"`,
        details: { received: method, expected: Object.keys(requestSchemas).join(', ') },
      },
    };
  }
  const parsed = requestSchemas[method].safeParse(params ?? {});
  if (!parsed.success) {
    const details = zodDetails(parsed.error.issues);
    const first = details.issues[0];
    return {
      ok: false,
      error: {
        code: 'INVALID_REQUEST',
        message: `Invalid params for ${method}: ${first ? `${first.path || '(params)'}: ${first.message}` : 'malformed'}`,
        details: { method, ...details },
      },
    };
  }
  try {
    // The schema has checked the params' shape against this very method's entry.
    const handler = handlers[method] as (p: unknown) => Promise<unknown>;
    return { ok: true, result: await handler(parsed.data) };
  } catch (error) {
    const { code, message, details } = serializeError(error);
    return { ok: false, error: details ? { code, message, details } : { code, message } };
  }
}
