/**
 * The compression nodes through the real runner (worker subprocesses, SQLite registry): the shipped
 * distill → prune → quantize → export chain, shrunk to a small MNIST subset, runs end to end and
 * its lineage edges carry the ops' parameters (defaults included for the key ones); invalid inputs
 * are refused with coded errors naming the node and the param or port.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo, TaskInfo } from '../../preload/contract';
import { DistilleryError } from '../../main/base/errors';
import { useTempApp } from '../helpers/temp-app';

const CHAIN = join(
  import.meta.dirname,
  '../../resources/pipelines/mnist-distill-prune-quantize.distillery.json',
);

function task(run: RunInfo, nodeId: string): TaskInfo {
  return run.tasks.find((t) => t.nodeId === nodeId)!;
}

/** The shipped chain with small sizes, the distillation params left at their defaults. */
function smallChain(outDir: string): PipelineDoc {
  const doc = JSON.parse(readFileSync(CHAIN, 'utf8')) as PipelineDoc;
  const overrides: Record<string, Record<string, unknown>> = {
    data: { trainLimit: 1200, testLimit: 300, validationSplit: 0.1 },
    'teacher-net': { hidden: [128], dropout: 0.2 },
    teacher: { epochs: 2, batchSize: 64 },
    'student-net': { hidden: [32] },
    distill: { epochs: 2, batchSize: 64 },
    prune: { method: 'magnitude', sparsity: 0.8, pruneEvery: 5, epochs: 1 },
    export: { outDir },
  };
  for (const node of doc.nodes) if (overrides[node.id]) node.params = overrides[node.id]!;
  return doc;
}

describe('compression pipelines through the runner', () => {
  const temp = useTempApp({ concurrency: 2 });

  it('runs distill → prune → quantize → export; lineage edges carry the op params', async () => {
    const outDir = join(temp.dir, 'exported');
    const run = await temp.app.runner.waitForRun(temp.app.runner.start(smallChain(outDir)).id);
    expect(run.status, JSON.stringify(run.error)).toBe('done');
    expect(existsSync(join(outDir, 'model.json'))).toBe(true);

    const version = (nodeId: string) =>
      temp.app.registry.list({ name: `mnist-distill-prune-quantize/${nodeId}` })[0]!;
    const lineage = temp.app.registry.lineage(version('quantize').id);
    const edgesInto = (nodeId: string) => lineage.edges.filter((edge) => edge.childId === version(nodeId).id);

    // distilled from the teacher (and from the student's initial weights), T and α on both edges.
    const distillEdges = edgesInto('distill');
    expect(distillEdges.map((edge) => edge.parentId).sort()).toEqual(
      [version('teacher').id, version('student-net').id].sort(),
    );
    for (const edge of distillEdges) {
      expect(edge.operation).toBe('distill');
      expect(edge.params).toMatchObject({ temperature: 4, alpha: 0.7, labels: 'dataset', epochs: 2 });
    }
    expect(distillEdges.find((edge) => edge.parentId === version('teacher').id)!.params.port).toBe('teacher');
    expect(distillEdges.find((edge) => edge.parentId === version('student-net').id)!.params.port).toBe(
      'student',
    );

    expect(edgesInto('prune')).toEqual([
      expect.objectContaining({
        parentId: version('distill').id,
        operation: 'prune',
        params: expect.objectContaining({
          method: 'magnitude',
          sparsity: 0.8,
          scope: 'global',
          pruningSchedule: 'agp',
          port: 'model',
        }),
      }),
    ]);
    expect(edgesInto('quantize')).toEqual([
      expect.objectContaining({
        parentId: version('prune').id,
        operation: 'quantize',
        params: { mode: 'post-training', bits: 8, dtype: 'uint8', port: 'model' },
      }),
    ]);

    // The registry records what each step did.
    const pruned = version('prune');
    expect(pruned.nonZeroParams / pruned.paramCount).toBeLessThan(0.25);
    expect(pruned.meta).toMatchObject({ pruning: { method: 'magnitude', target: 0.8 } });
    const layers = (pruned.meta.pruning as { layers: Array<{ layer: string; sparsity: number }> }).layers;
    expect(layers.map((layer) => layer.layer)).toEqual(['hidden_1', 'output']);
    const quantized = version('quantize');
    expect(quantized.sizeBytes).toBe(quantized.paramCount);
    expect(quantized.nonZeroParams).toBeLessThanOrEqual(pruned.nonZeroParams);
    // evaluate's figures are attached to the quantized version, the sparse size among them.
    expect(quantized.metrics.sparse_size_bytes).toBeLessThan(quantized.metrics.size_bytes! * 0.5);
    expect(quantized.metrics.accuracy).toBeGreaterThan(0.6);
    const distilled = temp.app.runs.getMetrics(task(run, 'distill').id, {
      names: ['agreement', 'soft_loss', 'hard_loss'],
    });
    expect(distilled).toHaveLength(3 * 2);
  }, 150_000);

  it('refuses sparsity ≥ 1 before running, and a student with other classes than the teacher at run time', async () => {
    const outDir = join(temp.dir, 'never');
    const invalid = smallChain(outDir);
    invalid.nodes.find((node) => node.id === 'prune')!.params = { sparsity: 1 };
    let refused: unknown;
    try {
      temp.app.runner.start(invalid);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(DistilleryError);
    expect((refused as DistilleryError).details.issues).toEqual([
      expect.objectContaining({
        code: 'PARAM_OUT_OF_RANGE',
        nodeId: 'prune',
        param: 'sparsity',
        received: 1,
      }),
    ]);

    const mismatch: PipelineDoc = {
      format: 1,
      name: 'kd-mismatch',
      seed: 1,
      nodes: [
        { id: 'mnist', type: 'dataset.mnist', params: { trainLimit: 200, testLimit: 50 } },
        {
          id: 'iris',
          type: 'dataset.csv',
          params: { path: join(import.meta.dirname, '../fixtures/csv/iris.csv') },
        },
        { id: 'teacher', type: 'model.mlp', params: { hidden: [16] } },
        { id: 'student', type: 'model.mlp', params: { hidden: [8] } },
        { id: 'kd', type: 'distill', params: { epochs: 1 } },
      ],
      edges: [
        { from: 'mnist.dataset', to: 'teacher.dataset' },
        { from: 'iris.dataset', to: 'student.dataset' },
        { from: 'teacher.model', to: 'kd.teacher' },
        { from: 'student.model', to: 'kd.student' },
        { from: 'mnist.dataset', to: 'kd.dataset' },
      ],
    };
    const run = await temp.app.runner.waitForRun(temp.app.runner.start(mismatch).id);
    expect(run.status).toBe('failed');
    expect(task(run, 'kd').error).toMatchObject({
      code: 'INCOMPATIBLE_INPUTS',
      details: { nodeId: 'kd', port: 'student', received: 3 },
    });
  }, 90_000);
});
