/**
 * `executors.json` in the data directory: the executor a run gets when neither `--executor` nor
 * the pipeline says, the local warm pool's size, and the cluster's defaults for SLURM jobs
 * (partition, account, time, CPUs, memory, GPUs, extra flags) with how the executor waits on it.
 * A missing file means the built-in defaults; a file with mistakes is refused whole, every mistake
 * named with its field.
 *
 * ```json
 * {
 *   "default": "slurm",
 *   "local": { "warmWorkers": 2 },
 *   "slurm": { "partition": "gpu", "account": "vision", "time": "2:00:00", "cpusPerTask": 4,
 *              "memory": "16G", "gpus": 1, "extraFlags": ["--qos=normal"],
 *              "pollSeconds": 1, "neverStartsAfterSeconds": 60, "maxWaitSeconds": 0, "maxJobs": 100 }
 * }
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutorName, SlurmResourcesInfo, ValidationIssue } from '../../../preload/contract';
import { DistilleryError } from '../../base/errors';
import { checkSlurmResources, EXECUTOR_TYPES } from '../../pipeline/executor-block';

/** The file's name in the data directory. */
export const EXECUTORS_CONFIG_FILE = 'executors.json';

/** The local executor's settings. */
export interface LocalExecutorConfig {
  /** Idle warm workers kept ready (0 turns the pool off). */
  warmWorkers?: number;
  /** How long an idle warm worker waits for a task before it exits. */
  idleSeconds?: number;
}

/** The SLURM executor's settings: the cluster's defaults for every job, and how it is watched. */
export interface SlurmExecutorConfig extends SlurmResourcesInfo {
  /** How often squeue is asked about the jobs of running tasks. */
  pollSeconds?: number;
  /**
   * How long a job may wait for a reason that never clears by itself (PartitionConfig: it asks for
   * more than the partition's nodes have; an account or QOS that does not allow it) before its task
   * fails with SLURM_JOB_NEVER_STARTED.
   */
  neverStartsAfterSeconds?: number;
  /** How long a job may wait in the queue for any reason before its task fails (0: no limit). */
  maxWaitSeconds?: number;
  /** Jobs this runner keeps submitted at once. */
  maxJobs?: number;
}

export interface ExecutorsConfig {
  default?: ExecutorName;
  local?: LocalExecutorConfig;
  slurm?: SlurmExecutorConfig;
}

const TOP_FIELDS = ['default', 'local', 'slurm'];
const LOCAL_FIELDS: Record<keyof LocalExecutorConfig, { min: number; max: number }> = {
  warmWorkers: { min: 0, max: 64 },
  idleSeconds: { min: 1, max: 86_400 },
};
const SLURM_SETTINGS: Record<
  'pollSeconds' | 'neverStartsAfterSeconds' | 'maxWaitSeconds' | 'maxJobs',
  { min: number; max: number; integer: boolean }
> = {
  pollSeconds: { min: 0.1, max: 600, integer: false },
  neverStartsAfterSeconds: { min: 0, max: 7 * 86_400, integer: false },
  maxWaitSeconds: { min: 0, max: 365 * 86_400, integer: false },
  maxJobs: { min: 1, max: 100_000, integer: true },
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numberIssues(
  section: Record<string, unknown>,
  rules: Record<string, { min: number; max: number; integer?: boolean }>,
  pointer: string,
  where: string,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const [field, rule] of Object.entries(rules)) {
    if (!Object.hasOwn(section, field)) continue;
    const value = section[field];
    const integer = rule.integer ?? true;
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      (integer && !Number.isInteger(value)) ||
      value < rule.min ||
      value > rule.max
    ) {
      const expected = `${integer ? 'a whole number' : 'a number'} from ${rule.min} to ${rule.max}`;
      issues.push({
        code: 'PARAM_OUT_OF_RANGE',
        param: field,
        pointer: `${pointer}/${field}`,
        expected,
        received: value,
        message: `${where}: "${field}" must be ${expected}, got ${JSON.stringify(value)}`,
      });
    }
  }
  return issues;
}

/** Every mistake of a parsed `executors.json`; empty when it is usable. */
export function checkExecutorsConfig(value: unknown): ValidationIssue[] {
  if (!isObject(value)) {
    return [
      {
        code: 'PIPELINE_SCHEMA',
        pointer: '',
        expected: 'a JSON object',
        received: value,
        message: `${EXECUTORS_CONFIG_FILE} must hold a JSON object`,
      },
    ];
  }
  const issues: ValidationIssue[] = [];
  for (const key of Object.keys(value)) {
    if (!TOP_FIELDS.includes(key))
      issues.push({
        code: 'UNKNOWN_FIELD',
        pointer: `/${key}`,
        expected: `one of ${TOP_FIELDS.join(', ')}`,
        received: key,
        message: `${EXECUTORS_CONFIG_FILE}: unknown field "${key}"`,
      });
  }
  if (Object.hasOwn(value, 'default') && !EXECUTOR_TYPES.includes(value.default as ExecutorName)) {
    issues.push({
      code: 'PIPELINE_SCHEMA',
      pointer: '/default',
      expected: EXECUTOR_TYPES.join(' or '),
      received: value.default,
      message: `${EXECUTORS_CONFIG_FILE}: "default" must be ${EXECUTOR_TYPES.map((name) => `"${name}"`).join(' or ')}`,
    });
  }
  if (Object.hasOwn(value, 'local')) {
    const local = value.local;
    const where = `${EXECUTORS_CONFIG_FILE} "local"`;
    if (!isObject(local)) {
      issues.push({
        code: 'PIPELINE_SCHEMA',
        pointer: '/local',
        expected: 'an object',
        received: local,
        message: `${where} must be an object`,
      });
    } else {
      for (const key of Object.keys(local)) {
        if (!Object.hasOwn(LOCAL_FIELDS, key))
          issues.push({
            code: 'UNKNOWN_FIELD',
            pointer: `/local/${key}`,
            expected: `one of ${Object.keys(LOCAL_FIELDS).join(', ')}`,
            received: key,
            message: `${where}: unknown field "${key}"`,
          });
      }
      issues.push(...numberIssues(local, LOCAL_FIELDS, '/local', where));
    }
  }
  if (Object.hasOwn(value, 'slurm')) {
    const where = `${EXECUTORS_CONFIG_FILE} "slurm"`;
    issues.push(...checkSlurmResources(value.slurm, '/slurm', where, Object.keys(SLURM_SETTINGS)));
    if (isObject(value.slurm)) issues.push(...numberIssues(value.slurm, SLURM_SETTINGS, '/slurm', where));
  }
  return issues;
}

/**
 * Reads `<dataDir>/executors.json`: {} when there is none. A file that is not JSON, or holds a
 * mistake, is refused with the first mistake's code, every mistake in `details.issues`, and the
 * file named.
 */
export function readExecutorsConfig(dataDir: string): ExecutorsConfig {
  const file = join(dataDir, EXECUTORS_CONFIG_FILE);
  if (!existsSync(file)) return {};
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (error) {
    throw new DistilleryError(
      'PIPELINE_JSON_INVALID',
      `${file}: not readable JSON: ${(error as Error).message}`,
      { file, expected: 'a JSON object' },
      { cause: error },
    );
  }
  const issues = checkExecutorsConfig(value).map((issue) => ({ ...issue, file }));
  const [first] = issues;
  if (first) {
    throw new DistilleryError(
      first.code as 'SLURM_OPTION_INVALID',
      `${file}: ${issues.map((issue) => issue.message).join('; ')}`,
      { file, pointer: first.pointer, expected: first.expected, received: first.received, issues },
    );
  }
  return value as ExecutorsConfig;
}
