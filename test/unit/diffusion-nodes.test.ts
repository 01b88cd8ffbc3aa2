/**
 * The diffusion node types in the catalog and in pipeline validation: a `diffusion-model` cannot be
 * plugged into a classifier's `model` port and vice versa (PORT_TYPE_MISMATCH naming node, port,
 * expected and received), the shipped diffusion pipelines validate, and the rewards, PNG sizes and
 * advantages DDPO uses behave as documented.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineDoc } from '../../preload/contract';
import { createDefaultCatalog } from '../../main/nodes/index';
import { parsePipelineFile } from '../../main/pipeline/pipeline-file';
import { validatePipeline } from '../../main/pipeline/validate';
import { encodePng, gridImage } from '../../main/worker/diffusion/png-grid';
import { brightness, computeRewards, pngSizes, summarize } from '../../main/worker/diffusion/rewards';
import { computeAdvantages } from '../../main/worker/diffusion/ddpo-advantages';
import { resizeArea } from '../../main/worker/diffusion/images';
import { PNG } from 'pngjs';

const catalog = createDefaultCatalog();

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function diffusionDoc(): PipelineDoc {
  return {
    format: 1,
    name: 'diffusion',
    seed: 1,
    nodes: [
      { id: 'data', type: 'dataset.mnist', params: { trainLimit: 500 } },
      { id: 'unet', type: 'model.unet', params: { imageSize: 16 } },
      { id: 'fit', type: 'diffusion.train', params: { epochs: 1 } },
      { id: 'classifier', type: 'model.mlp', params: {} },
      { id: 'clf-fit', type: 'train', params: { epochs: 1 } },
      { id: 'ddpo', type: 'diffusion.ddpo', params: { reward: 'classifier', targetClass: 3 } },
      { id: 'sample', type: 'diffusion.sample', params: {} },
      { id: 'score', type: 'diffusion.evaluate', params: {} },
    ],
    edges: [
      { from: 'data.dataset', to: 'unet.dataset' },
      { from: 'data.dataset', to: 'fit.dataset' },
      { from: 'unet.model', to: 'fit.model' },
      { from: 'data.dataset', to: 'classifier.dataset' },
      { from: 'data.dataset', to: 'clf-fit.dataset' },
      { from: 'classifier.model', to: 'clf-fit.model' },
      { from: 'fit.model', to: 'ddpo.model' },
      { from: 'clf-fit.model', to: 'ddpo.reward_model' },
      { from: 'ddpo.model', to: 'sample.model' },
      { from: 'ddpo.model', to: 'score.model' },
      { from: 'clf-fit.model', to: 'score.classifier' },
    ],
  };
}

describe('diffusion.export', () => {
  it('takes a diffusion model and refuses a classifier', () => {
    const doc = diffusionDoc();
    doc.nodes.push({ id: 'out', type: 'diffusion.export', params: { outDir: '/tmp/unet-export' } });
    doc.edges.push({ from: 'ddpo.model', to: 'out.model' });
    expect(validatePipeline(doc, catalog).issues).toEqual([]);
    doc.edges[doc.edges.length - 1] = { from: 'clf-fit.model', to: 'out.model' };
    // The refused edge leaves the input unconnected, which is reported too.
    const issues = validatePipeline(doc, catalog).issues;
    expect(issues.map((issue) => issue.code)).toEqual(['PORT_TYPE_MISMATCH', 'MISSING_INPUT']);
    expect(issues[0]).toMatchObject({
      nodeId: 'out',
      port: 'model',
      expected: 'diffusion-model',
      received: 'model',
    });
  });
});

describe('diffusion node types', () => {
  it('are in the catalog with their ports and categories', () => {
    const listed = catalog.list();
    const byType = new Map(listed.map((spec) => [spec.type, spec]));
    expect(byType.get('model.unet')).toMatchObject({
      category: 'model',
      outputs: { model: { type: 'diffusion-model' } },
    });
    expect(byType.get('diffusion.train')).toMatchObject({
      category: 'diffusion',
      inputs: { model: { type: 'diffusion-model' }, dataset: { type: 'dataset' } },
    });
    expect(byType.get('diffusion.finetune')!.params.method).toMatchObject({
      kind: 'choice',
      choices: ['lora', 'full'],
    });
    expect(byType.get('diffusion.ddpo')).toMatchObject({
      inputs: { model: { type: 'diffusion-model' }, reward_model: { type: 'model', optional: true } },
      outputs: { model: { type: 'diffusion-model' } },
    });
    expect(byType.get('diffusion.ddpo')!.params.algorithm).toMatchObject({ choices: ['ddpo-is', 'ddpo-sf'] });
    expect(byType.get('diffusion.sample')!.outputs.samples!.type).toBe('dataset');
    expect(byType.get('diffusion.evaluate')).toMatchObject({
      category: 'evaluate',
      inputs: { classifier: { type: 'model', optional: true } },
    });
  });

  it('a complete diffusion pipeline validates', () => {
    const { issues } = validatePipeline(diffusionDoc(), catalog);
    expect(issues).toEqual([]);
  });

  it('refuses a diffusion model in a classifier port, naming node, port, expected and received', () => {
    const doc = diffusionDoc();
    doc.nodes.push({ id: 'wrong', type: 'evaluate', params: {} });
    doc.edges.push({ from: 'fit.model', to: 'wrong.model' }, { from: 'data.dataset', to: 'wrong.dataset' });
    const issue = validatePipeline(doc, catalog).issues.find((i) => i.code === 'PORT_TYPE_MISMATCH');
    expect(issue).toMatchObject({
      code: 'PORT_TYPE_MISMATCH',
      nodeId: 'wrong',
      port: 'model',
      expected: 'model',
      received: 'diffusion-model',
    });
    expect(issue!.message).toContain('wrong');

    const reward = diffusionDoc();
    reward.edges = reward.edges.map((edge) =>
      edge.to === 'ddpo.reward_model' ? { from: 'fit.model', to: 'ddpo.reward_model' } : edge,
    );
    expect(validatePipeline(reward, catalog).issues).toEqual([
      expect.objectContaining({
        code: 'PORT_TYPE_MISMATCH',
        nodeId: 'ddpo',
        port: 'reward_model',
        expected: 'model',
        received: 'diffusion-model',
      }),
    ]);
  });

  it('refuses a classifier in a diffusion-model port (the reverse)', () => {
    const doc = diffusionDoc();
    doc.edges = doc.edges.map((edge) =>
      edge.to === 'ddpo.model' ? { from: 'clf-fit.model', to: 'ddpo.model' } : edge,
    );
    // The refused edge leaves the required port unconnected, which is reported as well.
    expect(validatePipeline(doc, catalog).issues.map((i) => [i.code, i.nodeId, i.port])).toEqual([
      ['PORT_TYPE_MISMATCH', 'ddpo', 'model'],
      ['MISSING_INPUT', 'ddpo', 'model'],
    ]);
    expect(validatePipeline(doc, catalog).issues[0]).toMatchObject({
      expected: 'diffusion-model',
      received: 'model',
    });
    const train = diffusionDoc();
    train.edges = train.edges.map((edge) =>
      edge.to === 'fit.model' ? { from: 'classifier.model', to: 'fit.model' } : edge,
    );
    expect(validatePipeline(train, catalog).issues).toContainEqual(
      expect.objectContaining({
        code: 'PORT_TYPE_MISMATCH',
        nodeId: 'fit',
        port: 'model',
        expected: 'diffusion-model',
        received: 'model',
      }),
    );
  });

  it('refuses out-of-range diffusion params with the param named', () => {
    const doc = diffusionDoc();
    doc.nodes.find((n) => n.id === 'ddpo')!.params = { clipRange: 0, samplesPerEpoch: 1, algorithm: 'ppo' };
    const codes = validatePipeline(doc, catalog).issues.map((i) => [i.code, i.param]);
    expect(codes).toEqual(
      expect.arrayContaining([
        ['PARAM_OUT_OF_RANGE', 'clipRange'],
        ['PARAM_OUT_OF_RANGE', 'samplesPerEpoch'],
        ['PARAM_INVALID_CHOICE', 'algorithm'],
      ]),
    );
  });

  it('the shipped diffusion pipelines are valid', () => {
    const dir = join(import.meta.dirname, '../../resources/pipelines');
    for (const name of [
      'mnist-diffusion',
      'mnist-diffusion-lora',
      'mnist-ddpo-compressibility',
      'mnist-ddpo-classifier',
    ]) {
      const file = `${name}.distillery.json`;
      expect(
        () => parsePipelineFile(readFileSync(join(dir, file), 'utf8'), file, catalog),
        file,
      ).not.toThrow();
    }
  });
});

describe('rewards and advantages', () => {
  it('PNG sizes: a flat image is smaller than noise; the bytes decode back to the pixels', () => {
    const flat = new Float32Array(2 * 64).fill(0);
    for (let i = 64; i < 128; i++) flat[i] = ((i * 7919) % 256) / 255;
    const sizes = pngSizes(flat, 2, [8, 8, 1]);
    expect(sizes[0]!).toBeLessThan(sizes[1]!);
    const pixels = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
    const decoded = PNG.sync.read(encodePng(pixels, 4, 3, 1));
    expect([decoded.width, decoded.height]).toEqual([4, 3]);
    expect(Array.from({ length: 12 }, (_, i) => decoded.data[i * 4])).toEqual(Array.from(pixels));
  });

  it('compressibility = −size in kB, incompressibility = +size, brightness = mean pixel', () => {
    const images = tf.tensor4d(
      [...new Array<number>(16).fill(-1), ...Array.from({ length: 16 }, (_, i) => (i % 2 ? 1 : -1))],
      [2, 4, 4, 1],
    );
    const compress = computeRewards('compressibility', images);
    const incompress = computeRewards('incompressibility', images);
    expect(Array.from(incompress)).toEqual(Array.from(compress).map((v) => -v));
    expect(compress[0]!).toBeGreaterThan(compress[1]!);
    expect(Array.from(computeRewards('brightness', images))).toEqual([0, 0.5]);
    expect(Array.from(brightness(new Float32Array([0.2, 0.4, 1, 1]), 2))).toEqual([
      expect.closeTo(0.3, 6),
      1,
    ]);
    images.dispose();
  });

  it('advantages: normalised per batch or per class, clipped', () => {
    const rewards = [1, 2, 3, 10, 20, 30];
    const labels = [0, 0, 0, 1, 1, 1];
    const batch = computeAdvantages(rewards, labels, 'batch', 5);
    expect(summarize(batch).mean).toBeCloseTo(0, 6);
    expect(summarize(batch).std).toBeCloseTo(1, 4);
    const perClass = computeAdvantages(rewards, labels, 'per-class', 5);
    perClass.slice(0, 3).forEach((value, i) => expect(value).toBeCloseTo(perClass[3 + i]!, 5));
    expect(perClass[0]).toBeCloseTo(-Math.sqrt(1.5), 4);
    expect(Array.from(computeAdvantages(rewards, labels, 'none', 4))).toEqual([1, 2, 3, 4, 4, 4]);
  });

  it('area resize averages blocks and keeps a grid layout', () => {
    const image = Uint8Array.from([0, 255, 255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 255, 255, 0, 0]);
    resizeArea(image, 1, [4, 4, 1], 2, 2, 1 / 255).forEach((value, i) =>
      expect(value).toBeCloseTo([0.25, 1, 0.5, 0][i]!, 6),
    );
    const grid = gridImage(new Float32Array(3 * 4).fill(1), 3, [2, 2, 1], {
      columns: 2,
      scale: 1,
      padding: 1,
    });
    expect([grid.width, grid.height]).toEqual([7, 7]);
  });
});
