/**
 * The editor's sweep pieces against the real catalog and the real validator: "Sweep this param"
 * suggests ranges the validator accepts for every sweepable param of every node type, the sweep
 * change kinds apply and invert exactly (undo restores the document byte for byte), renaming a
 * node carries the sweep's keys along, and a new block's objective and scheduler defaults are
 * ones the validator accepts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ParamSpecInfo, PipelineDoc, SweepSpec } from '../../preload/contract';
import { createDefaultCatalog } from '../../main/nodes/index';
import { validatePipeline } from '../../main/pipeline/validate';
import { applyChange, applyChanges, ChangeError } from '../../renderer/src/pipeline/changes';
import {
  canSweep,
  defaultObjective,
  describeDomain,
  newSweep,
  schedulerFor,
  suggestDomain,
  sweptParams,
} from '../../renderer/src/pipeline/sweep';

const catalog = createDefaultCatalog();
const infos = catalog.list();
const specOf = (type: string) => infos.find((spec) => spec.type === type);

function mnistMlp(): PipelineDoc {
  return JSON.parse(
    readFileSync(new URL('../../resources/pipelines/mnist-mlp.distillery.json', import.meta.url), 'utf8'),
  ) as PipelineDoc;
}

function sweepIssues(doc: PipelineDoc) {
  return validatePipeline(doc, catalog).issues.filter((issue) => issue.pointer?.startsWith('/sweep'));
}

describe('suggestDomain ("Sweep this param")', () => {
  const train = specOf('train')!.params;

  it('searches a learning rate log-uniformly a decade either way of its value', () => {
    expect(suggestDomain('learningRate', train.learningRate!, 0.001)).toEqual({ logUniform: [0.0001, 0.01] });
  });

  it('searches an integer over half to twice its value, on a log scale when that spans 4×', () => {
    expect(suggestDomain('batchSize', train.batchSize!, 64)).toEqual({ int: [32, 128], log: true });
    expect(suggestDomain('epochs', train.epochs!, 3)).toEqual({ int: [2, 6] });
  });

  it('offers every choice of a choice param, and halves and doubles a list of layer sizes', () => {
    const optimizer = train.optimizer as ParamSpecInfo & { kind: 'choice' };
    expect(suggestDomain('optimizer', optimizer, 'adam')).toEqual({ choice: optimizer.choices });
    const hidden = specOf('model.mlp')!.params.hidden!;
    expect(suggestDomain('hidden', hidden, [300, 100])).toEqual({
      choice: [
        [150, 50],
        [300, 100],
        [600, 200],
      ],
    });
  });

  it('stays inside a bounded param and pulls an exclusive upper bound inside', () => {
    const spec: ParamSpecInfo = { kind: 'number', default: 0.9, min: 0, max: 1, exclusiveMax: true };
    const domain = suggestDomain('momentum', spec, 0.9) as { uniform: [number, number] };
    expect(domain.uniform[0]).toBe(0.45);
    expect(domain.uniform[1]).toBeLessThan(1);
    // A value at its lower bound (a dropout of 0) gets the whole range.
    const dropout: ParamSpecInfo = { kind: 'number', default: 0, min: 0, max: 0.9 };
    expect(suggestDomain('dropout', dropout, 0)).toEqual({ uniform: [0, 0.9] });
  });

  it('refuses params that cannot be swept', () => {
    expect(canSweep({ kind: 'boolean', default: true })).toBe(false);
    expect(canSweep({ kind: 'string', default: '' })).toBe(false);
    expect(suggestDomain('name', { kind: 'string', default: '' }, 'x')).toBeNull();
  });

  it('suggests, for every sweepable param of every node type, a range the validator accepts', () => {
    let checked = 0;
    for (const info of infos) {
      for (const [name, spec] of Object.entries(info.params)) {
        if (!canSweep(spec)) continue;
        const domain = suggestDomain(name, spec, spec.default);
        if (!domain) continue;
        const doc: PipelineDoc = {
          format: 1,
          name: 'probe',
          seed: 1,
          nodes: [
            { id: 'probe', type: info.type, params: {} },
            { id: 'score', type: 'evaluate', params: {} },
          ],
          edges: [],
          sweep: {
            objective: { node: 'score', metric: 'accuracy', mode: 'max' },
            space: { [`probe.${name}`]: domain },
            trials: 4,
          },
        };
        const problems = sweepIssues(doc).filter(
          (issue) => issue.code === 'SWEEP_RANGE' || issue.code === 'SWEEP_PARAM_KIND',
        );
        expect(problems, `${info.type}.${name}: ${describeDomain(domain)}`).toEqual([]);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });
});

describe('sweep change kinds', () => {
  it('adds the first param with a new block, and undo removes the block again', () => {
    const doc = mnistMlp();
    const init = newSweep(doc, specOf);
    const added = applyChange(doc, {
      type: 'addSweepParam',
      key: 'fit.learningRate',
      domain: { logUniform: [0.0001, 0.01] },
      init,
    });
    expect(added.doc.sweep).toEqual({
      ...init,
      space: { 'fit.learningRate': { logUniform: [0.0001, 0.01] } },
    });
    expect(sweepIssues(added.doc)).toEqual([]);
    const undone = applyChange(added.doc, added.inverse).doc;
    expect(JSON.stringify(undone)).toBe(JSON.stringify(doc));
    // Redo of the inverse's inverse gives the same document again.
    expect(applyChange(undone, applyChange(added.doc, added.inverse).inverse).doc).toEqual(added.doc);
  });

  it('removes a param and restores it (with its place in the space) on undo', () => {
    const doc = applyChanges(mnistMlp(), [
      {
        type: 'addSweepParam',
        key: 'fit.learningRate',
        domain: { logUniform: [0.0001, 0.01] },
        init: newSweep(mnistMlp(), specOf),
      },
      { type: 'addSweepParam', key: 'fit.batchSize', domain: { int: [32, 128], log: true } },
    ]);
    const removed = applyChange(doc, { type: 'removeSweepParam', key: 'fit.learningRate' });
    expect(Object.keys(removed.doc.sweep!.space)).toEqual(['fit.batchSize']);
    expect(JSON.stringify(applyChange(removed.doc, removed.inverse).doc)).toBe(JSON.stringify(doc));
  });

  it('sets and clears the whole block, each undone exactly', () => {
    const doc = mnistMlp();
    const sweep: SweepSpec = {
      ...newSweep(doc, specOf),
      space: { 'fit.epochs': { int: [1, 3] } },
      algorithm: 'tpe',
    };
    const set = applyChange(doc, { type: 'setSweep', sweep });
    expect(set.doc.sweep).toBe(sweep);
    const cleared = applyChange(set.doc, { type: 'setSweep', sweep: null });
    expect('sweep' in cleared.doc).toBe(false);
    expect(applyChange(cleared.doc, cleared.inverse).doc).toEqual(set.doc);
    expect(JSON.stringify(applyChange(set.doc, set.inverse).doc)).toBe(JSON.stringify(doc));
  });

  it('refuses to remove a param the sweep does not search, or to add one without a block', () => {
    const doc = mnistMlp();
    expect(() => applyChange(doc, { type: 'removeSweepParam', key: 'fit.learningRate' })).toThrow(
      ChangeError,
    );
    try {
      applyChange(doc, { type: 'addSweepParam', key: 'fit.learningRate', domain: { uniform: [0, 1] } });
      expect.unreachable();
    } catch (error) {
      expect((error as ChangeError).code).toBe('SWEEP_NOT_FOUND');
    }
  });

  it('renames a node in the space, its when conditions, the objective and the resource, and back', () => {
    const base = mnistMlp();
    const doc: PipelineDoc = {
      ...base,
      // A validation split, so the ASHA scheduler's per-epoch metric exists.
      nodes: base.nodes.map((node) =>
        node.id === 'fit' ? { ...node, params: { ...node.params, validationSplit: 0.1 } } : node,
      ),
      sweep: {
        objective: { node: 'score', metric: 'accuracy', mode: 'max' },
        space: {
          'fit.optimizer': { choice: ['adam', 'momentum'] },
          'fit.momentum': { uniform: [0.5, 0.95], when: { 'fit.optimizer': 'momentum' } },
          'net.hidden': { choice: [[128], [300, 100]] },
        },
        scheduler: { type: 'asha', resource: 'fit.epochs', min: 1, max: 3, reductionFactor: 3 },
        trials: 4,
      },
    };
    const renamed = applyChange(doc, { type: 'renameNode', from: 'fit', to: 'trainer' });
    expect(Object.keys(renamed.doc.sweep!.space)).toEqual([
      'trainer.optimizer',
      'trainer.momentum',
      'net.hidden',
    ]);
    expect(renamed.doc.sweep!.space['trainer.momentum']!.when).toEqual({ 'trainer.optimizer': 'momentum' });
    expect(renamed.doc.sweep!.scheduler).toMatchObject({ resource: 'trainer.epochs' });
    expect(sweepIssues(renamed.doc)).toEqual([]);
    const scoreRenamed = applyChange(doc, { type: 'renameNode', from: 'score', to: 'test' }).doc;
    expect(scoreRenamed.sweep!.objective.node).toBe('test');
    expect(JSON.stringify(applyChange(renamed.doc, renamed.inverse).doc)).toBe(JSON.stringify(doc));
  });
});

describe('sweep block defaults', () => {
  it("aims a new block at the evaluate node's accuracy, maximised, and the validator accepts it", () => {
    const doc = mnistMlp();
    expect(defaultObjective(doc, specOf)).toEqual({ node: 'score', metric: 'accuracy', mode: 'max' });
    const withParam = applyChange(doc, {
      type: 'addSweepParam',
      key: 'fit.learningRate',
      domain: suggestDomain('learningRate', specOf('train')!.params.learningRate!, 0.001)!,
      init: newSweep(doc, specOf),
    }).doc;
    expect(sweepIssues(withParam)).toEqual([]);
  });

  it('fills a scheduler from the first epochs param, keeping shared fields across types', () => {
    const doc = mnistMlp();
    const asha = schedulerFor('asha', undefined, doc, specOf);
    expect(asha).toEqual({ type: 'asha', resource: 'fit.epochs', min: 1, max: 3, reductionFactor: 3 });
    const pbt = schedulerFor('pbt', { ...asha, max: 6 } as typeof asha, doc, specOf);
    expect(pbt).toEqual({ type: 'pbt', resource: 'fit.epochs', interval: 1, max: 6, quantile: 0.25 });
    expect(schedulerFor('none', asha, doc, specOf)).toEqual({ type: 'none' });
    const sweep: SweepSpec = {
      ...newSweep(doc, specOf),
      space: { 'fit.learningRate': { logUniform: [0.0001, 0.01] } },
      scheduler: asha,
    };
    // The sample trains with a validation split, so an ASHA scheduler on its epochs is accepted.
    const validated = {
      ...doc,
      nodes: doc.nodes.map((node) =>
        node.id === 'fit' ? { ...node, params: { ...node.params, validationSplit: 0.1 } } : node,
      ),
      sweep,
    };
    expect(sweepIssues(validated)).toEqual([]);
  });

  it('lists the swept params of one node for the canvas badge', () => {
    const sweep: SweepSpec = {
      objective: { node: 'score', metric: 'accuracy', mode: 'max' },
      space: {
        'fit.learningRate': { uniform: [0, 1] },
        'net.hidden': { choice: [[1]] },
        'fitter.epochs': { int: [1, 2] },
      },
    };
    expect(sweptParams(sweep, 'fit')).toEqual(['learningRate']);
    expect(sweptParams(undefined, 'fit')).toEqual([]);
  });
});
