/**
 * The runs table's pure functions: rows completed with the shared params, the filter language,
 * the params that differ between the listed runs, metric columns, sorting with missing values
 * last, and the window a virtualised table renders.
 */
import { describe, expect, it } from 'vitest';
import type { RunInfo, RunSummaries, RunSummary } from '../../preload/contract';
import {
  differingParams,
  filterRuns,
  formatCell,
  metricColumns,
  paramOf,
  parseRunFilter,
  rowFromRun,
  rowsFromSummaries,
  sortRuns,
  updateRow,
  visibleWindow,
} from '../../renderer/src/runs/table';

function summary(id: string, overrides: Partial<RunSummary>): RunSummary {
  return {
    id,
    name: 'mnist',
    label: null,
    tags: [],
    note: '',
    status: 'done',
    seed: 1,
    createdAt: `2025-01-0${id.slice(-1)}T00:00:00.000Z`,
    startedAt: `2025-01-0${id.slice(-1)}T00:00:00.000Z`,
    finishedAt: `2025-01-0${id.slice(-1)}T00:01:00.000Z`,
    backend: 'wasm',
    pipelineFile: null,
    tasks: { total: 2, done: 2, reused: 0, failed: 0, running: 0 },
    nodes: { fit: 'train', score: 'evaluate' },
    params: {},
    metrics: {},
    ...overrides,
  };
}

const answer: RunSummaries = {
  total: 3,
  sharedParams: { 'fit.optimizer': 'adam', 'fit.hidden': [64] },
  runs: [
    summary('r3', {
      params: { 'fit.epochs': 3, 'fit.learningRate': 0.01 },
      metrics: { 'score.accuracy': 0.95, 'fit.val_loss': 0.2, 'score.latency_ms': 3, 'fit.loss': 0.1 },
      tags: ['best'],
      label: 'long run',
    }),
    summary('r2', {
      params: { 'fit.epochs': 2, 'fit.learningRate': 0.01 },
      metrics: { 'score.accuracy': 0.9, 'fit.val_loss': 0.3 },
      status: 'failed',
    }),
    summary('r1', { params: { 'fit.epochs': 2, 'fit.learningRate': 0.001 }, metrics: {}, note: 'first try' }),
  ],
};

describe('runs table rows', () => {
  const rows = rowsFromSummaries(answer);

  it('reads a row’s params through the shared ones, which rows do not copy', () => {
    expect(rows[0]!.params).toEqual({ 'fit.epochs': 3, 'fit.learningRate': 0.01 });
    expect(rows[0]!.shared).toBe(rows[2]!.shared);
    expect(paramOf(rows[0]!, 'fit.optimizer')).toBe('adam');
    expect(paramOf(rows[0]!, 'fit.epochs')).toBe(3);
    expect(paramOf(rows[0]!, 'prune.sparsity')).toBeUndefined();
    // A later partial answer (one run) is split against the table's shared params.
    const [later] = rowsFromSummaries(
      {
        total: 4,
        sharedParams: { 'fit.optimizer': 'sgd', 'fit.epochs': 4 },
        runs: [summary('r4', { params: {} })],
      },
      rows[0]!.shared,
    );
    expect(later!.params).toEqual({ 'fit.optimizer': 'sgd', 'fit.epochs': 4, 'fit.hidden': undefined });
    expect(differingParams([...rows, later!])).toEqual([
      'fit.epochs',
      'fit.learningRate',
      'fit.optimizer',
      'fit.hidden',
    ]);
  });

  it('lists the params that differ between the listed runs only', () => {
    expect(differingParams(rows)).toEqual(['fit.epochs', 'fit.learningRate']);
    expect(differingParams(rows.slice(1))).toEqual(['fit.learningRate']);
    expect(differingParams(rows.slice(0, 1))).toEqual([]);
    // A param one run lacks (another pipeline) differs too.
    const other = { ...rows[2]!, params: { ...rows[2]!.params, 'prune.sparsity': 0.9 } };
    expect(differingParams([rows[0]!, other])).toContain('prune.sparsity');
    // Rows of two answers (two shared objects) are compared key by key.
    const [alone] = rowsFromSummaries({
      total: 1,
      sharedParams: { ...answer.sharedParams, 'fit.epochs': 3, 'fit.learningRate': 0.01 },
      runs: [summary('r5', {})],
    });
    expect(differingParams([rows[0]!, alone!])).toEqual([]);
  });

  it('orders metric columns: test accuracy and loss, best validation, then the rest', () => {
    const columns = metricColumns(rows, (type) => (type === 'evaluate' ? 'evaluate' : 'train'));
    expect(columns.all).toEqual(['score.accuracy', 'fit.val_loss', 'score.latency_ms', 'fit.loss']);
    expect(columns.primary).toEqual(['score.accuracy', 'fit.val_loss']);
  });

  it('filters by words, tags, status and comparisons on params and metrics', () => {
    const ids = (text: string) => filterRuns(rows, parseRunFilter(text)).map((row) => row.id);
    expect(ids('')).toEqual(['r3', 'r2', 'r1']);
    expect(ids('long')).toEqual(['r3']);
    expect(ids('#best')).toEqual(['r3']);
    expect(ids('tag:BEST')).toEqual(['r3']);
    expect(ids('status:failed')).toEqual(['r2']);
    expect(ids('first')).toEqual(['r1']);
    expect(ids('fit.epochs=2')).toEqual(['r2', 'r1']);
    expect(ids('fit.epochs>2')).toEqual(['r3']);
    expect(ids('score.accuracy>=0.9 fit.epochs=2')).toEqual(['r2']);
    expect(ids('fit.optimizer=adam')).toEqual(['r3', 'r2', 'r1']);
    expect(ids('fit.optimizer!=adam')).toEqual([]);
    // A run without the metric is no match for a comparison, but is one for "differs".
    expect(ids('score.accuracy<1')).toEqual(['r3', 'r2']);
    expect(ids('score.accuracy!=0.9')).toEqual(['r3', 'r1']);
    expect(parseRunFilter('a=b')).toEqual([{ kind: 'word', text: 'a=b' }]);
  });

  it('sorts by any column with missing values last, both ways', () => {
    const order = (key: Parameters<typeof sortRuns>[1], direction: 'asc' | 'desc') =>
      sortRuns(rows, key, direction).map((row) => row.id);
    expect(order('metric:score.accuracy', 'desc')).toEqual(['r3', 'r2', 'r1']);
    expect(order('metric:score.accuracy', 'asc')).toEqual(['r2', 'r3', 'r1']);
    expect(order('param:fit.learningRate', 'asc')).toEqual(['r1', 'r3', 'r2']);
    expect(order('createdAt', 'asc')).toEqual(['r1', 'r2', 'r3']);
    expect(order('name', 'asc')).toEqual(['r3', 'r2', 'r1']);
  });

  it('follows a run’s events, and builds a row for a run it has no summary of', () => {
    const run = {
      id: 'r9',
      name: 'mnist',
      status: 'running',
      seed: 1,
      createdAt: '2025-01-09T00:00:00.000Z',
      startedAt: '2025-01-09T00:00:01.000Z',
      finishedAt: null,
      backend: null,
      versions: {},
      pipelineFile: null,
      pipeline: {
        format: 1,
        name: 'mnist',
        seed: 1,
        nodes: [{ id: 'fit', type: 'train', params: { epochs: 5 } }],
        edges: [],
      },
      error: null,
      tasks: [{ id: 'r9-fit', status: 'running' }],
      label: 'new',
      tags: ['x'],
      note: '',
    } as unknown as RunInfo;
    const row = rowFromRun(
      run,
      () =>
        ({
          type: 'train',
          params: {
            epochs: { kind: 'integer', default: 3 },
            optimizer: { kind: 'choice', default: 'adam', choices: [] },
          },
        }) as never,
    );
    expect(row.params).toEqual({ 'fit.epochs': 5, 'fit.optimizer': 'adam' });
    expect(rowFromRun(run, () => undefined, { 'fit.epochs': 5, 'score.split': 'test' }).params).toEqual({
      'score.split': undefined,
    });
    expect(row.tasks).toEqual({ total: 1, done: 0, reused: 0, failed: 0, running: 1 });
    expect(row.searchText).toContain('#x');
    const done = updateRow(row, {
      ...run,
      status: 'done',
      tasks: [{ id: 'r9-fit', status: 'done' }],
    } as never);
    expect(done).toMatchObject({ status: 'done', tasks: { done: 1, running: 0 }, params: row.params });
  });

  it('renders only the rows in view', () => {
    expect(visibleWindow(0, 460, 46, 10_000, 8)).toEqual({
      start: 0,
      end: 18,
      before: 0,
      after: (10_000 - 18) * 46,
    });
    const middle = visibleWindow(46_000, 460, 46, 10_000, 8);
    expect(middle).toEqual({ start: 992, end: 1018, before: 992 * 46, after: (10_000 - 1018) * 46 });
    expect(visibleWindow(1e9, 460, 46, 100).end).toBe(100);
    expect(formatCell(0.000123)).toBe('1.23e-4');
    expect(formatCell([300, 100])).toBe('[300, 100]');
    expect(formatCell(undefined)).toBe('—');
  });
});
