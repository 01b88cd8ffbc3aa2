/**
 * One handler per contract method, transport-agnostic. Electron's IPC and `distillery serve` call
 * `dispatch`, which validates params with the contract's zod schemas and answers with the
 * `{ok, result} | {ok: false, error}` envelope; the CLI calls the same handlers directly, with
 * params its own argument parser has typed.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { freemem, totalmem, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ZodIssue } from 'zod';
import {
  requestSchemas,
  type Answer,
  type PipelineDoc,
  type RequestName,
  type RequestParams,
  type RequestResult,
  type SampleEntry,
  type SystemInfo,
  type ValidationIssue,
} from '../../preload/contract';
import { DistilleryError, serializeError } from '../base/errors';
import type { DistilleryApp } from '../app/app';
import { appRoot } from '../app/paths';
import { getExporter, listExporters } from '../export/exporter';
import { lineageSummary } from '../export/lineage-summary';
import { EXPORTS_FOLDER, resolveExportFolder } from '../export/out-dir';
import { productVersion } from '../export/producer';
import type { NodeCatalog } from '../nodes/catalog';
import { migrate, parseJson, PIPELINE_FILE_SUFFIX, serializePipeline } from '../pipeline/pipeline-file';
import { validatePipeline } from '../pipeline/validate';
import { probeBackend } from './backend-probe';
import { listSampleFiles } from './samples';
import { createSweepHandlers } from './sweep-handlers';

export type Handlers = { [K in RequestName]: (params: RequestParams<K>) => Promise<RequestResult<K>> };

/** The methods that need only the node catalog and the files they name: no data folder, no runner. */
export type DocumentMethod =
  'catalog.list' | 'pipelines.validate' | 'pipelines.load' | 'pipelines.save' | 'pipelines.samples';

/** Issues that make a file unusable as a document at all (as opposed to an invalid graph). */
const STRUCTURAL = new Set([
  'PIPELINE_SCHEMA',
  'PIPELINE_FORMAT_UNSUPPORTED',
  'EDGE_ENDPOINT_INVALID',
  'DUPLICATE_NODE_ID',
  'PIPELINE_TOO_LARGE',
  'PIPELINE_TOO_DEEP',
  // JSON cannot hold it: saved, it would become null and the document another one.
  'NUMBER_NOT_FINITE',
]);

/** Validates a document; throws when it is unusable as a document at all (see STRUCTURAL). */
function usableDocument(
  catalog: NodeCatalog,
  doc: unknown,
  path: string,
): { doc: PipelineDoc; issues: ValidationIssue[] } {
  const { issues } = validatePipeline(doc, catalog, path);
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

function readPipelineFile(
  catalog: NodeCatalog,
  path: string,
): { doc: PipelineDoc; issues: ValidationIssue[] } {
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
  return usableDocument(catalog, migrate(parseJson(text, path)), path);
}

/** The sample pipelines in gallery order, with their titles and measured run times (samples.ts). */
export function listSamples(catalog: NodeCatalog): SampleEntry[] {
  return listSampleFiles(
    join(appRoot(), 'resources', 'pipelines'),
    (path) => readPipelineFile(catalog, path).doc,
  );
}

/**
 * The handlers of the document methods. Split out so that the CLI's `validate` and `nodes` answer
 * through them without opening, creating or migrating a data folder.
 */
export function createDocumentHandlers(catalog: NodeCatalog): Pick<Handlers, DocumentMethod> {
  return {
    'catalog.list': async () => catalog.list(),
    'pipelines.validate': async ({ doc, file }) => validatePipeline(migrate(doc), catalog, file).issues,
    'pipelines.load': async ({ path }) => readPipelineFile(catalog, path),
    'pipelines.save': async ({ path, doc }) => {
      const target = path.endsWith('.json') ? path : `${path}${PIPELINE_FILE_SUFFIX}`;
      // Refused before writing what `pipelines.load` would refuse to read back; an unfinished graph is saved.
      const usable = usableDocument(catalog, migrate(doc), target).doc;
      const temp = `${target}.${process.pid}.tmp`;
      // The first save into a fresh data directory (or any new folder) creates the folders.
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(temp, serializePipeline(usable));
      renameSync(temp, target);
      return { path: target };
    },
    'pipelines.samples': async () => listSamples(catalog),
  };
}

export function createHandlers(app: DistilleryApp): Handlers {
  return {
    ...createDocumentHandlers(app.catalog),
    ...createSweepHandlers(app),
    'runs.start': async ({ doc, force, forceNodes, pipelineFile, executor }) =>
      app.runner.start(migrate(doc), {
        force: force ?? false,
        ...(forceNodes ? { forceNodes } : {}),
        pipelineFile: pipelineFile ?? null,
        ...(executor ? { executor } : {}),
      }),
    'runs.cancel': async ({ runId }) => app.runner.cancel(runId),
    'runs.resume': async ({ runId, executor }) => app.runner.resume(runId, executor ? { executor } : {}),
    'runs.list': async ({ limit }) => {
      // A run whose runner died since the data directory was opened is shown as interrupted.
      app.runner.settleAbandonedRuns();
      return app.runs.listRuns(limit ?? 100);
    },
    'runs.get': async ({ runId }) => app.runs.getRun(runId),
    'runs.summaries': async ({ limit, runIds }) => {
      app.runner.settleAbandonedRuns();
      return app.runs.summaries({
        ...(limit !== undefined ? { limit } : {}),
        ...(runIds ? { runIds } : {}),
        declaredMetrics: (type) => app.catalog.get(type)?.metrics,
      });
    },
    'runs.update': async ({ runId, label, tags, note }) =>
      app.runs.updateRunMetadata(runId, {
        ...(label !== undefined ? { label } : {}),
        ...(tags !== undefined ? { tags } : {}),
        ...(note !== undefined ? { note } : {}),
      }),
    'runs.delete': async ({ runId, deleteModels }) =>
      app.runner.deleteRun(runId, {
        deleteModels: deleteModels ?? false,
        models: {
          versionsOfRun: (id) => app.registry.versionsOfRun(id),
          delete: (ref) => app.registry.delete(ref),
        },
      }),
    // A reused task shows the points of the task whose result it reused.
    'runs.metrics': async ({ taskId, names, sinceStep }) =>
      app.runs.getMetrics(app.runs.metricsSourceOf(taskId), {
        ...(names ? { names } : {}),
        ...(sinceStep !== undefined ? { sinceStep } : {}),
      }),
    'runs.logs': async ({ taskId }) => app.runs.getLogs(taskId),
    'models.list': async ({ name }) => app.registry.list(name ? { name } : {}),
    'models.get': async ({ ref }) => app.registry.resolve(ref),
    'models.lineage': async ({ ref }) => app.registry.lineage(ref),
    'models.tag': async ({ ref, alias }) => app.registry.tag(ref, alias),
    'models.untag': async ({ ref, alias }) => app.registry.untag(ref, alias),
    'models.registered': async () => app.registry.registered(),
    'models.describe': async ({ name, description }) => app.registry.describe(name, description),
    'models.delete': async ({ ref, force }) => ({
      deleted: app.registry.delete(ref, { force: force ?? false }),
    }),
    'models.export': async ({ ref, format, outDir, force }) =>
      exportModel(app, ref, format, outDir, force ?? false),
    'system.info': async () => ({
      ...(await clusterOf(app)),
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

/** `system.info`'s `cluster`: this user's SLURM jobs, where SLURM is installed. */
async function clusterOf(app: DistilleryApp): Promise<Pick<SystemInfo, 'cluster'>> {
  const cluster = await app.runner.executorSet.clusterQueue();
  return cluster ? { cluster } : {};
}

/**
 * Writes a registered model version to `outDir` in `format`: a relative `outDir` is a folder below
 * `<data dir>/exports` (as in a pipeline's export node); a folder holding anything but exports of
 * this version is refused unless `force` (main/export/out-dir.ts).
 */
async function exportModel(
  app: DistilleryApp,
  ref: string,
  format: string,
  outDir: string,
  force: boolean,
): Promise<{ files: string[] }> {
  const exporter = getExporter(format);
  const version = app.registry.resolve(ref);
  const target = resolveExportFolder(outDir, join(app.layout.root, EXPORTS_FOLDER));
  if (!target) {
    throw new DistilleryError(
      'EXPORT_TARGET_INVALID',
      `Export folder ${JSON.stringify(outDir)} climbs out of ${join(app.layout.root, EXPORTS_FOLDER)}; give an absolute path or a folder below it`,
      {
        param: 'outDir',
        expected: 'an absolute path, or a path relative to <data dir>/exports inside it',
        received: outDir,
      },
    );
  }
  const staging = mkdtempSync(join(tmpdir(), 'distillery-export-'));
  try {
    await app.registry.materialize(version.id, staging);
    // Formats with a description field (ONNX doc_string) record where the version came from.
    return await exporter.export(staging, target, {
      lineage: lineageSummary(app.registry.lineage(version.id)),
      versionId: version.id,
      modelLabel: `${version.name} v${version.version}`,
      force,
      forceHint: 'force it (distillery export --force, "force": true in models.export)',
    });
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
