import { describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo, TaskInfo } from '../../preload/contract';
import {
  cellShare,
  evaluationTasksOf,
  readEvaluation,
  topConfusions,
} from '../../renderer/src/charts/evaluation';

/** A summary as the evaluate op returns it (main/worker/ops/evaluate.ts), three classes. */
const SUMMARY = {
  split: 'test',
  count: 20,
  classNames: ['cat', 'dog', 'bird'],
  accuracy: 0.75,
  loss: 0.6,
  confusionMatrix: [
    [8, 2, 0],
    [1, 6, 1],
    [0, 1, 1],
  ],
  perClassAccuracy: [0.8, 0.75, 0.5],
  paramCount: 10,
};

function task(overrides: Partial<TaskInfo>): TaskInfo {
  return {
    id: 'r1-x',
    runId: 'r1',
    nodeId: 'x',
    nodeType: 'train',
    op: 'train',
    fingerprint: 'f',
    status: 'done',
    reusedFrom: null,
    reusedFromRun: null,
    attempt: 1,
    progress: null,
    backend: null,
    startedAt: null,
    finishedAt: null,
    summary: null,
    error: null,
    checkpoint: null,
    models: {},
    taskDir: '/runs/r1/x',
    executor: null,
    jobId: null,
    nodeName: null,
    warm: null,
    executorState: null,
    ...overrides,
  };
}

describe('evaluation summaries', () => {
  it('reads the matrix, class names and per-class accuracy of an evaluate summary', () => {
    const evaluation = readEvaluation(SUMMARY)!;
    expect(evaluation.classNames).toEqual(['cat', 'dog', 'bird']);
    expect(evaluation.split).toBe('test');
    expect(evaluation.count).toBe(20);
    expect(evaluation.accuracy).toBe(0.75);
    expect(evaluation.perClassAccuracy).toEqual([0.8, 0.75, 0.5]);
    expect(cellShare(evaluation.confusionMatrix, 0, 1)).toBeCloseTo(0.2);
    expect(topConfusions(evaluation.confusionMatrix, 2)).toEqual([
      { trueClass: 0, predicted: 1, count: 2 },
      { trueClass: 1, predicted: 0, count: 1 },
    ]);
  });

  it('numbers unnamed classes, marks empty ones, and derives accuracy from the matrix', () => {
    const evaluation = readEvaluation({
      confusionMatrix: [
        [3, 1],
        [0, 0],
      ],
    })!;
    expect(evaluation.classNames).toEqual(['0', '1']);
    expect(evaluation.perClassAccuracy).toEqual([0.75, null]);
    expect(evaluation.accuracy).toBe(0.75);
    expect(evaluation.count).toBe(4);
    expect(cellShare(evaluation.confusionMatrix, 1, 1)).toBe(0);
  });

  it('refuses summaries without a square matrix of counts', () => {
    expect(readEvaluation(null)).toBeNull();
    expect(readEvaluation({ accuracy: 0.9 })).toBeNull();
    expect(readEvaluation({ confusionMatrix: [[1, 2]] })).toBeNull();
    expect(
      readEvaluation({
        confusionMatrix: [
          [1, -2],
          [0, 1],
        ],
      }),
    ).toBeNull();
    expect(readEvaluation({ confusionMatrix: [] })).toBeNull();
  });
});

describe('evaluations of a model version', () => {
  const pipeline: PipelineDoc = {
    format: 1,
    name: 'p',
    seed: 1,
    nodes: [],
    edges: [
      { from: 'data.dataset', to: 'fit.dataset' },
      { from: 'fit.model', to: 'score.model' },
      { from: 'data.dataset', to: 'score.dataset' },
      { from: 'fit.model', to: 'prune.model' },
      { from: 'prune.model', to: 'score-pruned.model' },
    ],
  };
  const run: RunInfo = {
    id: 'r1',
    name: 'p',
    status: 'done',
    seed: 1,
    createdAt: '2025-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    backend: null,
    versions: {},
    pipelineFile: null,
    pipeline,
    error: null,
    label: null,
    tags: [],
    note: '',
    tasks: [
      task({ id: 'r1-fit', nodeId: 'fit', models: { model: 'mv_fit' } }),
      task({ id: 'r1-prune', nodeId: 'prune', nodeType: 'prune', models: { model: 'mv_pruned' } }),
      task({ id: 'r1-score', nodeId: 'score', nodeType: 'evaluate', summary: SUMMARY }),
      task({ id: 'r1-score-pruned', nodeId: 'score-pruned', nodeType: 'evaluate', summary: SUMMARY }),
    ],
  };

  it('finds the evaluate tasks fed by the output that registered the version', () => {
    expect(evaluationTasksOf(run, { id: 'mv_fit', taskId: 'r1-fit' }).map((t) => t.nodeId)).toEqual([
      'score',
    ]);
    expect(evaluationTasksOf(run, { id: 'mv_pruned', taskId: 'r1-prune' }).map((t) => t.nodeId)).toEqual([
      'score-pruned',
    ]);
  });

  it('finds none for an imported version, another run, or an evaluation without a matrix', () => {
    expect(evaluationTasksOf(run, { id: 'mv_fit', taskId: null })).toEqual([]);
    expect(evaluationTasksOf(run, { id: 'mv_other', taskId: 'r1-fit' })).toEqual([]);
    const unfinished = {
      ...run,
      tasks: run.tasks.map((t) => (t.nodeId === 'score' ? { ...t, summary: null } : t)),
    };
    expect(evaluationTasksOf(unfinished, { id: 'mv_fit', taskId: 'r1-fit' })).toEqual([]);
  });
});
