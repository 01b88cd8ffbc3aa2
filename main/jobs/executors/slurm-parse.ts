/**
 * Reading what SLURM's commands print: `squeue --json`, `sacct --parsable2`, `sinfo`, `scontrol
 * show config` and `sbatch --parsable`. Pure text in, plain data out; slurm-client.ts runs the
 * commands.
 *
 * Written against SLURM 22.05 (Debian 12's slurm-wlm), whose `squeue --json` is the OpenAPI
 * v0.0.38 dump: `job_state` a string, `exit_code` the raw wait status, times in seconds. Later
 * versions print `job_state` as a list of flags and numbers as `{set, infinite, number}` objects;
 * both shapes are read.
 */
import { DistilleryError } from '../../base/errors';
import type { ExecutorState } from './types';

/** One job as SLURM reports it. */
export interface SlurmJobStatus {
  /** `123`, or `123_4` for task 4 of array job 123. */
  jobId: string;
  name: string;
  state: ExecutorState;
  /** SLURM's own name for the state: `PENDING`, `RUNNING`, `TIMEOUT`, `NODE_FAIL`, … */
  slurmState: string;
  /** Why it waits or why it ended, when SLURM says: `Resources`, `Priority`, `TimeLimit`, … */
  reason?: string;
  /** The node that runs (or ran) the batch script. */
  node?: string;
  partition?: string;
  /** The batch script's exit status, when it ended by exiting. */
  exitCode?: number;
  /** The signal that ended the batch script, when one did. */
  signal?: number;
  /** How often SLURM has requeued the job (preemption, node failure, `scontrol requeue`). */
  restarts: number;
  /** Times in ms since the epoch; `startedAt` and `endedAt` only once they have happened. */
  submittedAt?: number;
  startedAt?: number;
  endedAt?: number;
  /** The numeric id of the user who submitted it (squeue only). */
  userId?: number;
  /** Which command said so: squeue (the controller's memory) or sacct (accounting). */
  source: 'squeue' | 'sacct';
}

/** One partition as `sinfo` lists it. */
export interface SlurmPartition {
  name: string;
  /** Where jobs go that name no partition. */
  isDefault: boolean;
  /** `up`, `down`, `drain` or `inact`. */
  availability: string;
  /** The partition's time limit as SLURM writes it (`infinite`, `1-00:00:00`, …). */
  timeLimit: string;
  nodes: { allocated: number; idle: number; other: number; total: number };
  /** The nodes as a SLURM host list (`vm`, `node[01-16]`). */
  nodeList: string;
}

/** Maps each SLURM job state (base states and the flags that override them) to an executor state. */
const STATES: Readonly<Record<string, ExecutorState>> = {
  PENDING: 'waiting',
  CONFIGURING: 'waiting',
  POWER_UP_NODE: 'waiting',
  REQUEUED: 'waiting',
  REQUEUE_FED: 'waiting',
  REQUEUE_HOLD: 'waiting',
  RESV_DEL_HOLD: 'waiting',
  // A suspended or stopped job holds its place but makes no progress until it is resumed.
  SUSPENDED: 'waiting',
  STOPPED: 'waiting',
  RUNNING: 'running',
  // The batch script has ended, but SLURM is still cleaning up; its outcome is not final yet.
  COMPLETING: 'running',
  STAGE_OUT: 'running',
  SIGNALING: 'running',
  RESIZING: 'running',
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  TIMEOUT: 'failed',
  NODE_FAIL: 'failed',
  OUT_OF_MEMORY: 'failed',
  BOOT_FAIL: 'failed',
  DEADLINE: 'failed',
  PREEMPTED: 'failed',
  SPECIAL_EXIT: 'failed',
  CANCELLED: 'cancelled',
  REVOKED: 'cancelled',
};

/**
 * Flags that name the state in place of the base state, in the order SLURM's `job_state_string`
 * tests them: a job that has ended but is still COMPLETING is reported as completing.
 */
const FLAG_ORDER = [
  'COMPLETING',
  'STAGE_OUT',
  'CONFIGURING',
  'RESIZING',
  'REQUEUED',
  'REQUEUE_FED',
  'REQUEUE_HOLD',
  'SPECIAL_EXIT',
  'STOPPED',
  'REVOKED',
  'RESV_DEL_HOLD',
  'POWER_UP_NODE',
  'SIGNALING',
];

/**
 * The executor state of a SLURM state name, as squeue or sacct print it (`CANCELLED by 1000` is
 * CANCELLED). A name this build does not know counts as running: the job exists and has not been
 * reported ended, and the events file says when it is.
 */
export function toExecutorState(slurmState: string): ExecutorState {
  const base = slurmState.trim().split(/\s+/)[0]?.toUpperCase() ?? '';
  return STATES[base] ?? 'running';
}

/** The one state name a list of state flags (SLURM 23.02 and later) amounts to. */
function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const names = value.filter((item): item is string => typeof item === 'string');
    return FLAG_ORDER.find((flag) => names.includes(flag)) ?? names[0] ?? 'UNKNOWN';
  }
  return 'UNKNOWN';
}

/** A number as either version prints it: plain, or `{set, infinite, number}`. */
function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value !== null && typeof value === 'object') {
    const { set, infinite, number } = value as { set?: unknown; infinite?: unknown; number?: unknown };
    if (set === false || infinite === true) return undefined;
    if (typeof number === 'number' && Number.isFinite(number)) return number;
  }
  return undefined;
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * The exit status and signal: 22.05 prints the raw wait status (`exit 3` is 768, a SIGTERM is 15);
 * later versions print `{status, return_code, signal: {id, name}}`.
 */
function exitOf(value: unknown): { exitCode?: number; signal?: number } {
  const raw = numberOf(value);
  if (raw !== undefined) {
    const signal = raw & 0x7f;
    return signal === 0 ? { exitCode: (raw >> 8) & 0xff } : { signal };
  }
  if (value !== null && typeof value === 'object') {
    const { return_code: returnCode, signal } = value as { return_code?: unknown; signal?: unknown };
    const id =
      signal !== null && typeof signal === 'object' ? numberOf((signal as { id?: unknown }).id) : undefined;
    if (id !== undefined && id !== 0) return { signal: id };
    const code = numberOf(returnCode);
    return code === undefined ? {} : { exitCode: code };
  }
  return {};
}

function secondsToMs(value: unknown): number | undefined {
  const seconds = numberOf(value);
  return seconds !== undefined && seconds > 0 ? seconds * 1000 : undefined;
}

function commandFailed(command: string, message: string, received: string): DistilleryError {
  return new DistilleryError('SLURM_COMMAND_FAILED', `${command}: ${message}`, {
    command,
    expected: 'the output of SLURM 22.05 or later',
    received: received.slice(0, 300),
  });
}

/**
 * The jobs in `squeue --json` output. Throws SLURM_COMMAND_FAILED when it is not squeue's JSON, and
 * SLURM_UNAVAILABLE when squeue reports errors: 22.05 exits 0 with an empty job list and an error
 * when the controller does not answer, which must not read as "no jobs".
 */
export function parseSqueueJson(text: string): SlurmJobStatus[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw commandFailed('squeue --json', 'the output is not JSON', text);
  }
  const { jobs, errors } = (document ?? {}) as { jobs?: unknown; errors?: unknown };
  if (Array.isArray(errors) && errors.length > 0) {
    const messages = errors.map(describeSlurmError).join('; ');
    throw new DistilleryError('SLURM_UNAVAILABLE', `squeue could not read the jobs: ${messages}`, {
      command: 'squeue',
      slurmMessage: messages,
    });
  }
  if (!Array.isArray(jobs)) throw commandFailed('squeue --json', 'the output has no "jobs" list', text);
  return jobs.map(toJobStatus);
}

/** One entry of an `errors` list: `Failed while looking for jobs (slurm_load_jobs: Unspecified error)`. */
function describeSlurmError(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const { error: message, description, source } = error as Record<string, unknown>;
    const what = textOf(description) ?? textOf(message);
    const detail = [textOf(source), what === textOf(message) ? undefined : textOf(message)]
      .filter((part): part is string => part !== undefined)
      .join(': ');
    if (what) return detail ? `${what} (${detail})` : what;
  }
  return JSON.stringify(error);
}

function toJobStatus(raw: unknown): SlurmJobStatus {
  const job = (raw ?? {}) as Record<string, unknown>;
  const arrayJob = numberOf(job.array_job_id);
  const arrayTask = numberOf(job.array_task_id);
  const jobId =
    arrayJob !== undefined && arrayJob > 0 && arrayTask !== undefined
      ? `${arrayJob}_${arrayTask}`
      : String(numberOf(job.job_id) ?? '');
  const slurmState = stateName(job.job_state);
  const state = toExecutorState(slurmState);
  const status: SlurmJobStatus = {
    jobId,
    name: textOf(job.name) ?? '',
    state,
    slurmState,
    restarts: numberOf(job.restart_cnt) ?? 0,
    source: 'squeue',
  };
  const reason = textOf(job.state_reason);
  const description = textOf(job.state_description);
  if (reason && reason !== 'None') status.reason = description ? `${reason}: ${description}` : reason;
  const node = textOf(job.batch_host) ?? textOf(job.nodes);
  if (node && state !== 'waiting') status.node = node;
  const partition = textOf(job.partition);
  if (partition) status.partition = partition;
  const userId = numberOf(job.user_id);
  if (userId !== undefined) status.userId = userId;
  const submittedAt = secondsToMs(job.submit_time);
  if (submittedAt !== undefined) status.submittedAt = submittedAt;
  // For a pending job, squeue's start and end times are the scheduler's forecast, not facts.
  if (state !== 'waiting') {
    const startedAt = secondsToMs(job.start_time);
    if (startedAt !== undefined) status.startedAt = startedAt;
  }
  if (state === 'succeeded' || state === 'failed' || state === 'cancelled') {
    const endedAt = secondsToMs(job.end_time);
    if (endedAt !== undefined) status.endedAt = endedAt;
    Object.assign(status, exitOf(job.exit_code));
  }
  return status;
}

/** The fields the client asks `sacct --format` for, in this order (see parseSacct). */
export const SACCT_FIELDS = [
  'JobID',
  'JobName',
  'State',
  'ExitCode',
  'NodeList',
  'Submit',
  'Start',
  'End',
  'Partition',
] as const;

/** sacct's times: local time without a zone (`2026-12-01T09:53:52`), or `Unknown` / `None`. */
function sacctTime(text: string | undefined): number | undefined {
  if (!text || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(text)) return undefined;
  // Without a zone, a date-time string is read as local time, as sacct printed it.
  const time = new Date(text).getTime();
  return Number.isFinite(time) ? time : undefined;
}

/**
 * The jobs in `sacct --parsable2 --noheader --format=<SACCT_FIELDS>` output, one per job (the
 * last record of each when sacct lists one more than once); job steps (`123.batch`) are left out.
 * sacct does not say how often a job was requeued: `restarts` is 0.
 */
export function parseSacct(text: string): SlurmJobStatus[] {
  const byId = new Map<string, SlurmJobStatus>();
  const trailing = SACCT_FIELDS.length - 2;
  for (const line of text.split('\n')) {
    if (line.trim().length === 0) continue;
    const parts = line.split('|');
    if (parts.length < SACCT_FIELDS.length) {
      throw commandFailed('sacct', `expected ${SACCT_FIELDS.length} "|"-separated fields`, line);
    }
    // A job name may hold "|"; every other field cannot.
    const [jobId = '', ...rest] = parts;
    const name = rest.slice(0, rest.length - trailing).join('|');
    const [state = '', exit = '', nodes, submit, start, end, partition] = rest.slice(rest.length - trailing);
    if (jobId.includes('.')) continue;
    const slurmState = state.trim().split(/\s+/)[0] ?? state;
    const executorState = toExecutorState(slurmState);
    const status: SlurmJobStatus = {
      jobId,
      name,
      state: executorState,
      slurmState,
      restarts: 0,
      source: 'sacct',
    };
    const node = nodes && nodes !== 'None assigned' ? nodes : undefined;
    if (node && executorState !== 'waiting') status.node = node;
    if (partition) status.partition = partition;
    const submittedAt = sacctTime(submit);
    if (submittedAt !== undefined) status.submittedAt = submittedAt;
    const startedAt = sacctTime(start);
    if (startedAt !== undefined && executorState !== 'waiting') status.startedAt = startedAt;
    const endedAt = sacctTime(end);
    if (endedAt !== undefined && executorState !== 'waiting' && executorState !== 'running')
      status.endedAt = endedAt;
    // ExitCode is "<exit status>:<signal>".
    const exitMatch = /^(\d+):(\d+)$/.exec(exit);
    if (exitMatch && executorState !== 'waiting' && executorState !== 'running') {
      const signal = Number(exitMatch[2]);
      if (signal !== 0) status.signal = signal;
      else status.exitCode = Number(exitMatch[1]);
    }
    // A later record of the same id (a requeued run, or an id reused after the controller's state
    // was reset) is the one that counts.
    byId.set(jobId, status);
  }
  return [...byId.values()];
}

/** The partitions in `sinfo --noheader --format='%P|%a|%l|%F|%N'` output, one entry per partition. */
export function parseSinfo(text: string): SlurmPartition[] {
  const byName = new Map<string, SlurmPartition>();
  for (const line of text.split('\n')) {
    if (line.trim().length === 0) continue;
    const [rawName = '', availability = '', timeLimit = '', counts = '', nodeList = ''] = line
      .trim()
      .split('|');
    const numbers = counts.split('/').map(Number);
    if (numbers.length !== 4 || numbers.some((value) => !Number.isInteger(value))) {
      throw commandFailed('sinfo', 'expected "partition|availability|time limit|A/I/O/T|nodes"', line);
    }
    const [allocated = 0, idle = 0, other = 0, total = 0] = numbers;
    const isDefault = rawName.endsWith('*');
    const name = isDefault ? rawName.slice(0, -1) : rawName;
    const known = byName.get(name);
    if (known) {
      // sinfo splits a partition into one line per group of alike nodes.
      known.nodes.allocated += allocated;
      known.nodes.idle += idle;
      known.nodes.other += other;
      known.nodes.total += total;
      known.nodeList = `${known.nodeList},${nodeList}`;
      known.isDefault ||= isDefault;
    } else {
      byName.set(name, {
        name,
        isDefault,
        availability,
        timeLimit,
        nodes: { allocated, idle, other, total },
        nodeList,
      });
    }
  }
  return [...byName.values()];
}

/** `scontrol show config` as key → value (`(null)` values left out; the first of a repeated key kept). */
export function parseScontrolConfig(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(\S+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match?.[1] || match[2] === undefined || match[2] === '(null)') continue;
    if (!entries.has(match[1])) entries.set(match[1], match[2]);
  }
  return entries;
}

/** The job id (and cluster, on a federation) that `sbatch --parsable` printed: `123` or `123;cluster`. */
export function parseSbatchParsable(stdout: string): { jobId: string; cluster?: string } | undefined {
  const line = stdout
    .split('\n')
    .map((text) => text.trim())
    .filter((text) => text.length > 0)
    .at(-1);
  const match = line ? /^(\d+(?:_\d+)?)(?:;(\S+))?$/.exec(line) : null;
  if (!match?.[1]) return undefined;
  return match[2] ? { jobId: match[1], cluster: match[2] } : { jobId: match[1] };
}
