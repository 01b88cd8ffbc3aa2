/**
 * The runner's pure rules: which nodes "re-run from this node" forces (the node and everything
 * downstream), and which split a task's metric belongs to for the registry's labels.
 */
import { describe, expect, it } from 'vitest';
import { forcedNodes } from '../../main/jobs/task-planning';
import { metricSplit } from '../../main/jobs/metric-splits';
import { DistilleryError } from '../../main/base/errors';

const planned = [
  { nodeId: 'data', dependsOn: [] },
  { nodeId: 'net', dependsOn: ['data'] },
  { nodeId: 'fit', dependsOn: ['net', 'data'] },
  { nodeId: 'score', dependsOn: ['fit', 'data'] },
  { nodeId: 'out', dependsOn: ['fit'] },
  { nodeId: 'other', dependsOn: ['data'] },
];

describe('forcedNodes', () => {
  it('forces the named nodes and every node downstream of them, nothing upstream', () => {
    expect([...forcedNodes(planned, ['fit'])].sort()).toEqual(['fit', 'out', 'score']);
    expect([...forcedNodes(planned, ['score'])]).toEqual(['score']);
    expect([...forcedNodes(planned, ['data'])].sort()).toEqual([
      'data',
      'fit',
      'net',
      'other',
      'out',
      'score',
    ]);
    expect(forcedNodes(planned, []).size).toBe(0);
  });

  it('refuses a node the pipeline lacks, naming it', () => {
    let caught: unknown;
    try {
      forcedNodes(planned, ['fit', 'nope']);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DistilleryError);
    expect(caught).toMatchObject({ code: 'UNKNOWN_NODE', details: { nodeId: 'nope', param: 'forceNodes' } });
  });
});

describe('metricSplit', () => {
  it('labels validation, evaluation and training metrics', () => {
    expect(metricSplit({}, 'val_loss')).toBe('validation');
    expect(metricSplit({}, 'averaged_val_accuracy')).toBe('validation');
    expect(metricSplit({}, 'loss')).toBe('train');
    expect(metricSplit({}, 'accuracy')).toBe('train');
    expect(metricSplit({ split: 'test' }, 'accuracy')).toBe('test');
    expect(metricSplit({ split: 'validation' }, 'loss')).toBe('validation');
    expect(metricSplit({ split: 'test' }, 'val_accuracy')).toBe('validation');
    expect(metricSplit({}, 'sparsity')).toBeNull();
    expect(metricSplit({ split: 'nonsense' }, 'size_bytes')).toBeNull();
  });
});
