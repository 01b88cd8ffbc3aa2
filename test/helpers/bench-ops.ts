/**
 * Running product ops one after the other in a benchmark's own process, each in a numbered task
 * folder of `root`, with its progress on stderr: what bench:compress and bench:quantize share.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { OpSummary } from '../../main/worker/context';
import type { FakeOpContext } from './fake-op-context';
import { TrainTestContext } from './train-fixtures';

export interface OpRun {
  summary: OpSummary;
  ctx: TrainTestContext;
  seconds: number;
  /** The task's `model` output, when it has one. */
  model?: string;
}

/**
 * A runner of ops whose tasks get seeds `seedBase + 1`, `seedBase + 2`, … in call order, and whose
 * `watched` metrics are printed as they arrive.
 */
export function benchOpRunner(options: { seedBase: number; watched: readonly string[] }) {
  let taskCounter = 0;
  return async function runOp(
    root: string,
    label: string,
    op: (ctx: FakeOpContext) => Promise<OpSummary>,
    params: Record<string, unknown>,
    inputs: Record<string, string>,
  ): Promise<OpRun> {
    taskCounter += 1;
    const taskDir = join(root, `${String(taskCounter).padStart(2, '0')}-${label}`);
    mkdirSync(taskDir, { recursive: true });
    const started = performance.now();
    const ctx = new TrainTestContext(
      {
        taskDir,
        nodeId: label,
        seed: options.seedBase + taskCounter,
        params,
        inputs: Object.fromEntries(
          Object.entries(inputs).map(([port, path]) => [
            port,
            { kind: port === 'dataset' ? 'dataset' : 'model', path, meta: {} },
          ]),
        ),
      },
      {
        onMetric: (point) => {
          if (!options.watched.includes(point.name)) return;
          const time = ((performance.now() - started) / 1000).toFixed(0);
          process.stderr.write(
            `  [${label}] ${point.name} ${point.value.toFixed(4)} (epoch ${point.epoch ?? '-'}, ${time} s)\n`,
          );
        },
      },
    );
    const summary = await op(ctx);
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(`  [${label}] done in ${seconds.toFixed(0)} s\n`);
    // The `model` output (with averaging, `raw` and `checkpoints` come before it).
    const model = ctx.artifacts.find((artifact) => artifact.role === 'model')?.path;
    return { summary, ctx, seconds, ...(model ? { model } : {}) };
  };
}
