/**
 * `distillery runs list | show | metrics | rename | tag | untag | note | rm`: through the api
 * handlers, each with `--json`.
 */
import type { MetricPointInfo } from '../../preload/contract';
import type { Handlers } from '../api/handlers';
import { EXIT, need, print, UsageError, type Flags } from './command-line';
import { runDetail, runsTable } from './format';

/** One `runs` verb. */
export async function runsCommand(
  handlers: Handlers,
  sub: string | undefined,
  positionals: string[],
  flags: Flags,
): Promise<number> {
  if (sub === 'list') {
    const runs = await handlers['runs.list']({ limit: flags.limit ? Number(flags.limit) : 50 });
    print(flags, runs, () => (runs.length ? runsTable(runs) : 'No runs yet.'));
    return EXIT.ok;
  }
  if (sub === 'metrics') {
    const run = await handlers['runs.get']({ runId: need(positionals, 2, 'RUN') });
    const tasks = run.tasks.filter((task) => !flags.node || task.nodeId === flags.node);
    if (flags.node && tasks.length === 0) throw new UsageError(`run ${run.id} has no node "${flags.node}"`);
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
