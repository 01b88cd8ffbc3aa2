/**
 * Bypassed nodes: checked like any node, not planned, their outputs replaced by what they pass on,
 * so that downstream tasks are those of the pipeline drawn without them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { createDefaultCatalog } from '../../main/nodes/index';
import { planPipeline } from '../../main/pipeline/plan';
import { validatePipeline } from '../../main/pipeline/validate';
import { REPO_ROOT } from '../helpers/cli';

const catalog = createDefaultCatalog();

/** The shipped pruning sample: data → net → fit → prune → score-pruned / export, fit → score-dense. */
function prunePipeline(): PipelineDoc {
  return JSON.parse(
    readFileSync(join(REPO_ROOT, 'resources/pipelines/mnist-prune.distillery.json'), 'utf8'),
  ) as PipelineDoc;
}

function bypass(doc: PipelineDoc, ...ids: string[]): PipelineDoc {
  for (const node of doc.nodes) if (ids.includes(node.id)) node.bypass = true;
  return doc;
}

function plan(doc: PipelineDoc) {
  const { issues, pipeline } = validatePipeline(doc, catalog);
  expect(issues).toEqual([]);
  return planPipeline(pipeline!);
}

describe('bypassed nodes', () => {
  it('do not run; what read their output reads what they pass on, with the fingerprints of that graph', () => {
    const tasks = plan(bypass(prunePipeline(), 'prune'));
    expect(tasks.map((task) => task.nodeId)).not.toContain('prune');
    const scorePruned = tasks.find((task) => task.nodeId === 'score-pruned')!;
    expect(scorePruned.inputs.model).toEqual({ nodeId: 'fit', port: 'model' });
    expect(scorePruned.dependsOn).not.toContain('prune');

    // The same graph drawn without prune: every remaining task has the same fingerprint.
    const drawn = prunePipeline();
    drawn.nodes = drawn.nodes.filter((node) => node.id !== 'prune');
    drawn.edges = drawn.edges
      .filter((edge) => !edge.to.startsWith('prune.'))
      .map((edge) => (edge.from === 'prune.model' ? { ...edge, from: 'fit.model' } : edge));
    const expected = new Map(plan(drawn).map((task) => [task.nodeId, task.fingerprint]));
    expect(new Map(tasks.map((task) => [task.nodeId, task.fingerprint]))).toEqual(expected);
  });

  it('pass through a chain of bypassed nodes to the first one that runs', () => {
    const doc = prunePipeline();
    doc.nodes.push({ id: 'second', type: 'prune', params: {} });
    doc.edges = doc.edges.map((edge) =>
      edge.to === 'export.model' ? { ...edge, from: 'second.model' } : edge,
    );
    doc.edges.push(
      { from: 'prune.model', to: 'second.model' },
      { from: 'data.dataset', to: 'second.dataset' },
    );
    const tasks = plan(bypass(doc, 'prune', 'second'));
    expect(tasks.find((task) => task.nodeId === 'export')!.inputs.model).toEqual({
      nodeId: 'fit',
      port: 'model',
    });
    expect(tasks.map((task) => task.nodeId)).toEqual([
      'data',
      'net',
      'fit',
      'score-dense',
      'score-pruned',
      'export',
    ]);
  });

  it('skip a node with no outputs (an export) and keep everything else', () => {
    const tasks = plan(bypass(prunePipeline(), 'export'));
    expect(tasks.map((task) => task.nodeId)).toEqual([
      'data',
      'net',
      'fit',
      'prune',
      'score-dense',
      'score-pruned',
    ]);
  });

  it('pass on the first linked model of a many-link port (a bypassed merge)', () => {
    const doc: PipelineDoc = {
      format: 1,
      name: 'soup',
      seed: 1,
      nodes: [
        { id: 'data', type: 'dataset.mnist', params: { trainLimit: 200, testLimit: 100 } },
        { id: 'net', type: 'model.mlp', params: {} },
        { id: 'a', type: 'train', params: { epochs: 1 } },
        { id: 'b', type: 'train', params: { epochs: 1, learningRate: 0.01 } },
        { id: 'soup', type: 'merge', params: {}, bypass: true },
        { id: 'score', type: 'evaluate', params: {} },
      ],
      edges: [
        { from: 'data.dataset', to: 'net.dataset' },
        { from: 'data.dataset', to: 'a.dataset' },
        { from: 'data.dataset', to: 'b.dataset' },
        { from: 'net.model', to: 'a.model' },
        { from: 'net.model', to: 'b.model' },
        { from: 'b.model', to: 'soup.models' },
        { from: 'a.model', to: 'soup.models' },
        { from: 'soup.model', to: 'score.model' },
        { from: 'data.dataset', to: 'score.dataset' },
      ],
    };
    const tasks = plan(doc);
    expect(tasks.find((task) => task.nodeId === 'score')!.inputs.model).toEqual({
      nodeId: 'b',
      port: 'model',
    });
    expect(tasks.map((task) => task.nodeId)).not.toContain('soup');
  });

  it('refuse a bypassed node whose read output has nothing to pass on, naming node, port and reader', () => {
    const doc = prunePipeline();
    // net has no model input: its model output cannot be passed on.
    const { issues, pipeline } = validatePipeline(bypass(doc, 'net'), catalog);
    expect(pipeline).toBeUndefined();
    expect(issues).toEqual([
      expect.objectContaining({
        code: 'BYPASS_NO_PASSTHROUGH',
        nodeId: 'net',
        port: 'model',
        pointer: `/nodes/${doc.nodes.findIndex((node) => node.id === 'net')}/bypass`,
      }),
    ]);
    expect(issues[0]!.message).toContain('"fit.model"');
  });

  it('are still validated like any node, and "bypass" must be a boolean', () => {
    const doc = bypass(prunePipeline(), 'prune');
    doc.nodes.find((node) => node.id === 'prune')!.params.sparsity = 2;
    (doc.nodes[0] as unknown as Record<string, unknown>).bypass = 'yes';
    const codes = validatePipeline(doc, catalog).issues.map((issue) => [issue.code, issue.pointer]);
    expect(codes).toEqual(
      expect.arrayContaining([
        ['PARAM_OUT_OF_RANGE', expect.stringMatching(/^\/nodes\/\d+\/params\/sparsity$/)],
        ['PIPELINE_SCHEMA', '/nodes/0/bypass'],
      ]),
    );
  });

  it('refuse a sweep whose objective node is bypassed', () => {
    const doc = bypass(prunePipeline(), 'score-pruned');
    doc.sweep = {
      objective: { node: 'score-pruned', metric: 'accuracy', mode: 'max' },
      space: { 'fit.learningRate': { logUniform: [0.0001, 0.01] } },
      algorithm: 'random',
      trials: 2,
    };
    expect(validatePipeline(doc, catalog).issues).toEqual([
      expect.objectContaining({ code: 'SWEEP_OBJECTIVE_BYPASSED', pointer: '/sweep/objective/node' }),
    ]);
  });
});
