/**
 * `visibleWhen` on node specs: every condition names a param of its own node with values that
 * param can take, the rule that the inspector and `distillery nodes` share, and the params that
 * apply to some choices only (momentum, Lion's β₂, N:M's m, AGP's schedule, QAT's fine-tuning).
 */
import { describe, expect, it } from 'vitest';
import type { NodeSpecInfo, ParamSpecInfo } from '../../preload/contract';
import { describeVisibility, isParamVisible, paramValueOf } from '../../preload/graph-rules';
import { nodeDetail } from '../../main/cli/format';
import { createDefaultCatalog } from '../../main/nodes/index';

const specs = createDefaultCatalog().list();

function spec(type: string): NodeSpecInfo {
  const found = specs.find((candidate) => candidate.type === type);
  if (!found) throw new Error(`no node type ${type}`);
  return found;
}

/** The params of `type` that apply with these params written (the others at their defaults). */
function visible(type: string, params: Record<string, unknown>): string[] {
  const node = spec(type);
  const valueOf = paramValueOf(params, node.params);
  return Object.entries(node.params)
    .filter(([, param]) => isParamVisible(param, valueOf))
    .map(([name]) => name);
}

function canTake(param: ParamSpecInfo, value: unknown): boolean {
  switch (param.kind) {
    case 'choice':
      return param.choices.includes(value as string);
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
    case 'integer':
      return typeof value === 'number';
    case 'list':
      return false;
  }
}

describe('visibleWhen', () => {
  it('names only params of its own node, with values they can take, never itself', () => {
    const problems: string[] = [];
    let conditions = 0;
    for (const node of specs) {
      for (const [name, param] of Object.entries(node.params)) {
        for (const [other, values] of Object.entries(param.visibleWhen ?? {})) {
          conditions += 1;
          const target = node.params[other];
          if (!target || other === name) problems.push(`${node.type}.${name}: unknown param ${other}`);
          else if (values.length === 0 || !values.every((value) => canTake(target, value)))
            problems.push(`${node.type}.${name}: ${other} cannot be ${JSON.stringify(values)}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // Enough conditions that the test means something: the optimiser group alone has a dozen.
    expect(conditions).toBeGreaterThan(40);
  });

  it('shows momentum only for the momentum optimizer and Lion’s β₂ only for lion', () => {
    expect(visible('train', {})).not.toContain('momentum');
    expect(visible('train', {})).toContain('beta2');
    expect(visible('train', { optimizer: 'momentum' })).toContain('momentum');
    expect(visible('train', { optimizer: 'momentum' })).not.toContain('beta1');
    expect(visible('train', { optimizer: 'lion' })).toEqual(expect.arrayContaining(['lionBeta2', 'beta1']));
    expect(visible('train', { optimizer: 'lion' })).not.toContain('beta2');
    expect(visible('train', { optimizer: 'adam' })).not.toContain('lionBeta2');
    // The same group in other nodes that take it.
    expect(visible('distill', { optimizer: 'sgd' })).not.toContain('momentum');
    expect(visible('prune', { optimizer: 'momentum' })).toContain('momentum');
  });

  it('shows schedule and early-stopping params only where they apply', () => {
    expect(visible('train', {})).not.toEqual(expect.arrayContaining(['warmupSteps']));
    expect(visible('train', { schedule: 'warmup-cosine' })).toEqual(
      expect.arrayContaining(['warmupSteps', 'minLearningRate']),
    );
    expect(visible('train', { schedule: 'step' })).toEqual(
      expect.arrayContaining(['stepEvery', 'stepGamma']),
    );
    expect(visible('train', { schedule: 'step' })).not.toContain('minLearningRate');
    expect(visible('train', {})).not.toContain('patience');
    expect(visible('train', { earlyStopping: true })).toEqual(
      expect.arrayContaining(['monitor', 'patience', 'minDelta', 'restoreBest']),
    );
    expect(visible('train', { average: 'swa' })).toContain('averageStart');
    expect(visible('train', { average: 'swa' })).not.toContain('averageDecay');
    expect(visible('train', { average: 'ema' })).toContain('averageDecay');
  });

  it('shows N:M’s n and m only for the N:M method, and the AGP params only for agp', () => {
    expect(visible('prune', {})).not.toContain('m');
    expect(visible('prune', { method: 'n:m', pruningSchedule: 'one-shot' })).toEqual(
      expect.arrayContaining(['n', 'm']),
    );
    expect(visible('prune', { method: 'n:m', pruningSchedule: 'one-shot' })).not.toContain('pruneEvery');
    expect(visible('prune', {})).toEqual(expect.arrayContaining(['pruneEvery', 'rampSteps', 'startStep']));
    expect(visible('prune', { pruningSchedule: 'one-shot' })).not.toContain('pruneEvery');
    expect(visible('prune', { method: 'structured', pruningSchedule: 'one-shot' })).toContain('criterion');
    // pruningSchedule stays visible for every method: n:m needs it changed to one-shot.
    expect(visible('prune', { method: 'n:m' })).toContain('pruningSchedule');
  });

  it('shows quantize’s fine-tuning params only for QAT, merge’s only for their methods', () => {
    expect(visible('quantize', {})).not.toEqual(expect.arrayContaining(['learningRate']));
    expect(visible('quantize', {})).not.toContain('optimizer');
    expect(visible('quantize', { mode: 'qat' })).toEqual(
      expect.arrayContaining(['optimizer', 'learningRate', 'epochs', 'fineTuneBatchSize']),
    );
    expect(visible('quantize', { mode: 'qat', optimizer: 'sgd' })).not.toContain('momentum');
    expect(visible('merge', {})).not.toContain('topK');
    expect(visible('merge', { method: 'ties' })).toEqual(expect.arrayContaining(['topK', 'lambda']));
    expect(visible('merge', { method: 'lcsc' })).toEqual(expect.arrayContaining(['population', 'seed']));
  });

  it('says when each param applies in `distillery nodes TYPE`', () => {
    const text = nodeDetail(spec('train'));
    expect(text).toMatch(/momentum\s+number\s+0\.9\s+.*when optimizer is momentum/);
    expect(text).toMatch(/lionBeta2\s+.*when optimizer is lion/);
    expect(text).toMatch(/epochs\s+integer\s+3\s+.*always/);
    expect(describeVisibility({ schedule: ['cosine', 'warmup-cosine'], earlyStopping: [true] })).toBe(
      'schedule is cosine or warmup-cosine and earlyStopping is true',
    );
  });
});

describe('effects', () => {
  it('marks the export nodes as writing outside the run folder, at a string param', () => {
    const external = specs.filter((node) => node.effects);
    expect(external.map((node) => node.type).sort()).toEqual(['diffusion.export', 'export']);
    for (const node of external) {
      for (const name of node.effects!.external)
        expect(node.params[name]?.kind, `${node.type}.${name}`).toBe('string');
    }
    expect(nodeDetail(spec('export'))).toContain('writes outside its run folder, at outDir');
  });
});
