/**
 * A small diffusion pipeline through the real runner (worker subprocesses on wasm, SQLite
 * registry): model.unet → diffusion.train → diffusion.ddpo (LoRA, brightness) → diffusion.sample.
 * Every diffusion model is registered with kind `diffusion` and lineage edges that carry the op
 * and its key params; the training task streams sample grids.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { PipelineDoc, RunInfo, TaskInfo } from '../../preload/contract';
import { useTempApp } from '../helpers/temp-app';

function task(run: RunInfo, nodeId: string): TaskInfo {
  return run.tasks.find((t) => t.nodeId === nodeId)!;
}

const doc: PipelineDoc = {
  format: 1,
  name: 'tiny-diffusion',
  seed: 5,
  nodes: [
    { id: 'data', type: 'dataset.mnist', params: { trainLimit: 256, testLimit: 16 } },
    { id: 'unet', type: 'model.unet', params: { imageSize: 8, widths: [8, 16], timeEmbedDim: 16 } },
    {
      id: 'fit',
      type: 'diffusion.train',
      params: { epochs: 2, batchSize: 32, timesteps: 100, warmupSteps: 0, sampleCount: 4, sampleSteps: 4 },
    },
    {
      id: 'rl',
      type: 'diffusion.ddpo',
      params: { reward: 'brightness', epochs: 2, samplesPerEpoch: 8, trainBatchSize: 8, sampleSteps: 4 },
    },
    { id: 'sample', type: 'diffusion.sample', params: { count: 8, steps: 5 } },
  ],
  edges: [
    { from: 'data.dataset', to: 'unet.dataset' },
    { from: 'data.dataset', to: 'fit.dataset' },
    { from: 'unet.model', to: 'fit.model' },
    { from: 'fit.model', to: 'rl.model' },
    { from: 'rl.model', to: 'sample.model' },
  ],
};

describe('diffusion pipeline through the runner', () => {
  const temp = useTempApp({ concurrency: 1 });

  it('registers diffusion models with lineage and streams samples', async () => {
    const samples: Array<{ taskId: string; path: string }> = [];
    const subscription = temp.app.runner.onDidSample((event) => samples.push(event));
    const run = await temp.app.runner.waitForRun(temp.app.runner.start(doc).id);
    subscription.dispose();
    expect(run.status, JSON.stringify(run.error)).toBe('done');
    expect(task(run, 'fit').backend?.name).toBe('wasm');

    const version = (nodeId: string) => temp.app.registry.list({ name: `tiny-diffusion/${nodeId}` })[0]!;
    for (const nodeId of ['unet', 'fit', 'rl']) expect(version(nodeId).kind, nodeId).toBe('diffusion');
    expect(version('rl').meta).toMatchObject({
      description: expect.stringContaining('DDPO-IS on brightness reward, 2 epochs'),
    });

    const lineage = temp.app.registry.lineage(version('rl').id);
    const into = (nodeId: string) => lineage.edges.filter((edge) => edge.childId === version(nodeId).id);
    expect(into('fit')).toEqual([
      expect.objectContaining({
        parentId: version('unet').id,
        operation: 'diffusion.train',
        params: expect.objectContaining({
          noiseSchedule: 'linear',
          timesteps: 100,
          epochs: 2,
          port: 'model',
        }),
      }),
    ]);
    expect(into('rl')).toEqual([
      expect.objectContaining({
        parentId: version('fit').id,
        operation: 'diffusion.ddpo',
        params: expect.objectContaining({
          algorithm: 'ddpo-is',
          reward: 'brightness',
          epochs: 2,
          method: 'lora',
          port: 'model',
        }),
      }),
    ]);

    // Sample grids from training, DDPO and sampling reached the runner as events, as real files.
    const fitId = task(run, 'fit').id;
    expect(samples.filter((s) => s.taskId === fitId).length).toBeGreaterThanOrEqual(2);
    expect(samples.some((s) => s.taskId === task(run, 'sample').id)).toBe(true);
    expect(samples.every((s) => existsSync(s.path))).toBe(true);
    const rewards = temp.app.runs.getMetrics(task(run, 'rl').id, { names: ['reward_mean'] });
    expect(rewards).toHaveLength(2);
  }, 120_000);
});
