import { join } from 'node:path';
import type { ParamsOf } from '../../nodes/define';
import type { diffusionSampleNode } from '../../nodes/diffusion-sample';
import type { OpContext, OpSummary } from '../context';
import { writeDataset } from '../data/dataset-file';
import { gridScale } from '../diffusion/op-support';
import { writeSampleGrid } from '../diffusion/png-grid';
import { brightness, summarize } from '../diffusion/rewards';
import {
  gridColumns,
  openForSampling,
  sampleInBatches,
  sampleLabels,
  samplerConfig,
} from '../diffusion/sample-batches';
import { modelNoiseFn } from '../diffusion/samplers';

/** `diffusion.sample`: DDPM / DDIM sampling with guidance to a PNG grid and a dataset of images. */
export async function diffusionSample(
  ctx: OpContext,
  params: ParamsOf<typeof diffusionSampleNode>,
): Promise<OpSummary> {
  const sampler = samplerConfig(params);
  const { loaded, schedule } = await openForSampling(ctx, sampler);
  const { model, spec, meta } = loaded;
  const { count, labels: given, seed: seedParam, columns, batchSize } = params;
  try {
    const labels = sampleLabels(ctx, spec, given, count);
    const seed = seedParam || ctx.seed;
    const began = performance.now();
    const unit = sampleInBatches(ctx, {
      noise: modelNoiseFn(model, spec),
      spec,
      schedule,
      sampler,
      labels,
      seed,
      batchSize,
    });
    const seconds = (performance.now() - began) / 1000;
    const shape: [number, number, number] = [spec.imageSize, spec.imageSize, spec.channels];
    const gridPath = writeSampleGrid(join(ctx.taskDir, 'samples.png'), unit, count, shape, {
      columns: columns || gridColumns(spec, given, count),
      scale: gridScale(spec.imageSize),
    });
    ctx.sample(gridPath, 0);
    const bytes = new Uint8Array(unit.length);
    for (let i = 0; i < unit.length; i++) bytes[i] = Math.round(unit[i]! * 255);
    const datasetDir = join(ctx.taskDir, 'samples');
    const classNames = spec.numClasses > 0 ? meta.classNames : ['unconditional'];
    writeDataset(
      datasetDir,
      {
        name: `${count} ${sampler.method.toUpperCase()} samples (${sampler.steps} steps${sampler.method === 'ddim' ? `, η ${sampler.eta}` : ''}, guidance ${sampler.guidanceScale})`,
        inputShape: [...shape],
        numClasses: Math.max(1, spec.numClasses),
        classNames,
        image: true,
      },
      { test: { count, x: bytes, y: Int32Array.from(labels, (label) => Math.max(0, label)) } },
    );
    ctx.artifact('samples', 'dataset', datasetDir, {
      count,
      inputShape: shape,
      labels: given,
      sampler,
      grid: gridPath,
    });
    const stats = summarize(brightness(unit, count));
    ctx.metric('brightness_mean', stats.mean, { step: 0 });
    ctx.metric('images_per_second', count / seconds, { step: 0 });
    ctx.log(
      `Sampled ${count} images with ${sampler.method.toUpperCase()} (${sampler.steps} steps, guidance ${sampler.guidanceScale}) in ${seconds.toFixed(1)} s → ${gridPath}`,
    );
    return { count, grid: gridPath, samples: datasetDir, sampler, seed, seconds, brightnessMean: stats.mean };
  } finally {
    model.dispose();
  }
}
