/**
 * A task's batch job as sbatch takes it: the job's name, its files in the task folder, the check
 * of its resources and environment, the sbatch flags that ask for them, and the batch script.
 */
import { DistilleryError } from '../../base/errors';
import { RESERVED_SBATCH_FLAGS } from '../../pipeline/executor-block';
import type { SlurmJobSpec, SlurmResources } from './slurm-types';

/** The batch script's name in the task folder. */
export const SLURM_SCRIPT_FILE = 'slurm-job.sh';
/** The job's output files in the task folder; SLURM puts the job id in place of `%j`. */
export const SLURM_OUTPUT_PATTERN = 'slurm-%j.out';
export const SLURM_ERROR_PATTERN = 'slurm-%j.err';
/** Every job this program submits is named `distillery.<run>.<node>`. */
export const SLURM_JOB_NAME_PREFIX = 'distillery.';

/** The job name of a task: `distillery.<run>.<node>`, anything but `[A-Za-z0-9_-]` as `_`. */
export function slurmJobName(runId: string, nodeId: string): string {
  const clean = (text: string): string => text.replace(/[^A-Za-z0-9_-]/g, '_');
  return `${SLURM_JOB_NAME_PREFIX}${clean(runId)}.${clean(nodeId)}`;
}

/** The run and node a job name stands for, when it is one of ours. */
export function parseSlurmJobName(name: string): { runId: string; nodeId: string } | undefined {
  const match = /^distillery\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(name);
  return match?.[1] && match[2] ? { runId: match[1], nodeId: match[2] } : undefined;
}

/** A string as one word of a POSIX shell command. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** In sbatch file names `%` starts a pattern; a folder's own `%` must be doubled. */
export function escapeFilePattern(path: string): string {
  return path.replace(/%/g, '%%');
}

/** A task as messages name it. */
export function taskLabel(task: { runId: string; nodeId: string }): string {
  return `task "${task.nodeId}" of run "${task.runId}"`;
}

/**
 * Every problem with a job's resources and environment, each naming its field; empty when sbatch
 * can be asked. Only the form is checked here: whether a partition or account exists is the
 * controller's to say.
 */
export function checkSlurmSpec(spec: SlurmJobSpec): DistilleryError[] {
  const issues: DistilleryError[] = [];
  const label = taskLabel(spec);
  const issue = (field: string, expected: string, received: unknown): void => {
    issues.push(
      new DistilleryError(
        'SLURM_OPTION_INVALID',
        `SLURM job of ${label}: ${field} must be ${expected}, got ${JSON.stringify(received)}`,
        { runId: spec.runId, nodeId: spec.nodeId, param: field, expected, received },
      ),
    );
  };
  const resources = spec.resources ?? {};
  const word = /^[A-Za-z0-9_.-]+$/;
  if (resources.partition !== undefined && !resources.partition.split(',').every((name) => word.test(name)))
    issue(
      'partition',
      'a partition name (letters, digits, "_", "-", "."), or several separated by commas',
      resources.partition,
    );
  if (resources.account !== undefined && !word.test(resources.account))
    issue('account', 'an account name (letters, digits, "_", "-", ".")', resources.account);
  if (
    resources.cpusPerTask !== undefined &&
    (!Number.isInteger(resources.cpusPerTask) || resources.cpusPerTask < 1)
  )
    issue('cpusPerTask', 'a whole number ≥ 1', resources.cpusPerTask);
  if (resources.gpus !== undefined && (!Number.isInteger(resources.gpus) || resources.gpus < 0))
    issue('gpus', 'a whole number ≥ 0', resources.gpus);
  if (resources.memory !== undefined && !/^\d+[KMGT]?$/.test(resources.memory))
    issue('memory', 'a whole number with an optional unit K, M, G or T (e.g. "4G")', resources.memory);
  if (
    resources.time !== undefined &&
    !/^(?:\d+(?::\d{1,2}){0,2}|\d+-\d+(?::\d{1,2}){0,2}|INFINITE|UNLIMITED)$/.test(resources.time)
  )
    issue(
      'time',
      'minutes, "minutes:seconds", "hours:minutes:seconds" or "days-hours[:minutes[:seconds]]"',
      resources.time,
    );
  for (const flag of resources.extraFlags ?? []) {
    const name = flag.split('=')[0] ?? flag;
    if (/[\n\r\0]/.test(flag)) issue('extraFlags', 'flags without line breaks', flag);
    else if (RESERVED_SBATCH_FLAGS.includes(name))
      issue(
        'extraFlags',
        `flags other than ${RESERVED_SBATCH_FLAGS.join(', ')} (the executor sets those)`,
        flag,
      );
  }
  if (spec.command.length === 0) issue('command', 'a program and its arguments', spec.command);
  for (const [name, value] of Object.entries(spec.environment ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      issue('environment', 'variable names of letters, digits and "_"', name);
    else if (value.includes('\0')) issue('environment', `a value for ${name} without NUL bytes`, value);
  }
  if (/[\n\r]/.test(spec.directory)) issue('directory', 'a path without line breaks', spec.directory);
  return issues;
}

/** The sbatch flags that ask for `resources`. */
export function resourceFlags(resources: SlurmResources): string[] {
  const flags: string[] = [];
  if (resources.partition !== undefined) flags.push(`--partition=${resources.partition}`);
  if (resources.account !== undefined) flags.push(`--account=${resources.account}`);
  if (resources.cpusPerTask !== undefined) flags.push(`--cpus-per-task=${resources.cpusPerTask}`);
  if (resources.memory !== undefined) flags.push(`--mem=${resources.memory}`);
  if (resources.time !== undefined) flags.push(`--time=${resources.time}`);
  if (resources.gpus !== undefined && resources.gpus > 0) flags.push(`--gres=gpu:${resources.gpus}`);
  flags.push(...(resources.extraFlags ?? []));
  return flags;
}

/** The batch script: the environment, then the command in the batch shell's place. */
export function batchScript(spec: SlurmJobSpec, sbatchArguments: readonly string[]): string {
  const lines = [
    '#!/bin/sh',
    `# Batch script of ${taskLabel(spec)}, submitted from ${spec.directory} with`,
    `#   sbatch ${sbatchArguments.map(shellQuote).join(' ')}`,
    '# (the same command submits it again).',
  ];
  for (const [name, value] of Object.entries(spec.environment ?? {})) {
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  // exec: the worker takes the batch shell's place, so scancel's SIGTERM reaches it directly and
  // its exit status is the job's.
  lines.push(`exec ${spec.command.map(shellQuote).join(' ')}`, '');
  return lines.join('\n');
}
