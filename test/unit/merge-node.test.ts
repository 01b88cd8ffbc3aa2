/**
 * The merge node's spec and the params train and distill gained (averaging, kept checkpoints,
 * augment): what the catalog serves, and the cross-param rules, with the validator's own
 * `resolveParams`.
 */
import { describe, expect, it } from 'vitest';
import { distillNode } from '../../main/nodes/distill';
import { createDefaultCatalog } from '../../main/nodes/index';
import { MERGE_METHODS, mergeNode } from '../../main/nodes/merge';
import { trainNode } from '../../main/nodes/train';
import { resolveParams } from '../../main/pipeline/params';

describe('merge node', () => {
  it('is served with a many-link models port (at least 2 links) and optional base, checkpoints, dataset', () => {
    const info = createDefaultCatalog()
      .list()
      .find((spec) => spec.type === 'merge');
    expect(info).toBeDefined();
    expect(info!.inputs.models).toMatchObject({ type: 'model', multiple: true, minLinks: 2, optional: true });
    for (const port of ['base', 'checkpoints', 'dataset'] as const)
      expect(info!.inputs[port]!.optional).toBe(true);
    expect(info!.outputs).toEqual({ model: expect.objectContaining({ type: 'model' }) });
    expect(info!.params.method).toMatchObject({
      kind: 'choice',
      choices: [...MERGE_METHODS],
      default: 'uniform',
    });
    // Other nodes' ports stay single-link.
    expect(createDefaultCatalog().get('train')!.inputs.model!.multiple).toBeUndefined();
  });

  it('checks its params: weighted needs non-zero weights, ties a positive topK, λ may be negative', () => {
    const issues = (params: Record<string, unknown>) =>
      resolveParams('merge-1', mergeNode, params, '/params').issues.map((issue) => [issue.param, issue.code]);
    expect(issues({ method: 'weighted' })).toEqual([['weights', 'PARAM_INVALID']]);
    expect(issues({ method: 'weighted', weights: [1, -1] })).toEqual([['weights', 'PARAM_INVALID']]);
    expect(issues({ method: 'weighted', weights: [1, 3] })).toEqual([]);
    expect(issues({ method: 'ties', topK: 0 })).toEqual([['topK', 'PARAM_INVALID']]);
    expect(issues({ method: 'task-arithmetic', lambda: -1 })).toEqual([]);
    expect(issues({ method: 'lcsc', population: 1 })).toEqual([['population', 'PARAM_OUT_OF_RANGE']]);
    expect(mergeNode.lineageParams!(resolveParams('m', mergeNode, { method: 'ties' }, '').params)).toEqual([
      'method',
      'lambda',
      'chooseLambda',
      'topK',
    ]);
  });
});

describe('training params for averaging and augmentation', () => {
  for (const spec of [trainNode, distillNode]) {
    it(`${spec.type}: defaults change nothing; averaging must start within the run`, () => {
      const defaults = resolveParams('fit', spec, {}, '/params');
      expect(defaults.issues).toEqual([]);
      expect(defaults.params).toMatchObject({
        average: 'none',
        averageStart: 1,
        averageDecay: 0.999,
        keepCheckpoints: 0,
        augment: 'none',
        augmentShift: 2,
      });
      const late = resolveParams(
        'fit',
        spec,
        { epochs: 3, average: 'swa', averageStart: 4 },
        '/params',
      ).issues;
      expect(late).toEqual([
        expect.objectContaining({ param: 'averageStart', code: 'PARAM_INVALID', expected: '≤ epochs (3)' }),
      ]);
      expect(resolveParams('fit', spec, { epochs: 3, averageStart: 4 }, '/params').issues).toEqual([]);
      expect(Object.keys(spec.outputs)).toEqual(['model', 'raw', 'checkpoints']);
    });
  }
});
