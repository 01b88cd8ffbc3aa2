/**
 * The registry's commands: `distillery models list | show | lineage | tag | untag | registered |
 * describe | rm`, `export`, and `gc`, each with `--json`.
 */
import { resolve } from 'node:path';
import type { Handlers } from '../api/handlers';
import type { DistilleryApp } from '../app/app';
import { EXIT, need, print, UsageError, type Flags } from './command-line';
import { lineageTree, modelDetail, modelsTable, registeredTable } from './format';

/** One `models` verb. */
export async function modelsCommand(
  handlers: Handlers,
  sub: string | undefined,
  positionals: string[],
  flags: Flags,
): Promise<number> {
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
      throw new UsageError('usage: distillery models list|show|lineage|tag|untag|registered|describe|rm');
  }
}

/** `export REF --format tfjs|onnx --out DIR [--force]`. */
export async function exportCommand(
  handlers: Handlers,
  positionals: string[],
  flags: Flags,
): Promise<number> {
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
    () => `Wrote ${result.files.length} files to ${outDir}:\n${result.files.map((f) => `  ${f}`).join('\n')}`,
  );
  return EXIT.ok;
}

/** `gc`: removes artifact files no version references. */
export async function gcCommand(app: DistilleryApp, flags: Flags): Promise<number> {
  const result = await app.registry.gc();
  print(
    flags,
    result,
    () =>
      `Removed ${result.removedFiles} unreferenced files (${result.removedBytes} bytes) and ${result.removedTemp} temporary files`,
  );
  return EXIT.ok;
}
