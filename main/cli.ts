/**
 * `distillery` — the headless front end: validate and run pipelines, inspect runs, manage the
 * model registry, export models, and serve the workbench to a browser. Every listing command
 * takes `--json`.
 *
 * Every command that a contract method covers answers through the same api/ handlers as serve and
 * the desktop app, so the three cannot disagree. Only what the contract has no method for uses the
 * services directly: following a run or a sweep to its end with live progress and Ctrl+C (`run`,
 * `resume`, `sweeps resume`), and `gc`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { MetricPointInfo, PipelineDoc } from '../preload/contract';
import { DistilleryError, serializeError } from './base/errors';
import { createApp, type DistilleryApp } from './app/app';
import { resolveDataDir } from './app/paths';
import { installProcessGuard } from './app/process-guard';
import { productVersion } from './export/producer';
import { createDocumentHandlers, createHandlers } from './api/handlers';
import {
  lineageTree,
  modelDetail,
  modelsTable,
  nodeDetail,
  nodeTable,
  registeredTable,
  runDetail,
  runsTable,
} from './cli/format';
import { doctorReport, doctorText } from './cli/doctor';
import { RunProgress } from './cli/progress';
import { EXECUTOR_NAMES, type ExecutorName } from './jobs/executors/types';
import { runSweep, sweepsCommand } from './cli/sweeps';
import { createDefaultCatalog } from './nodes/index';
import { topologicalOrder } from './pipeline/graph';
import { migrate, parseJson } from './pipeline/pipeline-file';

const USAGE = `distillery ${'<command>'} [options]

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

const OPTIONS = {
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

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Exit codes: 0 ok, 1 a run or task failed, 2 bad usage or input, 130 cancelled. */
export const EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 130 } as const;

class UsageError extends Error {}

function print(flags: Flags, json: unknown, text: () => string): void {
  process.stdout.write(flags.json ? JSON.stringify(json, null, 2) + '\n' : text() + '\n');
}

function need(positionals: string[], index: number, what: string): string {
  const value = positionals[index];
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
}

function openApp(flags: Flags): DistilleryApp {
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

async function validateCommand(file: string, flags: Flags): Promise<number> {
  const handlers = createDocumentHandlers(createDefaultCatalog());
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DistilleryError(
      'PIPELINE_FILE_UNREADABLE',
      `Cannot read ${file}: ${(error as Error).message}`,
      { file },
    );
  }
  // Parsed here rather than by `pipelines.load`, which refuses a structurally broken file whole:
  // `validate` lists every issue of any file that is JSON.
  const doc = migrate(parseJson(text, file));
  const issues = await handlers['pipelines.validate']({ doc, file });
  print(flags, { valid: issues.length === 0, issues }, () =>
    issues.length === 0
      ? validSummary(file, doc as PipelineDoc)
      : `${file}: ${issues.length} issue${issues.length === 1 ? '' : 's'}\n${issues.map((i) => `  [${i.code}] ${i.message}${i.pointer !== undefined ? `  (at ${i.pointer || '/'})` : ''}`).join('\n')}`,
  );
  return issues.length === 0 ? EXIT.ok : EXIT.usage;
}

/** "FILE: valid (3 nodes: a → b → c)", the nodes in the order they run. */
function validSummary(file: string, doc: PipelineDoc): string {
  // A valid document has no cycle, so every node is in the order.
  const { order } = topologicalOrder(
    doc.nodes.map((node) => node.id),
    doc.edges,
  );
  return `${file}: valid (${order.length} nodes: ${order.join(' → ')})`;
}

async function nodesCommand(type: string | undefined, flags: Flags): Promise<number> {
  const specs = await createDocumentHandlers(createDefaultCatalog())['catalog.list']({});
  if (!type) {
    print(flags, specs, () => nodeTable(specs));
    return EXIT.ok;
  }
  const spec = specs.find((candidate) => candidate.type === type);
  if (!spec) throw new UsageError(`unknown node type "${type}"; see "distillery nodes"`);
  print(flags, spec, () => nodeDetail(spec));
  return EXIT.ok;
}

/**
 * A Ctrl+C that arrives while a run is being started (before followRun listens) is held, not
 * left to kill the process: followRun then acts on it as on one that came later.
 */
function holdInterrupts(): { readonly count: number; dispose(): void } {
  let count = 0;
  const onSigint = () => (count += 1);
  process.on('SIGINT', onSigint);
  return {
    get count() {
      return count;
    },
    dispose: () => process.off('SIGINT', onSigint),
  };
}

async function followRun(
  app: DistilleryApp,
  runId: string,
  flags: Flags,
  held?: { readonly count: number; dispose(): void },
): Promise<number> {
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      process.stderr.write(`\nCancelling ${runId} (checkpointing; Ctrl+C again to stop at once)…\n`);
      app.runner.cancel(runId);
    } else {
      app.dispose();
      process.exit(EXIT.cancelled);
    }
  };
  process.on('SIGINT', onSigint);
  held?.dispose();
  for (let i = 0; i < Math.min(held?.count ?? 0, 1); i++) onSigint();
  const progress = flags.json ? undefined : new RunProgress(app.runner, runId, process.stderr);
  progress?.seed(app.runs.getRun(runId));
  const info = await app.runner.waitForRun(runId);
  process.off('SIGINT', onSigint);
  progress?.dispose();
  print(
    flags,
    info,
    () =>
      runDetail(info) +
      (info.status === 'cancelled' || info.status === 'failed'
        ? `\n\nResume with: distillery resume ${info.id}`
        : ''),
  );
  return info.status === 'done' ? EXIT.ok : info.status === 'cancelled' ? EXIT.cancelled : EXIT.failed;
}

async function main(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (flags.version) {
    process.stdout.write(`distillery ${productVersion()}\n`);
    return EXIT.ok;
  }
  const [command, sub] = positionals;
  if (flags.help || !command) {
    process.stdout.write(USAGE + '\n');
    return command || flags.help ? EXIT.ok : EXIT.usage;
  }
  // These two need only the catalog: they must not create or migrate a data folder.
  if (command === 'validate') return validateCommand(need(positionals, 1, 'FILE'), flags);
  if (command === 'nodes') return nodesCommand(sub, flags);
  if (command === 'doctor') {
    // Reads the data directory without opening (or creating) its database.
    const report = await doctorReport(resolveDataDir(flags['data-dir']));
    print(flags, report, () => doctorText(report));
    return report.ok ? EXIT.ok : EXIT.failed;
  }
  if (command === 'serve') {
    const { serveCommand } = await import('./serve/serve-command');
    return serveCommand(openApp(flags), { port: flags.port, host: flags.host });
  }

  const app = openApp(flags);
  const recording = guard.recordInto(app.runner);
  try {
    const handlers = createHandlers(app);
    switch (command) {
      case 'run': {
        const file = need(positionals, 1, 'FILE');
        const { doc } = await handlers['pipelines.load']({ path: file });
        // A pipeline with a sweep block runs its search: each trial is a run.
        if (doc.sweep !== undefined) return await runSweep(app, handlers, doc, file, flags);
        const held = holdInterrupts();
        const run = await handlers['runs.start']({
          doc,
          force: flags.force,
          ...(flags.from?.length ? { forceNodes: flags.from } : {}),
          pipelineFile: file,
        });
        if (!flags.json) process.stderr.write(`Run ${run.id} (${run.name}) — data in ${app.layout.root}\n`);
        return await followRun(app, run.id, flags, held);
      }
      case 'resume': {
        const held = holdInterrupts();
        const run = await handlers['runs.resume']({ runId: need(positionals, 1, 'RUN') });
        if (!flags.json) process.stderr.write(`Resuming ${run.id}\n`);
        return await followRun(app, run.id, flags, held);
      }
      case 'cancel': {
        const run = await handlers['runs.cancel']({ runId: need(positionals, 1, 'RUN') });
        print(flags, run, () => `Cancel requested for ${run.id} (${run.status})`);
        return EXIT.ok;
      }
      case 'runs': {
        if (sub === 'list') {
          const runs = await handlers['runs.list']({ limit: flags.limit ? Number(flags.limit) : 50 });
          print(flags, runs, () => (runs.length ? runsTable(runs) : 'No runs yet.'));
          return EXIT.ok;
        }
        if (sub === 'metrics') {
          const run = await handlers['runs.get']({ runId: need(positionals, 2, 'RUN') });
          const tasks = run.tasks.filter((task) => !flags.node || task.nodeId === flags.node);
          if (flags.node && tasks.length === 0)
            throw new UsageError(`run ${run.id} has no node "${flags.node}"`);
          const rows: Array<{ node: string } & MetricPointInfo> = [];
          for (const task of tasks) {
            const points = await handlers['runs.metrics']({
              taskId: task.id,
              ...(flags.name ? { names: [flags.name] } : {}),
            });
            rows.push(...points.map((point) => ({ node: task.nodeId, ...point })));
          }
          print(flags, rows, () =>
            [
              'node,step,epoch,name,value,time',
              ...rows.map((r) => [r.node, r.step, r.epoch ?? '', r.name, r.value, r.time].join(',')),
            ].join('\n'),
          );
          return EXIT.ok;
        }
        if (sub === 'show') {
          const run = await handlers['runs.get']({ runId: need(positionals, 2, 'RUN') });
          print(flags, run, () => runDetail(run));
          return EXIT.ok;
        }
        if (sub === 'rename') {
          const runId = need(positionals, 2, 'RUN');
          const label = positionals.slice(3).join(' ');
          const run = await handlers['runs.update']({ runId, label: label === '' ? null : label });
          print(flags, run, () => (run.label ? `${run.id} is now "${run.label}"` : `${run.id} has no name`));
          return EXIT.ok;
        }
        if (sub === 'tag' || sub === 'untag') {
          const runId = need(positionals, 2, 'RUN');
          const given = positionals.slice(3);
          if (given.length === 0) throw new UsageError(`runs ${sub} needs at least one TAG`);
          const current = (await handlers['runs.get']({ runId })).tags;
          const tags =
            sub === 'tag' ? [...current, ...given] : current.filter((tag) => !given.includes(tag.trim()));
          const run = await handlers['runs.update']({ runId, tags });
          print(flags, run, () => `${run.id} tags: ${run.tags.join(', ') || '—'}`);
          return EXIT.ok;
        }
        if (sub === 'note') {
          const runId = need(positionals, 2, 'RUN');
          const run = await handlers['runs.update']({ runId, note: positionals.slice(3).join(' ') });
          print(flags, run, () => (run.note ? `${run.id} note: ${run.note}` : `${run.id} has no note`));
          return EXIT.ok;
        }
        if (sub === 'rm') {
          const result = await handlers['runs.delete']({
            runId: need(positionals, 2, 'RUN'),
            deleteModels: flags['with-models'],
          });
          print(flags, result, () =>
            [
              `Deleted run ${result.deleted}`,
              result.deletedModels.length ? `  and model versions ${result.deletedModels.join(', ')}` : '',
              result.keptModels.length
                ? `  kept ${result.keptModels.join(', ')}: other versions derive from them`
                : '',
            ]
              .filter(Boolean)
              .join('\n'),
          );
          return EXIT.ok;
        }
        throw new UsageError('usage: distillery runs list|show|metrics|rename|tag|untag|note|rm RUN');
      }
      case 'models': {
        switch (sub) {
          case 'list': {
            const models = await handlers['models.list'](flags.name ? { name: flags.name } : {});
            print(flags, models, () => (models.length ? modelsTable(models) : 'The registry is empty.'));
            return EXIT.ok;
          }
          case 'show': {
            const model = await handlers['models.get']({ ref: need(positionals, 2, 'REF') });
            print(flags, model, () => modelDetail(model));
            return EXIT.ok;
          }
          case 'lineage': {
            const graph = await handlers['models.lineage']({ ref: need(positionals, 2, 'REF') });
            print(flags, graph, () => lineageTree(graph));
            return EXIT.ok;
          }
          case 'tag': {
            const model = await handlers['models.tag']({
              ref: need(positionals, 2, 'REF'),
              alias: need(positionals, 3, 'ALIAS'),
            });
            print(flags, model, () => `${model.name}:${model.version} is now @${model.aliases.join(' @')}`);
            return EXIT.ok;
          }
          case 'untag': {
            const ref = need(positionals, 2, 'REF');
            const alias = need(positionals, 3, 'ALIAS');
            const model = await handlers['models.untag']({ ref, alias });
            print(
              flags,
              model,
              () =>
                `Removed @${alias} from ${model.name}:${model.version}${model.aliases.length ? ` (still @${model.aliases.join(' @')})` : ''}`,
            );
            return EXIT.ok;
          }
          case 'registered': {
            const models = await handlers['models.registered']({});
            print(flags, models, () => (models.length ? registeredTable(models) : 'The registry is empty.'));
            return EXIT.ok;
          }
          case 'describe': {
            const name = need(positionals, 2, 'NAME');
            const model = await handlers['models.describe']({
              name,
              description: positionals.slice(3).join(' '),
            });
            print(flags, model, () => `${model.name}: ${model.description || '(no description)'}`);
            return EXIT.ok;
          }
          case 'rm': {
            const result = await handlers['models.delete']({
              ref: need(positionals, 2, 'REF'),
              force: flags.force,
            });
            print(
              flags,
              result,
              () => `Deleted ${result.deleted.join(', ')} (run "distillery gc" to free the files)`,
            );
            return EXIT.ok;
          }
          default:
            throw new UsageError(
              'usage: distillery models list|show|lineage|tag|untag|registered|describe|rm',
            );
        }
      }
      case 'export': {
        const ref = need(positionals, 1, 'REF');
        if (!flags.out) throw new UsageError('export needs --out DIR');
        // On the command line a relative folder means one below the current directory, as in any shell command.
        const outDir = resolve(flags.out);
        const result = await handlers['models.export']({
          ref,
          format: flags.format ?? 'tfjs',
          outDir,
          force: flags.force,
        });
        print(
          flags,
          result,
          () =>
            `Wrote ${result.files.length} files to ${outDir}:\n${result.files.map((f) => `  ${f}`).join('\n')}`,
        );
        return EXIT.ok;
      }
      case 'sweeps':
        return await sweepsCommand(
          app,
          handlers,
          sub,
          positionals[2],
          flags,
          (message) => new UsageError(message),
        );
      case 'gc': {
        const result = await app.registry.gc();
        print(
          flags,
          result,
          () =>
            `Removed ${result.removedFiles} unreferenced files (${result.removedBytes} bytes) and ${result.removedTemp} temporary files`,
        );
        return EXIT.ok;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    recording.dispose();
    app.dispose();
  }
}

// An error nobody handled (a task's, a listener's) is recorded and the command goes on: `run`
// keeps following its run, `serve` keeps serving. Should the command then never finish, the
// process ends with EXIT.failed rather than a success it did not earn; `main` sets the real code.
const guard = installProcessGuard();
process.exitCode = EXIT.failed;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const json = process.argv.includes('--json');
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`distillery: ${(error as Error).message}\n\n${USAGE}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    const data = serializeError(error);
    if (json) process.stdout.write(JSON.stringify({ error: data }, null, 2) + '\n');
    else process.stderr.write(`distillery: [${data.code}] ${data.message}\n`);
    process.exitCode = data.code === 'INTERNAL' ? EXIT.failed : EXIT.usage;
  },
);
