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
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistilleryError } from '../../base/errors';
import { CommandFailure, SlurmCommands, slurmMessage, type CommandOutput } from './slurm-commands';
import { slurmDoctor } from './slurm-doctor';
import {
  batchScript,
  checkSlurmSpec,
  escapeFilePattern,
  resourceFlags,
  SLURM_ERROR_PATTERN,
  SLURM_OUTPUT_PATTERN,
  SLURM_SCRIPT_FILE,
  slurmJobName,
  taskLabel,
} from './slurm-job-script';
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
import type {
  SlurmAccounting,
  SlurmCancelOptions,
  SlurmClientOptions,
  SlurmClusterInfo,
  SlurmDoctorReport,
  SlurmJobSpec,
  SlurmSubmission,
} from './slurm-types';

/** Drives SLURM's commands. Holds no resources: every call runs its commands to the end. */
export class SlurmClient {
  private readonly env: NodeJS.ProcessEnv;
  private readonly timeoutMs: number;
  private clusterInfo: Promise<SlurmClusterInfo> | undefined;
  private readonly commands: SlurmCommands;

  constructor(options: SlurmClientOptions = {}) {
    this.env = options.env ?? process.env;
    this.timeoutMs = options.commandTimeoutMs ?? 30_000;
    this.commands = new SlurmCommands(this.env, this.timeoutMs);
  }

  /** Whether `command` is on the PATH SLURM's commands are looked up in. */
  hasCommand(command: string): boolean {
    return this.commands.findOnPath(command) !== null;
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
      output = await this.commands.exec('sbatch', commandArguments);
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
      const output = await this.commands.exec('scancel', commandArguments);
      // scancel says that a job was unknown on stderr, yet exits 0 when it was not asked to signal.
      this.checkScancelMessage(output.stderr, jobId, doing, options.task);
    } catch (error) {
      if (!(error instanceof CommandFailure)) throw error;
      this.checkScancelMessage(error.stderr, jobId, doing, options.task);
      throw this.commands.commandError('scancel', commandArguments, error, doing);
    }
  }

  /** The partitions `sinfo` lists. */
  async partitions(): Promise<SlurmPartition[]> {
    const commandArguments = ['--noheader', '--format=%P|%a|%l|%F|%N'];
    const output = await this.commands.run('sinfo', commandArguments, 'Listing the SLURM partitions');
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
    return slurmDoctor(
      {
        findOnPath: (command) => this.commands.findOnPath(command),
        cluster: () => this.cluster(),
        partitions: () => this.partitions(),
      },
      runFolder,
    );
  }

  private async readClusterInfo(): Promise<SlurmClusterInfo> {
    const output = await this.commands.run('scontrol', ['show', 'config'], 'Reading the SLURM configuration');
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
    const output = await this.commands.run(
      'squeue',
      commandArguments,
      'Asking SLURM for the state of its jobs',
    );
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
    const output = await this.commands.run(
      'sacct',
      commandArguments,
      `Asking SLURM's records for jobs ${jobIds.join(', ')}`,
    );
    return parseSacct(output.stdout);
  }

  private async submitError(
    spec: SlurmJobSpec,
    commandArguments: string[],
    failure: CommandFailure,
    doing: string,
  ): Promise<DistilleryError> {
    const base = this.commands.commandError('sbatch', commandArguments, failure, doing);
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
}
