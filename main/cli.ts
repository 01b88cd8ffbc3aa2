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
import { parseArgs } from 'node:util';
import { serializeError } from './base/errors';
import { resolveDataDir } from './app/paths';
import { installProcessGuard } from './app/process-guard';
import { productVersion } from './export/producer';
import { createHandlers } from './api/handlers';
import { EXIT, need, openApp, OPTIONS, print, USAGE, UsageError } from './cli/command-line';
import { doctorReport, doctorText } from './cli/doctor';
import { followRun, holdInterrupts } from './cli/follow-run';
import { nodesCommand, validateCommand } from './cli/pipeline-commands';
import { exportCommand, gcCommand, modelsCommand } from './cli/registry-commands';
import { runsCommand } from './cli/runs-command';
import { runSweep, sweepsCommand } from './cli/sweeps';

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
      case 'runs':
        return await runsCommand(handlers, sub, positionals, flags);
      case 'models':
        return await modelsCommand(handlers, sub, positionals, flags);
      case 'export':
        return await exportCommand(handlers, positionals, flags);
      case 'sweeps':
        return await sweepsCommand(
          app,
          handlers,
          sub,
          positionals[2],
          flags,
          (message) => new UsageError(message),
        );
      case 'gc':
        return await gcCommand(app, flags);
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
