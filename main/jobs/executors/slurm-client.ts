/**
 * SLURM's command-line clients, driven from Node: `sbatch` submits a task's worker as a batch job,
 * `squeue` (and `sacct`, where the cluster keeps accounting or job-completion records) says how
 * it is doing, `scancel` stops or signals it, `sinfo` and `scontrol` describe the cluster, and
 * `doctor()` says whether all of that works from here. The slurm executor builds on this; nothing
 * here knows about runs beyond the names it gives jobs.
 *
 * Every failure is a DistilleryError that carries SLURM's own message and says what was being done
 * (SLURM_UNAVAILABLE, SLURM_SUBMIT_FAILED, SLURM_COMMAND_FAILED, SLURM_JOB_NOT_FOUND,
 * SLURM_OPTION_INVALID).
 */
import { execFile } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { DistilleryError } from '../../base/errors';
import {
  parseSacct,
  parseSbatchParsable,
  parseScontrolConfig,
  parseSinfo,
  parseSqueueJson,
  SACCT_FIELDS,
  type SlurmJobStatus,
  type SlurmPartition,
} from './slurm-parse';

export type { SlurmJobStatus, SlurmPartition } from './slurm-parse';

/** What a task's job asks of the cluster; every field may be left to the cluster's defaults. */
export interface SlurmResources {
  /** `--partition`: one partition, or several separated by commas (the first that can run it). */
  partition?: string;
  /** `--account` to charge. */
  account?: string;
  /** `--cpus-per-task`. */
  cpusPerTask?: number;
  /** `--mem`, per node: a whole number with an optional unit K, M (the default), G or T. */
  memory?: string;
  /** `--time`: `minutes`, `minutes:seconds`, `hours:minutes:seconds`, `days-hours[:minutes[:seconds]]`. */
  time?: string;
  /** GPUs per node, asked for as `--gres=gpu:N`; none when 0 or absent. */
  gpus?: number;
  /** Further sbatch flags, passed as they are (`["--qos=high", "--constraint=a100"]`). */
  extraFlags?: readonly string[];
}

/** One task's worker as a batch job. */
export interface SlurmJobSpec {
  runId: string;
  /** The task's node: with the run, it names the job and every error about it. */
  nodeId: string;
  /**
   * The task folder, on a filesystem the compute nodes share: the job starts in it, and its batch
   * script and output files are written there.
   */
  directory: string;
  /** The program and its arguments, run on the compute node in place of the batch shell. */
  command: readonly string[];
  /** Variables set for the command, on top of the environment sbatch passes on. */
  environment?: Readonly<Record<string, string>>;
  resources?: SlurmResources;
}

/** What `submit` did. */
export interface SlurmSubmission {
  jobId: string;
  /** The cluster that took the job, when sbatch says (federations). */
  cluster?: string;
  /** The batch script, in the task folder. */
  script: string;
  /** The job's stdout and stderr files (requeued executions append to them). */
  outputFile: string;
  errorFile: string;
  /** The sbatch arguments it was submitted with. */
  arguments: string[];
  /** What sbatch wrote to stderr while accepting the job (warnings), if anything. */
  warnings?: string;
}

/** Which finished-job records `sacct` can read on this cluster. */
export type SlurmAccounting = 'slurmdbd' | 'job-completion' | 'none';

/** The cluster as `scontrol show config` describes it. */
export interface SlurmClusterInfo {
  name: string;
  version: string;
  accounting: SlurmAccounting;
  /** Seconds a finished job stays visible to squeue (MinJobAge). */
  finishedJobSeconds: number;
  /** Seconds between SIGTERM and SIGKILL when a job is cancelled or runs out of time (KillWait). */
  killWaitSeconds: number;
}

export interface SlurmCancelOptions {
  /**
   * The signal to send (`TERM`, `KILL`, `USR1`, …) instead of cancelling the job. A plain cancel
   * sends SIGTERM, then SIGKILL after KillWait, to every process of the job.
   */
  signal?: string;
  /**
   * With a signal, who receives it: the job's steps (`steps`, scancel's default, which leaves out
   * the batch script), the batch script alone (`batch`), or the batch script, its children and the
   * steps (`full`: what a worker run by the batch script needs).
   */
  scope?: 'steps' | 'batch' | 'full';
  /** The task the job runs, for the error message. */
  task?: { runId: string; nodeId: string };
}

/** One command of the doctor's report. */
export interface SlurmCommandCheck {
  command: string;
  /** Where it is on PATH, or null when it is not. */
  path: string | null;
}

/** Whether SLURM can run tasks from here, as `distillery doctor` shows it. */
export interface SlurmDoctorReport {
  /** True when the commands are there, the controller answers and the run folder (if asked) is writable. */
  ok: boolean;
  commands: SlurmCommandCheck[];
  /** The controller's answer; absent when it did not answer. */
  cluster?: SlurmClusterInfo;
  partitions: SlurmPartition[];
  runFolder?: {
    path: string;
    /** False when it does not exist yet: `writable` then says whether it can be created. */
    exists: boolean;
    writable: boolean;
    /** The filesystem's kind (`nfs`, `lustre`, `ext4`, …), as a hint of whether compute nodes see it. */
    filesystem?: string;
    shared?: boolean;
  };
  /** One sentence per problem found, each naming what to fix; `ok` is false when there is one. */
  problems: string[];
  /** Sentences about what may not work beyond this machine (a run folder on a local disk). */
  warnings: string[];
}

export interface SlurmClientOptions {
  /** The environment SLURM's commands run in (SLURM_CONF, PATH, …); this process's by default. */
  env?: NodeJS.ProcessEnv;
  /** How long one command may take before the controller counts as not answering (ms, default 30000). */
  commandTimeoutMs?: number;
}

/** The batch script's name in the task folder. */
export const SLURM_SCRIPT_FILE = 'slurm-job.sh';
/** The job's output files in the task folder; SLURM puts the job id in place of `%j`. */
export const SLURM_OUTPUT_PATTERN = 'slurm-%j.out';
export const SLURM_ERROR_PATTERN = 'slurm-%j.err';
/** Every job this program submits is named `distillery.<run>.<node>`. */
export const SLURM_JOB_NAME_PREFIX = 'distillery.';

const DOCTOR_COMMANDS = ['sbatch', 'squeue', 'scancel', 'sinfo', 'sacct', 'scontrol'] as const;
/** Flags the executor sets itself: passing them as extra flags would break the job's files. */
const RESERVED_FLAGS = [
  '--output',
  '--error',
  '--chdir',
  '--job-name',
  '--wrap',
  '--parsable',
  '--open-mode',
  '-o',
  '-e',
  '-D',
  '-J',
];
/** stderr lines by which SLURM says that it could not be reached, rather than that it refused. */
const UNREACHABLE =
  /Unable to contact slurm controller|Could not establish a configuration source|Socket timed out|Connection refused|Zero Bytes were transmitted|Communication connection failure|Invalid authentication credential|Munge|Unable to establish controller machine/i;

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
function shellQuote(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** In sbatch file names `%` starts a pattern; a folder's own `%` must be doubled. */
function escapeFilePattern(path: string): string {
  return path.replace(/%/g, '%%');
}

function taskLabel(task: { runId: string; nodeId: string }): string {
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
    else if (RESERVED_FLAGS.includes(name))
      issue('extraFlags', `flags other than ${RESERVED_FLAGS.join(', ')} (the executor sets those)`, flag);
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
function resourceFlags(resources: SlurmResources): string[] {
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

function batchScript(spec: SlurmJobSpec, sbatchArguments: readonly string[]): string {
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

interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** A command that could not run or exited non-zero; turned into a coded error by whoever knows what it was for. */
class CommandFailure extends Error {
  constructor(
    readonly kind: 'missing' | 'config' | 'timeout' | 'exit',
    readonly stderr: string,
    readonly stdout: string,
    readonly exitCode: number | null,
    override readonly cause: unknown,
  ) {
    super(`${kind}: ${stderr.trim()}`);
  }
}

/** The first lines of SLURM's message, as one line. */
function slurmMessage(failure: CommandFailure): string {
  const text = (failure.stderr.trim() || failure.stdout.trim()).split('\n').slice(0, 6).join('; ');
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/** Drives SLURM's commands. Holds no resources: every call runs its commands to the end. */
export class SlurmClient {
  private readonly env: NodeJS.ProcessEnv;
  private readonly timeoutMs: number;
  private clusterInfo: Promise<SlurmClusterInfo> | undefined;

  constructor(options: SlurmClientOptions = {}) {
    this.env = options.env ?? process.env;
    this.timeoutMs = options.commandTimeoutMs ?? 30_000;
  }

  /** Whether `command` is on the PATH SLURM's commands are looked up in. */
  hasCommand(command: string): boolean {
    return this.findOnPath(command) !== null;
  }

  /** The environment SLURM's commands run in. */
  get environment(): NodeJS.ProcessEnv {
    return this.env;
  }

  /**
   * Writes the job's batch script into the task folder and submits it with `sbatch --parsable`.
   * SLURM_OPTION_INVALID for resources of the wrong form; SLURM_SUBMIT_FAILED with sbatch's
   * message when the controller refuses the job (a partition or account that does not exist,
   * limits); SLURM_UNAVAILABLE when sbatch is missing or the controller does not answer.
   */
  async submit(spec: SlurmJobSpec): Promise<SlurmSubmission> {
    const issues = checkSlurmSpec(spec);
    const [first] = issues;
    if (first) {
      if (issues.length > 1) first.details.issues = issues.map((issue) => issue.toJSON());
      throw first;
    }
    const script = join(spec.directory, SLURM_SCRIPT_FILE);
    const directory = escapeFilePattern(spec.directory);
    const commandArguments = [
      '--parsable',
      `--job-name=${slurmJobName(spec.runId, spec.nodeId)}`,
      `--chdir=${spec.directory}`,
      `--output=${join(directory, SLURM_OUTPUT_PATTERN)}`,
      `--error=${join(directory, SLURM_ERROR_PATTERN)}`,
      // A requeued job runs the script again: its earlier output stays above the new.
      '--open-mode=append',
      ...resourceFlags(spec.resources ?? {}),
      script,
    ];
    try {
      mkdirSync(spec.directory, { recursive: true });
      writeFileSync(script, batchScript(spec, commandArguments), { mode: 0o755 });
    } catch (error) {
      throw new DistilleryError(
        'STORAGE_NOT_WRITABLE',
        `Cannot write the batch script of ${taskLabel(spec)} to ${script}: ${(error as Error).message}`,
        { runId: spec.runId, nodeId: spec.nodeId, file: script },
        { cause: error },
      );
    }
    const doing = `Submitting ${taskLabel(spec)} to SLURM`;
    let output: CommandOutput;
    try {
      output = await this.exec('sbatch', commandArguments);
    } catch (error) {
      if (!(error instanceof CommandFailure)) throw error;
      throw await this.submitError(spec, commandArguments, error, doing);
    }
    const parsed = parseSbatchParsable(output.stdout);
    if (!parsed) {
      throw new DistilleryError(
        'SLURM_SUBMIT_FAILED',
        `${doing}: sbatch printed no job id (stdout: ${JSON.stringify(output.stdout.trim().slice(0, 200))})`,
        {
          runId: spec.runId,
          nodeId: spec.nodeId,
          command: 'sbatch',
          arguments: commandArguments,
          received: output.stdout,
        },
      );
    }
    const submission: SlurmSubmission = {
      jobId: parsed.jobId,
      script,
      outputFile: join(spec.directory, SLURM_OUTPUT_PATTERN.replace('%j', parsed.jobId)),
      errorFile: join(spec.directory, SLURM_ERROR_PATTERN.replace('%j', parsed.jobId)),
      arguments: commandArguments,
    };
    if (parsed.cluster) submission.cluster = parsed.cluster;
    if (output.stderr.trim()) submission.warnings = output.stderr.trim();
    return submission;
  }

  /**
   * The status of each of `jobIds` that SLURM still knows: from squeue while the controller keeps
   * the job (pending, running, and finished ones for MinJobAge seconds), then from sacct where
   * the cluster keeps records. A job in neither is missing from the map; its task's events file
   * says how it ended.
   */
  async status(jobIds: readonly string[]): Promise<Map<string, SlurmJobStatus>> {
    for (const jobId of jobIds) this.checkJobId(jobId);
    const wanted = new Set(jobIds);
    const found = new Map<string, SlurmJobStatus>();
    if (wanted.size === 0) return found;
    for (const job of await this.squeue(['--states=all'])) {
      if (wanted.has(job.jobId)) found.set(job.jobId, job);
    }
    const missing = [...wanted].filter((jobId) => !found.has(jobId));
    if (missing.length > 0) {
      for (const job of await this.history(missing)) found.set(job.jobId, job);
    }
    return found;
  }

  /**
   * What SLURM's records (sacct: slurmdbd accounting, or job-completion records) hold of `jobIds`;
   * nothing on a cluster that keeps neither.
   */
  async history(jobIds: readonly string[]): Promise<SlurmJobStatus[]> {
    for (const jobId of jobIds) this.checkJobId(jobId);
    if (jobIds.length === 0) return [];
    const { accounting } = await this.cluster();
    if (accounting === 'none') return [];
    const wanted = new Set(jobIds);
    return (await this.sacct([...wanted], accounting)).filter((job) => wanted.has(job.jobId));
  }

  /** This user's jobs that are pending or running (what the status bar counts). */
  async queue(): Promise<SlurmJobStatus[]> {
    const jobs = await this.squeue([]);
    // `--me` is ignored with --json in 22.05, which lists every user's jobs.
    const userId = process.getuid?.();
    return jobs.filter(
      (job) =>
        (job.state === 'waiting' || job.state === 'running') &&
        (userId === undefined || job.userId === undefined || job.userId === userId),
    );
  }

  /**
   * Cancels a job (or, with `signal`, signals it). Cancelling a job that has already ended does
   * nothing; SLURM_JOB_NOT_FOUND when SLURM does not know the job.
   */
  async cancel(jobId: string, options: SlurmCancelOptions = {}): Promise<void> {
    this.checkJobId(jobId);
    const commandArguments: string[] = [];
    if (options.signal !== undefined) {
      if (!/^(?:SIG)?[A-Z0-9]+$/i.test(options.signal)) {
        throw new DistilleryError(
          'SLURM_OPTION_INVALID',
          `scancel: signal must be a signal name or number such as TERM or 9, got ${JSON.stringify(options.signal)}`,
          { param: 'signal', expected: 'a signal name or number', received: options.signal, jobId },
        );
      }
      commandArguments.push(`--signal=${options.signal}`);
      if (options.scope === 'full') commandArguments.push('--full');
      else if (options.scope === 'batch') commandArguments.push('--batch');
    }
    commandArguments.push(jobId);
    const what = options.task ? `job ${jobId} of ${taskLabel(options.task)}` : `job ${jobId}`;
    const doing = options.signal
      ? `Sending SIG${options.signal.replace(/^SIG/i, '')} to SLURM ${what}`
      : `Cancelling SLURM ${what}`;
    try {
      const output = await this.exec('scancel', commandArguments);
      // scancel says that a job was unknown on stderr, yet exits 0 when it was not asked to signal.
      this.checkScancelMessage(output.stderr, jobId, doing, options.task);
    } catch (error) {
      if (!(error instanceof CommandFailure)) throw error;
      this.checkScancelMessage(error.stderr, jobId, doing, options.task);
      throw this.commandError('scancel', commandArguments, error, doing);
    }
  }

  /** The partitions `sinfo` lists. */
  async partitions(): Promise<SlurmPartition[]> {
    const commandArguments = ['--noheader', '--format=%P|%a|%l|%F|%N'];
    const output = await this.run('sinfo', commandArguments, 'Listing the SLURM partitions');
    return parseSinfo(output.stdout);
  }

  /** The cluster's name, version and what it keeps of finished jobs (asked once per client). */
  cluster(): Promise<SlurmClusterInfo> {
    this.clusterInfo ??= this.readClusterInfo().catch((error: unknown) => {
      // A controller that did not answer may answer the next call.
      this.clusterInfo = undefined;
      throw error;
    });
    return this.clusterInfo;
  }

  /**
   * Whether tasks can run on SLURM from here: the commands on PATH, the controller's answer and
   * partitions, and (given one) whether the run folder is writable. Never throws: every problem
   * is a sentence in `problems`.
   */
  async doctor(runFolder?: string): Promise<SlurmDoctorReport> {
    const commands = DOCTOR_COMMANDS.map((command) => ({ command, path: this.findOnPath(command) }));
    const problems: string[] = [];
    const missing = commands.filter(
      (check) => check.path === null && ['sbatch', 'squeue', 'scancel'].includes(check.command),
    );
    if (missing.length > 0) {
      problems.push(
        `${missing.map((check) => check.command).join(', ')} not found on PATH: install SLURM's client commands (Debian: slurm-client) or add them to PATH`,
      );
    }
    const report: SlurmDoctorReport = { ok: false, commands, partitions: [], problems, warnings: [] };
    if (
      commands.find((check) => check.command === 'sinfo')?.path &&
      commands.find((check) => check.command === 'scontrol')?.path
    ) {
      try {
        report.cluster = await this.cluster();
        report.partitions = await this.partitions();
        if (report.partitions.length === 0)
          problems.push('sinfo lists no partitions: jobs have nowhere to run');
        else if (!report.partitions.some((partition) => partition.availability === 'up'))
          problems.push(
            `no partition is up (${report.partitions.map((partition) => `${partition.name}: ${partition.availability}`).join(', ')})`,
          );
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (runFolder !== undefined) {
      report.runFolder = checkRunFolder(runFolder);
      if (!report.runFolder.writable)
        problems.push(
          `the run folder ${runFolder} ${report.runFolder.exists ? 'is not writable' : 'cannot be created'} from here`,
        );
      else if (report.runFolder.shared === false)
        report.warnings.push(
          `the run folder ${runFolder} is on a local filesystem (${report.runFolder.filesystem}): compute nodes other than this machine cannot see it`,
        );
    }
    // A local run folder is fine on a single-node cluster: a warning, not a problem.
    report.ok =
      problems.length === 0 &&
      missing.length === 0 &&
      report.cluster !== undefined &&
      report.partitions.some((partition) => partition.availability === 'up') &&
      (report.runFolder?.writable ?? true);
    return report;
  }

  private async readClusterInfo(): Promise<SlurmClusterInfo> {
    const output = await this.run('scontrol', ['show', 'config'], 'Reading the SLURM configuration');
    const config = parseScontrolConfig(output.stdout);
    const storage = config.get('AccountingStorageType') ?? '';
    const completion = config.get('JobCompType') ?? '';
    const accounting: SlurmAccounting = storage.endsWith('/slurmdbd')
      ? 'slurmdbd'
      : completion.endsWith('/filetxt')
        ? 'job-completion'
        : 'none';
    const seconds = (key: string, fallback: number): number => {
      const value = Number.parseInt(config.get(key) ?? '', 10);
      return Number.isFinite(value) ? value : fallback;
    };
    return {
      name: config.get('ClusterName') ?? 'unknown',
      version: config.get('SLURM_VERSION') ?? 'unknown',
      accounting,
      finishedJobSeconds: seconds('MinJobAge', 300),
      killWaitSeconds: seconds('KillWait', 30),
    };
  }

  private async squeue(extra: string[]): Promise<SlurmJobStatus[]> {
    // 22.05 ignores filters when printing JSON (later versions apply them): filtering is done here.
    const commandArguments = ['--json', '--me', ...extra];
    const output = await this.run('squeue', commandArguments, 'Asking SLURM for the state of its jobs');
    return parseSqueueJson(output.stdout);
  }

  private async sacct(
    jobIds: string[],
    accounting: Exclude<SlurmAccounting, 'none'>,
  ): Promise<SlurmJobStatus[]> {
    const commandArguments = [
      ...(accounting === 'job-completion' ? ['--completion'] : []),
      '--parsable2',
      '--noheader',
      `--jobs=${jobIds.join(',')}`,
      `--format=${SACCT_FIELDS.join(',')}`,
    ];
    const output = await this.run(
      'sacct',
      commandArguments,
      `Asking SLURM's records for jobs ${jobIds.join(', ')}`,
    );
    return parseSacct(output.stdout);
  }

  private async run(command: string, commandArguments: string[], doing: string): Promise<CommandOutput> {
    try {
      return await this.exec(command, commandArguments);
    } catch (error) {
      if (!(error instanceof CommandFailure)) throw error;
      throw this.commandError(command, commandArguments, error, doing);
    }
  }

  private exec(command: string, commandArguments: readonly string[]): Promise<CommandOutput> {
    const config = this.env.SLURM_CONF;
    // SLURM's commands wait a minute for a missing configuration file before they give up.
    if (config && !existsSync(config)) {
      return Promise.reject(new CommandFailure('config', '', '', null, undefined));
    }
    return new Promise((resolve, reject) => {
      execFile(
        command,
        commandArguments,
        // squeue --json prints some kilobytes per job, and a large cluster has tens of thousands.
        { env: this.env, timeout: this.timeoutMs, maxBuffer: 512 * 1024 * 1024, killSignal: 'SIGKILL' },
        (error, stdout, stderr) => {
          if (!error) return resolve({ stdout, stderr });
          const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
          if (failure.code === 'ENOENT') reject(new CommandFailure('missing', stderr, stdout, null, error));
          else if (failure.killed) reject(new CommandFailure('timeout', stderr, stdout, null, error));
          else
            reject(
              new CommandFailure(
                'exit',
                stderr,
                stdout,
                typeof failure.code === 'number' ? failure.code : null,
                error,
              ),
            );
        },
      );
    });
  }

  private commandError(
    command: string,
    commandArguments: string[],
    failure: CommandFailure,
    doing: string,
  ): DistilleryError {
    const details = {
      command,
      arguments: commandArguments,
      exitCode: failure.exitCode,
      slurmMessage: slurmMessage(failure),
    };
    if (failure.kind === 'missing') {
      return new DistilleryError(
        'SLURM_UNAVAILABLE',
        `${doing}: ${command} is not on PATH (install SLURM's client commands, Debian: slurm-client)`,
        { ...details, expected: `${command} on PATH`, received: this.env.PATH ?? '' },
        { cause: failure.cause },
      );
    }
    if (failure.kind === 'config') {
      return new DistilleryError(
        'SLURM_UNAVAILABLE',
        `${doing}: SLURM_CONF names ${this.env.SLURM_CONF ?? ''}, which does not exist`,
        { ...details, file: this.env.SLURM_CONF, expected: 'a slurm.conf file' },
      );
    }
    if (failure.kind === 'timeout') {
      return new DistilleryError(
        'SLURM_UNAVAILABLE',
        `${doing}: ${command} did not answer within ${Math.round(this.timeoutMs / 1000)} s`,
        details,
        { cause: failure.cause },
      );
    }
    const message = slurmMessage(failure) || `${command} exited with status ${failure.exitCode ?? 'unknown'}`;
    return new DistilleryError(
      UNREACHABLE.test(message) ? 'SLURM_UNAVAILABLE' : 'SLURM_COMMAND_FAILED',
      `${doing}: ${message}`,
      details,
      { cause: failure.cause },
    );
  }

  private async submitError(
    spec: SlurmJobSpec,
    commandArguments: string[],
    failure: CommandFailure,
    doing: string,
  ): Promise<DistilleryError> {
    const base = this.commandError('sbatch', commandArguments, failure, doing);
    if (base.code !== 'SLURM_COMMAND_FAILED') {
      base.details.runId = spec.runId;
      base.details.nodeId = spec.nodeId;
      return base;
    }
    const message = slurmMessage(failure);
    const details: Record<string, unknown> = { ...base.details, runId: spec.runId, nodeId: spec.nodeId };
    if (/invalid partition/i.test(message)) {
      details.param = 'partition';
      details.received = spec.resources?.partition;
      // Naming the partitions that do exist turns a refusal into a fix; the listing is a courtesy.
      const partitions = await this.partitions().catch(() => undefined);
      if (partitions) details.expected = `one of ${partitions.map((partition) => partition.name).join(', ')}`;
    } else if (/invalid account/i.test(message)) {
      details.param = 'account';
      details.received = spec.resources?.account;
    }
    return new DistilleryError('SLURM_SUBMIT_FAILED', `${doing} failed: ${message}`, details, {
      cause: failure.cause,
    });
  }

  private checkScancelMessage(
    stderr: string,
    jobId: string,
    doing: string,
    task: SlurmCancelOptions['task'],
  ): void {
    if (/Invalid job id specified/i.test(stderr)) {
      throw new DistilleryError(
        'SLURM_JOB_NOT_FOUND',
        `${doing}: SLURM knows no job ${jobId} (${stderr.trim()})`,
        {
          jobId,
          ...(task ?? {}),
          slurmMessage: stderr.trim(),
        },
      );
    }
    // Signalling or cancelling a job that has just ended has nothing left to do.
    if (/already completing or completed/i.test(stderr)) return;
  }

  private checkJobId(jobId: string): void {
    if (!/^\d+(?:_\d+)?$/.test(jobId)) {
      throw new DistilleryError(
        'SLURM_OPTION_INVALID',
        `SLURM job ids are numbers (or "<array job>_<task>"), got ${JSON.stringify(jobId)}`,
        { param: 'jobId', expected: 'digits, or digits "_" digits', received: jobId },
      );
    }
  }

  private findOnPath(command: string): string | null {
    for (const folder of (this.env.PATH ?? '').split(delimiter)) {
      if (!folder) continue;
      const candidate = join(folder, command);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // Not in this folder.
      }
    }
    return null;
  }
}

/** statfs magic numbers of filesystems that several machines mount (see statfs(2)). */
const SHARED_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x6969, 'nfs'],
  [0x0bd00bd0, 'lustre'],
  [0x47504653, 'gpfs'],
  [0x19830326, 'beegfs'],
  [0x00c36400, 'ceph'],
  [0x65735546, 'fuse'],
  [0xff534d42, 'cifs'],
  [0xfe534d42, 'smb2'],
  [0x6e667364, 'nfsd'],
  [0x013111a8, 'ibrix'],
  [0x5346414f, 'afs'],
  [0x01161970, 'gfs2'],
  [0x7461636f, 'ocfs2'],
]);
/** …and of the usual local ones, to name them in the report. */
const LOCAL_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlayfs'],
  [0x2fc12fc1, 'zfs'],
  [0xf2f52010, 'f2fs'],
]);

/**
 * Whether this process can create files in `path`, or, when it does not exist yet, in the nearest
 * folder above it that does (where it would be created); and on what filesystem. Creates nothing
 * that it does not remove.
 */
function checkRunFolder(path: string): NonNullable<SlurmDoctorReport['runFolder']> {
  const target = resolve(path);
  let existing = target;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const result: NonNullable<SlurmDoctorReport['runFolder']> = {
    path,
    exists: existing === target,
    writable: false,
  };
  try {
    rmSync(mkdtempSync(join(existing, '.distillery-doctor-')), { recursive: true, force: true });
    result.writable = true;
  } catch {
    return result;
  }
  try {
    const { type } = statfsSync(existing);
    const shared = SHARED_FILESYSTEMS.get(type);
    const local = LOCAL_FILESYSTEMS.get(type);
    if (shared) {
      result.filesystem = shared;
      result.shared = true;
    } else if (local) {
      result.filesystem = local;
      result.shared = false;
    } else {
      result.filesystem = `type 0x${type.toString(16)}`;
    }
  } catch {
    // statfs is a hint only; a filesystem that does not answer it leaves `shared` unknown.
  }
  return result;
}
