/**
 * Pipeline files (`*.distillery.json`): parsing with precise JSON errors, format migrations, and
 * refusal of a corrupt file as a whole — never a half-loaded pipeline. Pure: callers read the text.
 */
import type { PipelineDoc, ValidationIssue } from '../../preload/contract';
import { DistilleryError, isErrorCode } from '../base/errors';
import type { NodeCatalog } from '../nodes/catalog';
import { jsonErrorPosition } from './json-position';
import { PIPELINE_FORMAT, validatePipeline, type ResolvedPipeline } from './validate';

export const PIPELINE_FILE_SUFFIX = '.distillery.json';

/** Migrations from older formats, keyed by the format they read. None yet: format 1 is the first. */
const MIGRATIONS: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {};

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  return { line, column: position - before.lastIndexOf('\n') };
}

/** Parses JSON, turning syntax errors into PIPELINE_JSON_INVALID with line and column. */
export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = jsonErrorPosition(text);
    const where = position >= 0 ? lineAndColumn(text, position) : undefined;
    throw new DistilleryError(
      'PIPELINE_JSON_INVALID',
      `${file}${where ? `:${where.line}:${where.column}` : ''}: not valid JSON (${message})`,
      { file, ...(where ?? {}) },
    );
  }
}

/** Applies format migrations up to the current format; unknown newer formats are left to validation. */
export function migrate(doc: unknown): unknown {
  if (typeof doc !== 'object' || doc === null) return doc;
  let current = doc as Record<string, unknown>;
  while (
    typeof current.format === 'number' &&
    current.format < PIPELINE_FORMAT &&
    MIGRATIONS[current.format]
  ) {
    current = MIGRATIONS[current.format]!(current);
  }
  return current;
}

/** The error thrown for an invalid pipeline: its details carry every issue. */
export function invalidPipelineError(issues: ValidationIssue[], file?: string): DistilleryError {
  const first = issues[0]!;
  const code = isErrorCode(first.code) ? first.code : 'PIPELINE_SCHEMA';
  const lines = issues.map(
    (issue) =>
      `  - [${issue.code}] ${issue.message}${issue.pointer !== undefined ? ` (at ${issue.pointer || '/'})` : ''}`,
  );
  return new DistilleryError(
    code,
    `${file ? `${file}: ` : ''}pipeline is invalid (${issues.length} issue${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    { file, issues },
  );
}

/** Parses, migrates and validates a pipeline file's text; throws with every issue when invalid. */
export function parsePipelineFile(text: string, file: string, catalog: NodeCatalog): ResolvedPipeline {
  const doc = migrate(parseJson(text, file));
  const { issues, pipeline } = validatePipeline(doc, catalog, file);
  if (!pipeline) throw invalidPipelineError(issues, file);
  return pipeline;
}

/** The canonical text of a pipeline file: two-space JSON with a trailing newline. */
export function serializePipeline(doc: PipelineDoc): string {
  return JSON.stringify(doc, null, 2) + '\n';
}
