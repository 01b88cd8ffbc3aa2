/**
 * The input preprocessing a consumer of an export must apply, carried from the dataset through the
 * pipeline into every export: a real runner (worker subprocesses, SQLite) runs dataset.csv (iris,
 * standardised) → model.mlp → train → distill and prune, and exports to relative folders, which
 * land below `<data dir>/exports`. The tfjs export's distillery.json and the ONNX file's metadata
 * (read by python3-onnx when present) must state the same standardisation statistics, computed
 * here independently from the CSV file, with the feature names, input shape and class names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo } from '../../preload/contract';
import { createApp, type DistilleryApp } from '../../main/app/app';
import { decodeModelProto } from '../../main/export/onnx-proto';
import type { Preprocessing } from '../../main/export/preprocessing';
import { ensureNoLeaks } from '../helpers/leak-check';
import { checkWithPythonOnnx, pythonOnnxAvailable } from '../helpers/onnx-reader';
import { makeTempDir } from '../helpers/tmp';

const IRIS = join(import.meta.dirname, '../fixtures/csv/iris.csv');

/** Per-column mean and population standard deviation of the iris features, from the file itself. */
function irisStatistics(): { mean: number[]; std: number[]; rows: number } {
  const lines = readFileSync(IRIS, 'utf8').trim().split('\n').slice(1);
  const rows = lines.map((line) => line.split(',').slice(0, 4).map(Number));
  const mean = [0, 1, 2, 3].map((f) => rows.reduce((sum, row) => sum + row[f]!, 0) / rows.length);
  const std = [0, 1, 2, 3].map((f) =>
    Math.sqrt(rows.reduce((sum, row) => sum + (row[f]! - mean[f]!) ** 2, 0) / rows.length),
  );
  return { mean, std, rows: rows.length };
}

function pipeline(): PipelineDoc {
  return {
    format: 1,
    name: 'iris-preprocessing',
    seed: 3,
    nodes: [
      // The same file as train and test split: every row is a training row, so the statistics
      // are those of the whole file.
      { id: 'data', type: 'dataset.csv', params: { path: IRIS, testPath: IRIS } },
      { id: 'net', type: 'model.mlp', params: { hidden: [8] } },
      { id: 'fit', type: 'train', params: { epochs: 2, batchSize: 16 } },
      { id: 'student-net', type: 'model.mlp', params: { hidden: [4] } },
      { id: 'distill', type: 'distill', params: { epochs: 1, batchSize: 16 } },
      { id: 'prune', type: 'prune', params: { sparsity: 0.5, epochs: 1, pruneEvery: 2, batchSize: 16 } },
      { id: 'fit-tfjs', type: 'export', params: { outDir: 'iris/fit-tfjs' } },
      { id: 'fit-onnx', type: 'export', params: { outDir: 'iris/fit-onnx', format: 'onnx' } },
      { id: 'distill-tfjs', type: 'export', params: { outDir: 'iris/distill-tfjs' } },
      { id: 'prune-tfjs', type: 'export', params: { outDir: 'iris/prune-tfjs' } },
    ],
    edges: [
      { from: 'data.dataset', to: 'net.dataset' },
      { from: 'data.dataset', to: 'fit.dataset' },
      { from: 'net.model', to: 'fit.model' },
      { from: 'data.dataset', to: 'student-net.dataset' },
      { from: 'fit.model', to: 'distill.teacher' },
      { from: 'student-net.model', to: 'distill.student' },
      { from: 'data.dataset', to: 'distill.dataset' },
      { from: 'fit.model', to: 'prune.model' },
      { from: 'data.dataset', to: 'prune.dataset' },
      { from: 'fit.model', to: 'fit-tfjs.model' },
      { from: 'fit.model', to: 'fit-onnx.model' },
      { from: 'distill.model', to: 'distill-tfjs.model' },
      { from: 'prune.model', to: 'prune-tfjs.model' },
    ],
  };
}

function tfjsPreprocessing(dir: string): Preprocessing {
  return (JSON.parse(readFileSync(join(dir, 'distillery.json'), 'utf8')) as { preprocessing: Preprocessing })
    .preprocessing;
}

describe('preprocessing carried into exports', () => {
  ensureNoLeaks();
  let tmp: ReturnType<typeof makeTempDir>;
  let app: DistilleryApp;

  beforeEach(() => {
    tmp = makeTempDir('distillery-preprocessing-');
    app = createApp({ dataDir: tmp.dir, concurrency: 2 });
  });

  afterEach(() => {
    app.dispose();
    tmp.cleanup();
  });

  it('states the CSV standardisation, feature names, shape and classes in tfjs and ONNX exports of trained, distilled and pruned models', async () => {
    const run: RunInfo = await app.runner.waitForRun(app.runner.start(pipeline()).id);
    expect(run.status, JSON.stringify(run.error ?? run.tasks.map((task) => task.error))).toBe('done');
    const exports = join(tmp.dir, 'exports', 'iris');
    for (const nodeId of ['fit-tfjs', 'fit-onnx', 'distill-tfjs', 'prune-tfjs']) {
      const task = run.tasks.find((candidate) => candidate.nodeId === nodeId)!;
      expect(task.summary?.outDir).toBe(join(exports, nodeId));
    }

    const { mean, std, rows } = irisStatistics();
    expect(rows).toBe(150);
    const fit = tfjsPreprocessing(join(exports, 'fit-tfjs'));
    expect(fit).toMatchObject({
      source: 'dataset',
      inputShape: [4],
      layout: 'features',
      dtype: 'float32',
      scaling: 'standardize',
      classNames: ['setosa', 'versicolor', 'virginica'],
    });
    expect(fit.featureNames).toHaveLength(4);
    expect(fit.formula).toContain('mean[i]');
    for (let f = 0; f < 4; f++) {
      expect(fit.mean![f]).toBeCloseTo(mean[f]!, 5);
      expect(fit.std![f]).toBeCloseTo(std[f]!, 5);
    }
    // The model learnt it from its dataset, through every op after the one that trained it.
    expect(tfjsPreprocessing(join(exports, 'distill-tfjs'))).toEqual(fit);
    expect(tfjsPreprocessing(join(exports, 'prune-tfjs'))).toEqual(fit);

    // The ONNX export states the same, from the same source.
    const onnxFile = join(exports, 'fit-onnx', 'model.onnx');
    const decoded = decodeModelProto(readFileSync(onnxFile)) as {
      metadataProps: Array<{ key: string; value: string }>;
    };
    const props = Object.fromEntries(decoded.metadataProps.map(({ key, value }) => [key, value]));
    expect(JSON.parse(props.preprocessing!)).toEqual(fit);
    expect(JSON.parse(props.class_names!)).toEqual(['setosa', 'versicolor', 'virginica']);
    if (pythonOnnxAvailable()) {
      expect(JSON.parse(checkWithPythonOnnx(onnxFile).metadata.preprocessing!)).toEqual(fit);
    }
  }, 240_000);

  it('fails an export whose relative folder climbs out of <data dir>/exports, naming the node', async () => {
    const doc: PipelineDoc = {
      format: 1,
      name: 'iris-escape',
      seed: 3,
      nodes: [
        { id: 'data', type: 'dataset.csv', params: { path: IRIS, testPath: IRIS } },
        { id: 'net', type: 'model.mlp', params: { hidden: [4] } },
        { id: 'out', type: 'export', params: { outDir: '../runs/escape' } },
      ],
      edges: [
        { from: 'data.dataset', to: 'net.dataset' },
        { from: 'net.model', to: 'out.model' },
      ],
    };
    const run = await app.runner.waitForRun(app.runner.start(doc).id);
    const task = run.tasks.find((candidate) => candidate.nodeId === 'out')!;
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({
      code: 'PARAM_INVALID',
      details: { nodeId: 'out', param: 'outDir', received: '../runs/escape' },
    });
  }, 120_000);
});
