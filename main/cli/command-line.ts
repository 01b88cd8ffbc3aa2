/**
 * What every `distillery` command shares: the usage text, the flags, the exit codes, usage
 * errors, printing a result (as JSON with `--json`), and opening the app the flags describe.
 */
import type { parseArgs } from 'node:util';
import { createApp, type DistilleryApp } from '../app/app';
import { resolveDataDir } from '../app/paths';
import { EXECUTOR_NAMES, type ExecutorName } from '../jobs/executors/types';

/** The help text, printed by `--help` and after a usage error. */
export const USAGE = `distillery ${'<command>'} [options]

Pipelines
  nodes [TYPE]                      node types with their ports and params (one type in full)
  validate FILE                     check a *.distillery.json file; lists every issue
  run FILE [--force] [--from NODE]  run a pipeline (progress per task; Ctrl+C cancels and checkpoints);
                                    --from runs NODE and everything downstream again (repeatable)
  runs list                         recent runs
  runs show RUN                     one run with its tasks
  runs metrics RUN [--node N] [--name M]   streamed metrics as CSV (node,step,epoch,name,value,time)
  runs rename RUN LABEL             name a run ("" drops the name; the pipeline's name stays)
  runs tag RUN TAG...               add tags to a run; runs untag RUN TAG... removes them
  runs note RUN TEXT                set a run's note ("" clears it)
  runs rm RUN [--with-models]       delete a finished run and its folder; its registered models stay
                                    unless --with-models (those others derive from are kept)
  resume RUN                        continue a cancelled or failed run from its checkpoints
  cancel RUN                        cancel a running run (also one started by another process)
  doctor                            can tasks run on SLURM from here: commands, cluster, partitions, run folder

Sweeps (a pipeline with a "sweep" block: "run FILE" starts it; Ctrl+C cancels it, resumably)
  sweeps list                       recent sweeps with their trial counts and best objective
  sweeps show SWEEP                 one sweep: its trials best first (params, objective, status, epochs)
  sweeps resume SWEEP [--rerun-failed]   continue a cancelled or interrupted sweep; finished trials stay,
                                    failed ones run again only with --rerun-failed
  sweeps cancel SWEEP               cancel a sweep (also one started by another process)

Registry (REF = version id, name:version, name@alias or name)
  models list [--name NAME]         model versions, newest first
  models show REF                   one version with metrics and params
  models lineage REF                parents and children, with the operation on each edge
  models tag REF ALIAS              point ALIAS at REF (moves it if it named another version)
  models untag REF ALIAS            remove ALIAS from the version REF names
  models registered                 registered models (one per name) with version counts and aliases
  models describe NAME TEXT         set a registered model's description
  models rm REF [--force]           delete; refused while other versions derive from it
  export REF --format tfjs|onnx --out DIR [--force]   tfjs: model.json + shards; onnx: DIR/model.onnx;
                                    a DIR holding another model's export is refused unless --force
  gc                                remove artifact files no version references

Workbench
  serve [--port 7860] [--host 127.0.0.1]   the workbench in a browser; prints a URL with an access token

Options
  --data-dir DIR     where runs and the registry live (else $DISTILLERY_HOME, else the OS data folder)
  --backend NAME     force a backend: tensorflow-gpu, tensorflow, webgpu, wasm, cpu
  --concurrency N    worker processes at once (default: cores)
  --executor NAME    where tasks run: local (this machine) or slurm (batch jobs); for run, resume
                     and sweeps resume, over the pipeline's "executor" block and executors.json
  --json             machine-readable output
  --version, --help`;

/** Every flag any command takes. */
export const OPTIONS = {
  'data-dir': { type: 'string' },
  backend: { type: 'string' },
  concurrency: { type: 'string' },
  json: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  from: { type: 'string', multiple: true },
  'with-models': { type: 'boolean', default: false },
  format: { type: 'string' },
  out: { type: 'string' },
  name: { type: 'string' },
  node: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  limit: { type: 'string' },
  'rerun-failed': { type: 'boolean', default: false },
  executor: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false },
} as const;

/** The flags as parsed. */
export type Flags = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

/** Exit codes: 0 ok, 1 a run or task failed, 2 bad usage or input, 130 cancelled. */
export const EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 130 } as const;

/** Bad usage: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** Prints `json` with `--json`, else the text. */
export function print(flags: Flags, json: unknown, text: () => string): void {
  process.stdout.write(flags.json ? JSON.stringify(json, null, 2) + '\n' : text() + '\n');
}

/** The positional argument at `index`, or a usage error naming what is missing. */
export function need(positionals: string[], index: number, what: string): string {
  const value = positionals[index];
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
}

/** The app for the data folder, backend, concurrency and executor the flags name. */
export function openApp(flags: Flags): DistilleryApp {
  const concurrency = flags.concurrency !== undefined ? Number(flags.concurrency) : undefined;
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1))
    throw new UsageError('--concurrency must be a positive integer');
  const executor = flags.executor;
  if (executor !== undefined && !(EXECUTOR_NAMES as readonly string[]).includes(executor))
    throw new UsageError(`--executor must be ${EXECUTOR_NAMES.join(' or ')}, got "${executor}"`);
  return createApp({
    dataDir: resolveDataDir(flags['data-dir']),
    ...(concurrency ? { concurrency } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}),
    ...(executor ? { executors: { executor: executor as ExecutorName } } : {}),
  });
}
