/**
 * Where tasks run, as a pipeline and the data directory say: the `executor` block's validation
 * (every mistake named with its field and pointer), `executors.json`'s, how defaults, block and
 * per-node entries combine, and that where a task runs never changes its fingerprint.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { DistilleryError } from '../../main/base/errors';
import { checkExecutorsConfig, readExecutorsConfig } from '../../main/jobs/executors/config';
import { createDefaultCatalog } from '../../main/nodes/index';
import { resourcesForNode } from '../../main/pipeline/executor-block';
import { planPipeline } from '../../main/pipeline/plan';
import { validatePipeline } from '../../main/pipeline/validate';
import { mnistMlpPipeline } from '../helpers/pipelines';

const catalog = createDefaultCatalog();

function doc(executor?: unknown): PipelineDoc {
  return mnistMlpPipeline({
    name: 'cluster',
    seed: 3,
    data: { trainLimit: 100 },
    net: { hidden: [8] },
    fit: { epochs: 1 },
    score: false,
    ...(executor !== undefined ? { executor: executor as PipelineDoc['executor'] } : {}),
  });
}

describe('the executor block', () => {
  it('accepts a SLURM block with resources and per-node entries', () => {
    const block = {
      type: 'slurm',
      partition: 'gpu,cpu',
      account: 'vision-lab',
      time: '1:30:00',
      cpusPerTask: 4,
      memory: '8G',
      extraFlags: ['--qos=normal'],
      nodes: { fit: { gpus: 1, time: '2-00:00:00' } },
    };
    expect(validatePipeline(doc(block), catalog).issues).toEqual([]);
    expect(validatePipeline(doc({ type: 'local' }), catalog).issues).toEqual([]);
  });

  it('names every mistake with its field, pointer and what was expected', () => {
    const issues = validatePipeline(
      doc({
        type: 'kubernetes',
        partition: 'gpu partition',
        cpusPerTask: 0,
        memory: '8 GB',
        time: 'an hour',
        gpus: 1.5,
        extraFlags: ['--output=/tmp/x', 'qos'],
        queue: 'fast',
        nodes: { ghost: { gpus: 1 }, fit: { memory: 12 } },
      }),
      catalog,
    ).issues;
    const byPointer = Object.fromEntries(issues.map((issue) => [issue.pointer, issue]));
    expect(byPointer['/executor/type']).toMatchObject({ code: 'PIPELINE_SCHEMA', received: 'kubernetes' });
    expect(byPointer['/executor/partition']).toMatchObject({
      code: 'SLURM_OPTION_INVALID',
      param: 'partition',
    });
    expect(byPointer['/executor/cpusPerTask']).toMatchObject({ code: 'SLURM_OPTION_INVALID', received: 0 });
    expect(byPointer['/executor/memory']!.expected).toMatch(/K, M, G or T/);
    expect(byPointer['/executor/time']!.message).toBe(
      'Executor block: "time" must be minutes, "minutes:seconds", "hours:minutes:seconds" or "days-hours[:minutes[:seconds]]", got "an hour"',
    );
    expect(byPointer['/executor/gpus']).toMatchObject({ received: 1.5 });
    expect(byPointer['/executor/extraFlags']).toMatchObject({ code: 'SLURM_OPTION_INVALID' });
    expect(byPointer['/executor/queue']).toMatchObject({ code: 'UNKNOWN_FIELD', received: 'queue' });
    expect(byPointer['/executor/queue']!.expected).toContain('nodes');
    expect(byPointer['/executor/nodes/ghost']).toMatchObject({ code: 'UNKNOWN_NODE', nodeId: 'ghost' });
    expect(byPointer['/executor/nodes/fit/memory']).toMatchObject({
      code: 'SLURM_OPTION_INVALID',
      nodeId: 'fit',
      received: 12,
    });
    // A flag the executor sets itself is refused: it would move the job's output files.
    const flags = issues.filter((issue) => issue.pointer === '/executor/extraFlags');
    expect(flags.map((issue) => issue.expected)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^a list of sbatch flags/)]),
    );
    expect(validatePipeline(doc('slurm'), catalog).issues[0]).toMatchObject({
      code: 'PIPELINE_SCHEMA',
      pointer: '/executor',
    });
  });

  it('refuses an sbatch flag the executor sets itself', () => {
    const issues = validatePipeline(
      doc({ type: 'slurm', extraFlags: ['--chdir=/elsewhere'] }),
      catalog,
    ).issues;
    expect(issues).toEqual([
      expect.objectContaining({
        code: 'SLURM_OPTION_INVALID',
        pointer: '/executor/extraFlags',
        received: ['--chdir=/elsewhere'],
      }),
    ]);
    expect(issues[0]!.expected).toContain('--chdir');
  });

  it('is not part of any fingerprint: where a task runs does not change what it computes', () => {
    const plan = (d: PipelineDoc) =>
      planPipeline(validatePipeline(d, catalog).pipeline!).map((task) => task.fingerprint);
    expect(plan(doc({ type: 'slurm', partition: 'gpu', nodes: { fit: { gpus: 2 } } }))).toEqual(plan(doc()));
  });

  it('combines defaults, the block and the node entry, each field from the last that sets it', () => {
    const block = {
      type: 'slurm' as const,
      partition: 'gpu',
      time: '60',
      extraFlags: ['--qos=high'],
      nodes: { fit: { gpus: 1, time: '120', extraFlags: ['--constraint=a100'] } },
    };
    const defaults = { partition: 'debug', account: 'lab', memory: '4G', extraFlags: ['--nice=10'] };
    expect(resourcesForNode('fit', defaults, block)).toEqual({
      partition: 'gpu',
      account: 'lab',
      memory: '4G',
      time: '120',
      gpus: 1,
      extraFlags: ['--nice=10', '--qos=high', '--constraint=a100'],
    });
    expect(resourcesForNode('data', defaults, block)).toEqual({
      partition: 'gpu',
      account: 'lab',
      memory: '4G',
      time: '60',
      extraFlags: ['--nice=10', '--qos=high'],
    });
    expect(resourcesForNode('data', undefined, undefined)).toEqual({});
  });
});

describe('executors.json', () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function dataDir(content?: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'distillery-executors-'));
    made.push(dir);
    if (content !== undefined) writeFileSync(join(dir, 'executors.json'), content);
    return dir;
  }

  it('is optional, and read as written when valid', () => {
    expect(readExecutorsConfig(dataDir())).toEqual({});
    const settings = {
      default: 'slurm',
      local: { warmWorkers: 0 },
      slurm: { partition: 'debug', time: '30', cpusPerTask: 1, neverStartsAfterSeconds: 5, maxJobs: 8 },
    };
    expect(readExecutorsConfig(dataDir(JSON.stringify(settings)))).toEqual(settings);
  });

  it('refuses a file with mistakes whole, naming the file and every field', () => {
    const dir = dataDir(
      JSON.stringify({
        default: 'cloud',
        local: { warmWorkers: -1, pool: 3 },
        slurm: { partition: 'a b', pollSeconds: 0, maxJobs: 1.5 },
        extra: true,
      }),
    );
    let caught: unknown;
    try {
      readExecutorsConfig(dir);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DistilleryError);
    const error = caught as DistilleryError;
    expect(error.details.file).toBe(join(dir, 'executors.json'));
    const pointers = (error.details.issues as Array<{ pointer: string }>)
      .map((issue) => issue.pointer)
      .sort();
    expect(pointers).toEqual([
      '/default',
      '/extra',
      '/local/pool',
      '/local/warmWorkers',
      '/slurm/maxJobs',
      '/slurm/partition',
      '/slurm/pollSeconds',
    ]);
    expect(error.message).toContain(join(dir, 'executors.json'));
    expect(checkExecutorsConfig([])[0]).toMatchObject({ code: 'PIPELINE_SCHEMA', pointer: '' });
  });

  it('refuses a file that is not JSON, naming it', () => {
    const dir = dataDir('{ "slurm": ');
    let caught: unknown;
    try {
      readExecutorsConfig(dir);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({
      code: 'PIPELINE_JSON_INVALID',
      details: { file: join(dir, 'executors.json') },
    });
  });
});
