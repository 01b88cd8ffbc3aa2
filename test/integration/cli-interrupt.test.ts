/**
 * Ctrl+C in `distillery run` before a worker is ready, as a terminal sends it: SIGINT to the whole
 * foreground process group, the CLI and every process it started. The run must end `cancelled`
 * (exit 130), not `failed` with WORKER_START_FAILED, and resume to the end.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo } from '../../preload/contract';
import { cliJson, REPO_ROOT } from '../helpers/cli';
import { ensureNoLeaks } from '../helpers/leak-check';
import { makeTempDir } from '../helpers/tmp';
import { mnistMlpPipeline } from '../helpers/pipelines';

const doc: PipelineDoc = mnistMlpPipeline({
  name: 'interrupted',
  seed: 2,
  data: { trainLimit: 300, testLimit: 100 },
  net: { hidden: [8] },
  fit: { epochs: 1 },
  score: false,
});

describe('Ctrl+C in distillery run', () => {
  ensureNoLeaks();
  const tmp = makeTempDir('distillery-interrupt-');
  const data = join(tmp.dir, 'data');
  const file = join(tmp.dir, 'interrupted.distillery.json');
  writeFileSync(file, JSON.stringify(doc));

  afterAll(() => tmp.cleanup());

  it('cancels a run whose worker is still starting, and the run resumes', async () => {
    // A process group of its own, as a shell gives a foreground job, so the test can signal the
    // whole group the way a terminal's Ctrl+C does.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'main', 'cli.ts'), 'run', file, '--data-dir', data],
      { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const runId = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // Printed as soon as the run is recorded, before its first worker has loaded tfjs.
        const match = /^Run (\S+) \(/m.exec(stderr);
        if (match) resolve(match[1]!);
      });
      void exited.then(() => reject(new Error(`the CLI exited before starting the run:\n${stderr}`)));
    });
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited, stderr).toBe(130);

    const shown = await cliJson<RunInfo>(['runs', 'show', runId], data);
    expect(shown.json.status).toBe('cancelled');
    expect(shown.json.error).toBeNull();
    const statuses = shown.json.tasks.map((task) => task.status);
    expect(statuses).not.toContain('failed');
    const data0 = shown.json.tasks.find((task) => task.nodeId === 'data')!;
    expect(data0.status).toBe('cancelled');
    expect(data0.error?.code).toBe('TASK_CANCELLED');
    expect(stdout).toContain(`Resume with: distillery resume ${runId}`);

    const resumed = await cliJson<RunInfo>(['resume', runId], data);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json.status).toBe('done');
    expect(resumed.json.tasks.map((task) => task.status)).toEqual(['done', 'done', 'done']);
  }, 180_000);
});
