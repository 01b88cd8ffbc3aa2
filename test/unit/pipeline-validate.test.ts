import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { createDefaultCatalog, NodeCatalog } from '../../main/nodes/index';
import { datasetMnistNode } from '../../main/nodes/dataset-mnist';
import { parsePipelineFile } from '../../main/pipeline/pipeline-file';
import { validatePipeline } from '../../main/pipeline/validate';
import { DistilleryError } from '../../main/base/errors';
import { mnistMlpPipeline } from '../helpers/pipelines';

const catalog = createDefaultCatalog();

function base(): PipelineDoc {
  return mnistMlpPipeline();
}

function issuesOf(doc: unknown) {
  return validatePipeline(doc, catalog).issues;
}

describe('validatePipeline', () => {
  it('accepts the issue example and orders nodes topologically with defaults filled in', () => {
    const { issues, pipeline } = validatePipeline(base(), catalog);
    expect(issues).toEqual([]);
    expect(pipeline!.nodes.map((n) => n.id)).toEqual(['data', 'net', 'fit', 'score']);
    const fit = pipeline!.nodes.find((n) => n.id === 'fit')!;
    expect(fit.params.schedule).toBe('constant');
    expect(fit.params.epochs).toBe(3);
    expect(fit.inputs.model).toEqual({ nodeId: 'net', port: 'model' });
  });

  it('refuses non-objects and unknown formats before anything else', () => {
    expect(issuesOf([])[0]!.code).toBe('PIPELINE_SCHEMA');
    const newer = issuesOf({ ...base(), format: 2 });
    expect(newer).toHaveLength(1);
    expect(newer[0]).toMatchObject({ code: 'PIPELINE_FORMAT_UNSUPPORTED', pointer: '/format', received: 2 });
    expect(newer[0]!.message).toMatch(/newer Distillery/);
  });

  it('reports unknown fields at every level with JSON pointers', () => {
    const doc = base() as unknown as Record<string, unknown> & PipelineDoc;
    (doc as unknown as Record<string, unknown>).extra = 1;
    (doc.nodes[1] as unknown as Record<string, unknown>).colour = 'red';
    (doc.edges[0] as unknown as Record<string, unknown>).label = 'x';
    const issues = issuesOf(doc).filter((i) => i.code === 'UNKNOWN_FIELD');
    expect(issues.map((i) => i.pointer).sort()).toEqual(['/edges/0/label', '/extra', '/nodes/1/colour']);
    expect(issues.find((i) => i.pointer === '/nodes/1/colour')!.nodeId).toBe('net');
  });

  it('reports schema errors of name, seed, nodes and edges', () => {
    const issues = issuesOf({ format: 1, name: '', seed: -1, nodes: {}, edges: 'x' });
    expect(issues.map((i) => i.pointer).sort()).toEqual(['/edges', '/name', '/nodes', '/seed']);
    expect(issues.every((i) => i.code === 'PIPELINE_SCHEMA')).toBe(true);
  });

  it('reports duplicate ids and unknown node types', () => {
    const doc = base();
    doc.nodes.push({ id: 'net', type: 'model.mlp', params: {} });
    doc.nodes.push({ id: 'mystery', type: 'model.transformer', params: {} });
    const issues = issuesOf(doc);
    expect(issues).toContainEqual(
      expect.objectContaining({ code: 'DUPLICATE_NODE_ID', nodeId: 'net', pointer: '/nodes/4/id' }),
    );
    const unknown = issues.find((i) => i.code === 'UNKNOWN_NODE_TYPE')!;
    expect(unknown).toMatchObject({
      nodeId: 'mystery',
      received: 'model.transformer',
      pointer: '/nodes/5/type',
    });
    expect(unknown.expected).toContain('model.mlp');
  });

  it('reports bad endpoints, unknown nodes and unknown ports (with a hint when the direction is wrong)', () => {
    const doc = base();
    doc.edges.push({ from: 'data', to: 'net.dataset' });
    doc.edges.push({ from: 'ghost.model', to: 'score.model' });
    doc.edges.push({ from: 'net.weights', to: 'fit.model' });
    doc.edges.push({ from: 'fit.dataset', to: 'score.dataset' });
    const issues = issuesOf(doc);
    expect(issues).toContainEqual(
      expect.objectContaining({ code: 'EDGE_ENDPOINT_INVALID', pointer: '/edges/5/from', received: 'data' }),
    );
    expect(issues).toContainEqual(
      expect.objectContaining({ code: 'UNKNOWN_NODE', nodeId: 'ghost', pointer: '/edges/6/from' }),
    );
    expect(issues).toContainEqual(
      expect.objectContaining({
        code: 'UNKNOWN_PORT',
        nodeId: 'net',
        port: 'weights',
        expected: 'an output of model.mlp: model',
      }),
    );
    const wrongWay = issues.find((i) => i.code === 'UNKNOWN_PORT' && i.nodeId === 'fit')!;
    expect(wrongWay.message).toMatch(/is an input/);
  });

  it('reports incompatible port types naming node, port, expected and received', () => {
    const doc = base();
    doc.edges = doc.edges.filter((e) => e.to !== 'fit.model');
    doc.edges.push({ from: 'data.dataset', to: 'fit.model' });
    const issue = issuesOf(doc).find((i) => i.code === 'PORT_TYPE_MISMATCH')!;
    expect(issue).toMatchObject({ nodeId: 'fit', port: 'model', expected: 'model', received: 'dataset' });
    expect(issue.message).toBe('Node "fit": input "model" takes a model, but "data.dataset" gives a dataset');
  });

  it('reports a second edge into one input and missing required inputs', () => {
    const doc = base();
    doc.edges.push({ from: 'net.model', to: 'score.model' });
    doc.edges = doc.edges.filter((e) => e.to !== 'net.dataset');
    const issues = issuesOf(doc);
    expect(issues).toContainEqual(
      expect.objectContaining({ code: 'INPUT_ALREADY_CONNECTED', nodeId: 'score', port: 'model' }),
    );
    expect(issues).toContainEqual(
      expect.objectContaining({
        code: 'MISSING_INPUT',
        nodeId: 'net',
        port: 'dataset',
        expected: 'a dataset connected to "net.dataset"',
      }),
    );
  });

  it('reports a cycle as a closed path', () => {
    const doc = base();
    doc.nodes.push({ id: 'fit2', type: 'train', params: {} });
    doc.edges.push({ from: 'fit.model', to: 'fit2.model' }, { from: 'data.dataset', to: 'fit2.dataset' });
    // net ← fit2 closes net → fit → fit2 → (net has no model input, so use a second train loop)
    doc.nodes.push({ id: 'fit3', type: 'train', params: {} });
    doc.edges = doc.edges.filter((e) => e.to !== 'fit.model');
    doc.edges.push(
      { from: 'fit3.model', to: 'fit.model' },
      { from: 'fit2.model', to: 'fit3.model' },
      { from: 'data.dataset', to: 'fit3.dataset' },
    );
    const cycle = issuesOf(doc).find((i) => i.code === 'CYCLE')!;
    expect(cycle.received).toEqual(expect.arrayContaining(['fit', 'fit2', 'fit3']));
    expect(cycle.message).toMatch(/fit.*→.*fit/);
  });

  it('reports every param problem at once: unknown, type, range, choice, list items, required, cross-param', () => {
    const doc = base();
    doc.nodes[0]!.params = { trainLimit: 70000, testLimit: 1.5, validationSplit: 'half', shuffle: true };
    doc.nodes[1]!.params = { hidden: [300, 0, 'x'], activation: 'softsign', dropout: 1 };
    doc.nodes[2]!.params = { learningRate: 0.01, minLearningRate: 0.1 };
    doc.nodes.push({ id: 'out', type: 'export', params: {} });
    doc.edges.push({ from: 'fit.model', to: 'out.model' });
    const issues = issuesOf(doc);
    const byParam = (nodeId: string, param: string) =>
      issues.find((i) => i.nodeId === nodeId && i.param === param);
    expect(byParam('data', 'trainLimit')).toMatchObject({
      code: 'PARAM_OUT_OF_RANGE',
      expected: '0 ≤ value ≤ 60000',
      received: 70000,
      pointer: '/nodes/0/params/trainLimit',
    });
    expect(byParam('data', 'testLimit')).toMatchObject({ code: 'PARAM_TYPE', expected: 'an integer' });
    expect(byParam('data', 'validationSplit')).toMatchObject({ code: 'PARAM_TYPE' });
    expect(byParam('data', 'shuffle')).toMatchObject({ code: 'UNKNOWN_PARAM' });
    expect(byParam('net', 'hidden[1]')).toMatchObject({
      code: 'PARAM_OUT_OF_RANGE',
      pointer: '/nodes/1/params/hidden/1',
    });
    expect(byParam('net', 'hidden[2]')).toMatchObject({ code: 'PARAM_TYPE' });
    expect(byParam('net', 'activation')).toMatchObject({
      code: 'PARAM_INVALID_CHOICE',
      received: 'softsign',
    });
    expect(byParam('net', 'dropout')).toMatchObject({
      code: 'PARAM_OUT_OF_RANGE',
      expected: '0 ≤ value < 1',
    });
    expect(byParam('fit', 'minLearningRate')).toMatchObject({ code: 'PARAM_INVALID', received: 0.1 });
    expect(byParam('out', 'outDir')).toMatchObject({ code: 'PARAM_INVALID', expected: 'a non-empty string' });
    expect(byParam('net', 'dropout')!.message).toBe('Node "net": dropout must be 0 ≤ value < 1, got 1');
  });

  it('ignores ui layout but checks its shape', () => {
    const doc = base();
    doc.nodes[0]!.ui = { x: 10, y: 20 };
    expect(issuesOf(doc)).toEqual([]);
    (doc.nodes[1] as unknown as Record<string, unknown>).ui = { x: 'left' };
    expect(issuesOf(doc)[0]).toMatchObject({
      code: 'PIPELINE_SCHEMA',
      pointer: '/nodes/1/ui',
      nodeId: 'net',
    });
  });
});

describe('pipeline files', () => {
  it('refuses invalid JSON with file, line and column', () => {
    try {
      parsePipelineFile('{\n  "format": 1,\n  "name": oops\n}', 'bad.distillery.json', catalog);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DistilleryError);
      expect((error as DistilleryError).code).toBe('PIPELINE_JSON_INVALID');
      expect((error as DistilleryError).message).toMatch(/^bad\.distillery\.json:3:\d+/);
    }
  });

  it('refuses an invalid pipeline whole, listing every issue with the file', () => {
    const doc = base();
    doc.nodes[1]!.params = { dropout: 2 };
    doc.edges.push({ from: 'nowhere.x', to: 'fit.model' });
    try {
      parsePipelineFile(JSON.stringify(doc), 'p.distillery.json', catalog);
      expect.unreachable();
    } catch (error) {
      const details = (error as DistilleryError).details as { issues: Array<{ code: string; file: string }> };
      expect(details.issues.map((i) => i.code).sort()).toEqual(['PARAM_OUT_OF_RANGE', 'UNKNOWN_NODE']);
      expect(details.issues.every((i) => i.file === 'p.distillery.json')).toBe(true);
    }
  });

  it('every shipped sample pipeline is valid', () => {
    const dir = join(import.meta.dirname, '../../resources/pipelines');
    const files = readdirSync(dir).filter((f) => f.endsWith('.distillery.json'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      expect(
        () => parsePipelineFile(readFileSync(join(dir, file), 'utf8'), file, catalog),
        file,
      ).not.toThrow();
    }
  });
});

describe('NodeCatalog', () => {
  it('refuses a duplicate node type loudly', () => {
    let thrown: unknown;
    try {
      new NodeCatalog([datasetMnistNode, datasetMnistNode]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'DUPLICATE_NODE_TYPE', details: { received: 'dataset.mnist' } });
  });

  it('lists specs as plain data without functions', () => {
    const listed = catalog.list();
    expect(JSON.parse(JSON.stringify(listed))).toEqual(listed);
    expect(listed.find((s) => s.type === 'train')!.params.optimizer).toMatchObject({
      kind: 'choice',
      choices: ['sgd', 'momentum', 'adam', 'adamw', 'lion'],
    });
  });
});
