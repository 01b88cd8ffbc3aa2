/**
 * Pipeline files (`*.distillery.json`): parsing with precise JSON errors, format migrations, and
 * refusal of a corrupt file as a whole — never a half-loaded pipeline. Pure: callers read the text.
 */
import type { PipelineDoc, ValidationIssue } from '../../preload/contract';
import { DistilleryError, isErrorCode } from '../base/errors';
import type { NodeCatalog } from '../nodes/catalog';
import { jsonErrorPosition } from './json-position';
import { PIPELINE_LIMITS, tooManyBytesIssue, utf8Length, type PipelineLimits } from './limits';
import { PIPELINE_FORMAT, validatePipeline, type ResolvedPipeline } from './validate';

export const PIPELINE_FILE_SUFFIX = '.distillery.json';

/** Migrations from older formats, keyed by the format they read. None yet: format 1 is the first. */
const MIGRATIONS: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {};

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < position; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: position - lineStart + 1 };
}

/** The byte order mark some editors write at the start of a UTF-8 file; it is not part of the JSON. */
const BYTE_ORDER_MARK = 0xfeff;

/**
 * Parses JSON, turning syntax errors into PIPELINE_JSON_INVALID with line and column. A leading
 * byte order mark is skipped; text over {@link PIPELINE_LIMITS}.bytes is refused before parsing.
 */
export function parseJson(text: string, file: string, limits: PipelineLimits = PIPELINE_LIMITS): unknown {
  // UTF-8 takes one to three bytes per UTF-16 unit, so only text that may be over the limit is measured.
  const bytes = text.length * 3 > limits.bytes ? utf8Length(text) : text.length;
  if (bytes > limits.bytes) {
    const issue = tooManyBytesIssue(bytes, limits.bytes);
    throw new DistilleryError('PIPELINE_TOO_LARGE', `${file}: ${issue.message}`, {
      file,
      pointer: '',
      expected: issue.expected,
      received: bytes,
      issues: [{ ...issue, file }],
    });
  }
  const body = text.charCodeAt(0) === BYTE_ORDER_MARK ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (error) {
    const message = (error as Error).message;
    const position = jsonErrorPosition(body);
    const where = position >= 0 ? lineAndColumn(body, position) : undefined;
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
    Object.hasOwn(MIGRATIONS, current.format)
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

/**
 * The canonical text of a pipeline file: two-space JSON with a trailing newline. Refuses, with
 * PIPELINE_TOO_LARGE, text that {@link parseJson} would refuse to read back: indentation makes a
 * file larger than the document it holds.
 */
export function serializePipeline(doc: PipelineDoc, limits: PipelineLimits = PIPELINE_LIMITS): string {
  const text = JSON.stringify(doc, null, 2) + '\n';
  const bytes = text.length * 3 > limits.bytes ? utf8Length(text) : text.length;
  if (bytes > limits.bytes) {
    const issue = tooManyBytesIssue(bytes, limits.bytes);
    throw new DistilleryError('PIPELINE_TOO_LARGE', `Written as a file (two-space JSON): ${issue.message}`, {
      pointer: '',
      expected: issue.expected,
      received: bytes,
    });
  }
  return text;
}
