/**
 * The registry pages' pure logic: registered models with their best test accuracy and untrained
 * initialisations hidden by default, metrics grouped by split, and a version's evaluations found
 * in later runs through the task ids the registry keeps.
 */
import { describe, expect, it } from 'vitest';
import type { ModelVersionInfo, RegisteredModelInfo, RunInfo, TaskInfo } from '../../preload/contract';
import { evaluationsOfVersion } from '../../renderer/src/charts/evaluation';
import {
  metricsBySplit,
  registeredRows,
  testAccuracy,
  untrainedCount,
} from '../../renderer/src/registry/groups';

function registered(name: string, nodeType: string, description = ''): RegisteredModelInfo {
  return {
    name,
    kind: 'classifier',
    description,
    versionCount: 1,
    latestVersion: 1,
    latestId: `mv_${name}`,
    aliases: {},
    createdAt: '2025',
    updatedAt: '2025',
    nodeType,
  };
}

function version(
  name: string,
  records: ModelVersionInfo['metricRecords'],
  id = `mv_${name}`,
): ModelVersionInfo {
  return {
    id,
    name,
    version: 1,
    kind: 'classifier',
    framework: 'tfjs-layers',
    aliases: [],
    createdAt: '2025',
    runId: 'r1',
    taskId: 'r1-fit',
    nodeType: 'train',
    backend: 'wasm',
    paramCount: 1,
    nonZeroParams: 1,
    sizeBytes: 1,
    params: {},
    metrics: {},
    metricRecords: records,
    meta: {},
  };
}

const record = (
  name: string,
  value: number,
  split: 'train' | 'validation' | 'test' | null,
  taskId = 't',
) => ({
  name,
  value,
  split,
  taskId,
  runId: 'r1',
  recordedAt: '2025',
});

const category = (type: string) => (type.startsWith('model.') ? 'model' : 'train');

describe('registered models', () => {
  const models = [registered('p/fit', 'train', 'LeNet'), registered('p/net', 'model.mlp')];
  const versions = [
    version('p/fit', [record('accuracy', 0.91, 'test'), record('accuracy', 0.99, 'train')], 'a'),
    version('p/fit', [record('accuracy', 0.95, 'test')], 'b'),
  ];

  it('hides untrained initialisations unless asked, and finds the best test accuracy', () => {
    expect(registeredRows(models, versions, category, '', false).map((row) => row.name)).toEqual(['p/fit']);
    const all = registeredRows(models, versions, category, '', true);
    expect(all.map((row) => [row.name, row.untrained, row.bestAccuracy])).toEqual([
      ['p/fit', false, 0.95],
      ['p/net', true, undefined],
    ]);
    expect(untrainedCount(models, category)).toBe(1);
    expect(registeredRows(models, versions, category, 'lenet', true).map((row) => row.name)).toEqual([
      'p/fit',
    ]);
  });

  it('reads test accuracy from evaluations, not training figures', () => {
    expect(testAccuracy(version('x', [record('accuracy', 0.99, 'train')]))).toBeUndefined();
    expect(testAccuracy({ metrics: { accuracy: 0.8 }, metricRecords: [] })).toBe(0.8);
  });

  it('groups metrics by split, test first', () => {
    const groups = metricsBySplit([
      record('loss', 0.1, 'train'),
      record('val_loss', 0.2, 'validation'),
      record('accuracy', 0.9, 'test'),
      record('sparsity', 0.5, null),
    ]);
    expect(groups.map((group) => [group.title, group.records.map((entry) => entry.name)])).toEqual([
      ['Test', ['accuracy']],
      ['Validation', ['val_loss']],
      ['Train', ['loss']],
      ['Other', ['sparsity']],
    ]);
  });
});

describe('evaluations of a version', () => {
  const summary = {
    confusionMatrix: [
      [3, 1],
      [0, 4],
    ],
    classNames: ['a', 'b'],
    accuracy: 0.875,
  };
  const task = (id: string, nodeId: string, extra: Partial<TaskInfo> = {}): TaskInfo =>
    ({
      id,
      nodeId,
      runId: id.split('-')[0],
      status: 'done',
      summary: null,
      models: {},
      ...extra,
    }) as TaskInfo;

  it('finds the producing run’s evaluate tasks and later runs’ tasks that recorded metrics on it', () => {
    const producing = {
      id: 'r1',
      pipeline: { edges: [{ from: 'fit.model', to: 'score.model' }], nodes: [] },
      tasks: [task('r1-fit', 'fit', { models: { model: 'mv_x' } }), task('r1-score', 'score', { summary })],
    } as unknown as RunInfo;
    const later = {
      id: 'r2',
      pipeline: { edges: [], nodes: [] },
      tasks: [task('r2-eval', 'eval', { summary }), task('r2-other', 'other', { summary })],
    } as unknown as RunInfo;
    const model = {
      id: 'mv_x',
      runId: 'r1',
      taskId: 'r1-fit',
      metricRecords: [{ taskId: 'r1-score' }, { taskId: 'r2-eval' }, { taskId: 'r1-fit' }],
    };
    const found = evaluationsOfVersion(model, [producing, later]);
    expect(found.map(({ run, task: scorer }) => `${run.id}/${scorer.nodeId}`)).toEqual([
      'r1/score',
      'r2/eval',
    ]);
    expect(found[1]!.evaluation.accuracy).toBe(0.875);
  });
});
