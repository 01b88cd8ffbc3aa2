/**
 * Sweep records (migration 4, registry/sweep-store.ts) in a real SQLite database: trials round-trip
 * with the trials their proposal saw, NaN readings survive as NaN, the scheduler's calls come back
 * in order, counts follow statuses, and the DTOs carry the contract's field names only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../main/registry/db';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../main/registry/migrations';
import { decodeIndexRanges, encodeIndexRanges, toTrialInfo } from '../../main/registry/sweep-rows';
import { SqliteSweepStore } from '../../main/registry/sweep-store';
import { sweepPipeline } from '../helpers/sweep-fixtures';

/** The code of the error `work` throws, or undefined when it throws none. */
function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

const doc = sweepPipeline({
  objective: { node: 'score', metric: 'accuracy', mode: 'max' },
  space: { 'fit.learningRate': { logUniform: [0.0001, 0.1] } },
  scheduler: { type: 'asha', resource: 'fit.epochs', max: 9 },
  trials: 8,
});

describe('sweep records', () => {
  let db: Database;
  let store: SqliteSweepStore;

  beforeEach(() => {
    db = openDatabase(':memory:');
    store = new SqliteSweepStore(db);
    store.createSweep({
      id: 's1',
      name: doc.name,
      pipeline: doc,
      pipelineFile: '/tmp/a.distillery.json',
      spec: doc.sweep!,
      objective: doc.sweep!.objective,
      algorithm: 'random',
      scheduler: 'asha',
      resource: 'fit.epochs',
      trialCount: 8,
      concurrency: 2,
      seed: 1,
    });
  });

  afterEach(() => db.close());

  it('is a numbered migration of its own, applied to a new database', () => {
    const sweeps = MIGRATIONS.find((migration) => migration.sql.includes('CREATE TABLE sweeps'))!;
    expect(MIGRATIONS.filter((migration) => migration.version === sweeps.version)).toHaveLength(1);
    expect(Number(db.pragma('user_version', { simple: true }))).toBe(LATEST_SCHEMA_VERSION);
  });

  it('keeps the trials a proposal saw as ranges, and gives them back whole', () => {
    expect(encodeIndexRanges([4, 0, 1, 2, 7, 8, 2])).toEqual([
      [0, 2],
      [4, 4],
      [7, 8],
    ]);
    expect(decodeIndexRanges(encodeIndexRanges([4, 0, 1, 2, 7, 8]))).toEqual([0, 1, 2, 4, 7, 8]);
    store.createTrial('s1', 0, { 'fit.learningRate': 0.01 }, []);
    const created = store.createTrial('s1', 5, { 'fit.learningRate': 0.002 }, [0, 1, 2, 4]);
    expect(created).toMatchObject({
      index: 5,
      status: 'queued',
      observed: [0, 1, 2, 4],
      next: null,
      runs: [],
    });
    const info = toTrialInfo(created);
    expect(Object.keys(info).sort()).toEqual(
      [
        'sweepId',
        'index',
        'params',
        'status',
        'objective',
        'epochs',
        'epochsTrained',
        'runId',
        'runs',
        'lastResult',
        'stopped',
        'exploits',
        'error',
        'startedAt',
        'finishedAt',
      ].sort(),
    );
  });

  it('stores NaN objectives and readings as SQLite NULL and reads NaN readings back as NaN', () => {
    store.createTrial('s1', 0, { 'fit.learningRate': 0.09 }, []);
    const updated = store.updateTrial('s1', 0, {
      status: 'done',
      objective: Number.NaN,
      lastResult: { resource: 3, value: Number.NaN },
      epochs: 3,
      runId: 'r1',
      runs: ['r1'],
    });
    expect(updated.objective).toBeNull();
    expect(updated.lastResult!.resource).toBe(3);
    expect(updated.lastResult!.value).toBeNaN();
    store.appendEvent('s1', { trial: 0, kind: 'add', data: { params: { 'fit.learningRate': 0.09 } } });
    store.appendEvent('s1', { trial: 0, kind: 'result', resource: 1, value: 0.5 });
    store.appendEvent('s1', { trial: 0, kind: 'result', resource: 2, value: Number.NaN });
    store.appendEvent('s1', { trial: 0, kind: 'end', data: { end: 'done' } });
    const events = store.events('s1');
    expect(events.map((event) => [event.seq, event.kind])).toEqual([
      [0, 'add'],
      [1, 'result'],
      [2, 'result'],
      [3, 'end'],
    ]);
    expect(events[2]!.value).toBeNaN();
    expect(events[0]!.data).toEqual({ params: { 'fit.learningRate': 0.09 } });
    expect(
      store
        .curves('s1')
        .get(0)!
        .map((point) => point.resource),
    ).toEqual([1, 2]);
  });

  it('counts trials by status in the summary, the list and the sweep', () => {
    for (let index = 0; index < 4; index++) store.createTrial('s1', index, { 'fit.learningRate': 0.001 }, []);
    store.updateTrial('s1', 0, { status: 'done', objective: 0.9 });
    store.updateTrial('s1', 1, { status: 'pruned', stopped: { rung: 1, reason: 'not in the top third' } });
    store.updateTrial('s1', 2, { status: 'running', runId: 'r3' });
    const counts = { queued: 1, running: 1, done: 1, pruned: 1, failed: 0, cancelled: 0 };
    expect(store.getSummary('s1').counts).toEqual(counts);
    expect(store.listSweeps()[0]!.counts).toEqual(counts);
    const sweep = store.getSweep('s1', { curves: true });
    expect(sweep.counts).toEqual(counts);
    expect(sweep.trials.map((trial) => trial.status)).toEqual(['done', 'pruned', 'running', 'queued']);
    expect(sweep.trials[1]!.stopped).toEqual({ rung: 1, reason: 'not in the top third' });
    expect(sweep.trials[0]!.curve).toEqual([]);
    expect(sweep.pipeline.sweep).toEqual(doc.sweep);
    expect(store.listUnsettled().map((summary) => summary.id)).toEqual(['s1']);
    store.updateSweep('s1', { status: 'done', finishedAt: new Date().toISOString() });
    expect(store.listUnsettled()).toEqual([]);
  });

  it('refuses unknown sweeps and trials with SWEEP_NOT_FOUND', () => {
    expect(codeOf(() => store.getSweep('nope'))).toBe('SWEEP_NOT_FOUND');
    expect(codeOf(() => store.updateSweep('nope', { status: 'done' }))).toBe('SWEEP_NOT_FOUND');
    expect(codeOf(() => store.getTrial('s1', 3))).toBe('SWEEP_NOT_FOUND');
    expect(codeOf(() => store.updateTrial('s1', 3, { status: 'done' }))).toBe('SWEEP_NOT_FOUND');
  });
});
