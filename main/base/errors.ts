import type { ErrorDetails, ErrorInfo } from '../../preload/contract';

/**
 * Every error that crosses a boundary (worker → runner, main → renderer, CLI output) carries one of
 * these codes. Codes are strings on the wire; never renumber or rename them.
 */
export const ERROR_CODES = [
  // pipeline files and graphs
  'PIPELINE_FILE_UNREADABLE',
  'PIPELINE_JSON_INVALID',
  'PIPELINE_FORMAT_UNSUPPORTED',
  'PIPELINE_SCHEMA',
  'UNKNOWN_FIELD',
  'DUPLICATE_NODE_ID',
  'UNKNOWN_NODE_TYPE',
  'EDGE_ENDPOINT_INVALID',
  'UNKNOWN_NODE',
  'UNKNOWN_PORT',
  'PORT_TYPE_MISMATCH',
  'INPUT_ALREADY_CONNECTED',
  'MISSING_INPUT',
  'CYCLE',
  'UNKNOWN_PARAM',
  'PARAM_TYPE',
  'PARAM_OUT_OF_RANGE',
  'PARAM_INVALID_CHOICE',
  'PARAM_INVALID',
  'INCOMPATIBLE_INPUTS',
  'MODEL_NAME_INVALID',
  'NUMBER_NOT_FINITE',
  'PIPELINE_TOO_LARGE',
  'PIPELINE_TOO_DEEP',
  'ISSUES_TRUNCATED',
  // catalog
  'DUPLICATE_NODE_TYPE',
  'UNKNOWN_OP',
  // data and models
  'DATASET_NOT_FOUND',
  'DATASET_INVALID',
  'MODEL_INVALID',
  'CHECKPOINT_INVALID',
  // worker and runs
  'BACKEND_UNAVAILABLE',
  'WORKER_PROTOCOL',
  'WORKER_CRASHED',
  'WORKER_START_FAILED',
  'TASK_FAILED',
  'TASK_CANCELLED',
  'UPSTREAM_FAILED',
  'RUN_NOT_FOUND',
  'RUN_NOT_RESUMABLE',
  'RUN_ALREADY_FINISHED',
  'RUN_INTERRUPTED',
  'RUN_ACTIVE',
  'RUN_METADATA_INVALID',
  // registry
  'MODEL_NOT_FOUND',
  'MODEL_REF_INVALID',
  'MODEL_HAS_DESCENDANTS',
  'ALIAS_INVALID',
  'ARTIFACT_CORRUPT',
  'STORAGE_NOT_WRITABLE',
  'EXPORT_FORMAT_UNKNOWN',
  'EXPORT_TARGET_INVALID',
  'EXPORT_UNSUPPORTED',
  // sweeps
  'SWEEP_INVALID',
  'SWEEP_UNKNOWN_PARAM',
  'SWEEP_PARAM_KIND',
  'SWEEP_RANGE',
  'SWEEP_CONDITION',
  'SWEEP_OBJECTIVE',
  'SWEEP_SCHEDULER',
  'SWEEP_NO_VALIDATION',
  'SWEEP_NOT_FOUND',
  'SWEEP_NOT_RESUMABLE',
  'SWEEP_ALREADY_FINISHED',
  'SWEEP_INTERRUPTED',
  'TRIAL_INVALID',
  'TRIAL_NO_OBJECTIVE',
  // cluster: where a task runs (executors), SLURM, and the event files a runner follows
  'SLURM_UNAVAILABLE',
  'SLURM_OPTION_INVALID',
  'SLURM_SUBMIT_FAILED',
  'SLURM_COMMAND_FAILED',
  'SLURM_JOB_NOT_FOUND',
  'SLURM_JOB_NEVER_STARTED',
  'SLURM_JOB_FAILED',
  'EVENTS_FILE_INVALID',
  // transports
  'INVALID_REQUEST',
  'UNAUTHORIZED',
  'UNKNOWN_METHOD',
  'INTERNAL',
  // serve mode: refused before any handler runs
  'FORBIDDEN_HOST',
  'FORBIDDEN_ORIGIN',
  'PAYLOAD_TOO_LARGE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

// The plain-data shapes are the contract's: the same ones travel to clients and from workers.
export type { ErrorDetails } from '../../preload/contract';

/** The plain-data form of a DistilleryError, safe to send over IPC, HTTP or print as JSON. */
export type SerializedError = ErrorInfo<ErrorCode>;

export class DistilleryError extends Error {
  override readonly name = 'DistilleryError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): SerializedError {
    return serializeError(this);
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Turns any thrown value into plain data; unknown errors become `INTERNAL`. */
export function serializeError(error: unknown, withStack = false): SerializedError {
  if (error instanceof DistilleryError) {
    const out: SerializedError = { code: error.code, message: error.message };
    if (Object.keys(error.details).length > 0) out.details = error.details;
    if (withStack && error.stack) out.stack = error.stack;
    return out;
  }
  if (error instanceof Error) {
    const out: SerializedError = { code: 'INTERNAL', message: error.message };
    if (withStack && error.stack) out.stack = error.stack;
    return out;
  }
  return { code: 'INTERNAL', message: String(error) };
}

/**
 * The inverse of `serializeError`: a DistilleryError with the same code, message and details. Takes
 * any code, as data from another process may carry one this build does not know (it becomes
 * `INTERNAL`).
 */
export function reviveError(data: ErrorInfo): DistilleryError {
  const code = isErrorCode(data.code) ? data.code : 'INTERNAL';
  const error = new DistilleryError(code, data.message, data.details ?? {});
  if (data.stack) error.stack = data.stack;
  return error;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Typed message factories: every error with a place is built here, so messages read alike and
 * always name the node, the port or param, what was expected and what was received.
 */
export const errors = {
  paramOutOfRange: (nodeId: string, param: string, expected: string, received: unknown) =>
    new DistilleryError(
      'PARAM_OUT_OF_RANGE',
      `Node "${nodeId}": ${param} must be ${expected}, got ${describe(received)}`,
      { nodeId, param, expected, received },
    ),
  paramType: (nodeId: string, param: string, expected: string, received: unknown) =>
    new DistilleryError(
      'PARAM_TYPE',
      `Node "${nodeId}": ${param} must be ${expected}, got ${describe(received)}`,
      { nodeId, param, expected, received },
    ),
  paramInvalid: (nodeId: string, param: string, expected: string, received: unknown) =>
    new DistilleryError(
      'PARAM_INVALID',
      `Node "${nodeId}": ${param} must be ${expected}, got ${describe(received)}`,
      { nodeId, param, expected, received },
    ),
  datasetInvalid: (file: string, expected: string, received: unknown) =>
    new DistilleryError('DATASET_INVALID', `${file}: expected ${expected}, got ${describe(received)}`, {
      file,
      expected,
      received,
    }),
  datasetNotFound: (file: string, param?: string) =>
    new DistilleryError('DATASET_NOT_FOUND', `Dataset file not found: ${file}`, { file, param }),
  modelNotFound: (ref: string) =>
    new DistilleryError('MODEL_NOT_FOUND', `No model version matches "${ref}"`, { received: ref }),
  runNotFound: (runId: string) =>
    new DistilleryError('RUN_NOT_FOUND', `No run with id "${runId}"`, { received: runId }),
  cancelled: (taskId: string) =>
    new DistilleryError('TASK_CANCELLED', `Task "${taskId}" was cancelled`, { taskId }),
};
