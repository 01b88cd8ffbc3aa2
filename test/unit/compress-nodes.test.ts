/**
 * The distill / prune / quantize node specs: pipelines using them validate, and invalid ones are
 * refused with coded issues naming the node and the param or port (sparsity ≥ 1, a diffusion model
 * into prune, inconsistent N:M and schedule choices). Key params always reach lineage edges.
 */
import { describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import {
  BUILTIN_NODES,
  createDefaultCatalog,
  defineNodeType,
  NodeCatalog,
  port,
} from '../../main/nodes/index';
import { validatePipeline } from '../../main/pipeline/validate';

const catalog = createDefaultCatalog();

function chain(prune: Record<string, unknown> = {}, distill: Record<string, unknown> = {}): PipelineDoc {
  return {
    format: 1,
    name: 'compress',
    seed: 1,
    nodes: [
      { id: 'data', type: 'dataset.mnist', params: { trainLimit: 1000 } },
      { id: 'big', type: 'model.mlp', params: { hidden: [256] } },
      { id: 'small', type: 'model.mlp', params: { hidden: [32] } },
      { id: 'teach', type: 'train', params: {} },
      { id: 'kd', type: 'distill', params: distill },
      { id: 'cut', type: 'prune', params: prune },
      { id: 'q8', type: 'quantize', params: { dtype: 'uint8' } },
    ],
    edges: [
      { from: 'data.dataset', to: 'big.dataset' },
      { from: 'data.dataset', to: 'small.dataset' },
      { from: 'big.model', to: 'teach.model' },
      { from: 'data.dataset', to: 'teach.dataset' },
      { from: 'teach.model', to: 'kd.teacher' },
      { from: 'small.model', to: 'kd.student' },
      { from: 'data.dataset', to: 'kd.dataset' },
      { from: 'kd.model', to: 'cut.model' },
      { from: 'data.dataset', to: 'cut.dataset' },
      { from: 'cut.model', to: 'q8.model' },
      { from: 'data.dataset', to: 'q8.dataset' },
    ],
  };
}

describe('compression node specs', () => {
  it('a distill → prune → quantize chain validates with the defaults filled in', () => {
    const { issues, pipeline } = validatePipeline(chain(), catalog);
    expect(issues).toEqual([]);
    const kd = pipeline!.nodes.find((node) => node.id === 'kd')!;
    expect(kd.params).toMatchObject({ temperature: 4, alpha: 0.7, labels: 'dataset', epochs: 3 });
    const cut = pipeline!.nodes.find((node) => node.id === 'cut')!;
    expect(cut.params).toMatchObject({
      method: 'magnitude',
      sparsity: 0.9,
      scope: 'global',
      pruningSchedule: 'agp',
      schedule: 'constant',
      epochs: 2,
    });
  });

  it('refuses sparsity ≥ 1 naming the node and param', () => {
    const issues = validatePipeline(chain({ sparsity: 1 }), catalog).issues;
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      code: 'PARAM_OUT_OF_RANGE',
      nodeId: 'cut',
      param: 'sparsity',
      received: 1,
      pointer: '/nodes/5/params/sparsity',
    });
    expect(issues[0]!.message).toMatch(/Node "cut": sparsity must be 0 ≤ value < 1, got 1/);
  });

  it('refuses out-of-range distillation params naming the node and param', () => {
    const issues = validatePipeline(chain({}, { alpha: 1.5, temperature: 0 }), catalog).issues;
    expect(issues.map((issue) => [issue.code, issue.nodeId, issue.param])).toEqual([
      ['PARAM_OUT_OF_RANGE', 'kd', 'temperature'],
      ['PARAM_OUT_OF_RANGE', 'kd', 'alpha'],
    ]);
  });

  it('refuses a diffusion model into prune (PORT_TYPE_MISMATCH naming node and port)', () => {
    const diffusionStub = defineNodeType({
      type: 'test.diffusion-model',
      version: 1,
      title: 'Diffusion model (test stub)',
      category: 'diffusion',
      help: 'Outputs a diffusion model.',
      inputs: {},
      outputs: { model: port('diffusion-model') },
      params: {},
    });
    const withDiffusion = new NodeCatalog([...BUILTIN_NODES, diffusionStub]);
    const doc = chain();
    doc.nodes.push({ id: 'unet', type: 'test.diffusion-model', params: {} });
    doc.edges = doc.edges.map((edge) =>
      edge.to === 'cut.model' ? { from: 'unet.model', to: 'cut.model' } : edge,
    );
    const issues = validatePipeline(doc, withDiffusion).issues;
    expect(issues).toContainEqual(
      expect.objectContaining({
        code: 'PORT_TYPE_MISMATCH',
        nodeId: 'cut',
        port: 'model',
        expected: 'model',
        received: 'diffusion-model',
      }),
    );
  });

  it('refuses n > m, AGP with n:m or structured pruning, and AGP without fine-tuning', () => {
    const nm = validatePipeline(
      chain({ method: 'n:m', n: 5, m: 4, pruningSchedule: 'one-shot' }),
      catalog,
    ).issues;
    expect(nm).toEqual([expect.objectContaining({ code: 'PARAM_INVALID', nodeId: 'cut', param: 'n' })]);
    const agp = validatePipeline(chain({ method: 'structured' }), catalog).issues;
    expect(agp).toEqual([
      expect.objectContaining({ code: 'PARAM_INVALID', nodeId: 'cut', param: 'pruningSchedule' }),
    ]);
    const noEpochs = validatePipeline(chain({ epochs: 0 }), catalog).issues;
    expect(noEpochs).toEqual([
      expect.objectContaining({ code: 'PARAM_INVALID', nodeId: 'cut', param: 'epochs' }),
    ]);
    expect(validatePipeline(chain({ epochs: 0, pruningSchedule: 'one-shot' }), catalog).issues).toEqual([]);
    const ramp = validatePipeline(chain({ initialSparsity: 0.95, sparsity: 0.9 }), catalog).issues;
    expect(ramp).toEqual([expect.objectContaining({ nodeId: 'cut', param: 'initialSparsity' })]);
  });

  it('names the key params each node puts on lineage edges; the catalog serves no functions', () => {
    const spec = (type: string) => catalog.get(type)!;
    expect(spec('distill').lineageParams!({})).toEqual(['temperature', 'alpha', 'labels']);
    expect(spec('prune').lineageParams!({ method: 'magnitude' })).toEqual([
      'method',
      'sparsity',
      'scope',
      'pruningSchedule',
    ]);
    expect(spec('prune').lineageParams!({ method: 'n:m' })).toEqual(['method', 'n', 'm']);
    expect(spec('prune').lineageParams!({ method: 'structured' })).toEqual([
      'method',
      'sparsity',
      'criterion',
    ]);
    expect(spec('quantize').lineageParams!({ mode: 'post-training' })).toEqual(['mode', 'bits', 'dtype']);
    expect(spec('quantize').lineageParams!({ mode: 'qat' })).toEqual([
      'mode',
      'bits',
      'dtype',
      'epochs',
      'learningRate',
    ]);
    const listed = catalog.list().find((info) => info.type === 'prune')!;
    expect(Object.keys(listed)).not.toContain('lineageParams');
    expect(Object.keys(listed)).not.toContain('check');
    expect(listed.category).toBe('compress');
  });
});
