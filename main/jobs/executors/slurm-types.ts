/**
 * What SLURM's client takes and gives: a task's job and resources, a submission, the cluster's
 * description, cancel options and the doctor's report.
 */
import type { SlurmPartition } from './slurm-parse';

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
