import { join } from 'node:path';
import type { Op } from '../context';
import { writeDataset } from '../data/dataset-file';
import { atNode, checkSteps, gridScale } from '../diffusion/op-support';
import { writeSampleGrid } from '../diffusion/png-grid';
import { brightness, summarize } from '../diffusion/rewards';
import { gridColumns, openForSampling, sampleInBatches, sampleLabels } from '../diffusion/sample-batches';
import { modelNoiseFn } from '../diffusion/samplers';

/** `diffusion.sample`: DDPM / DDIM sampling with guidance to a PNG grid and a dataset of images. */
export const diffusionSampleOp: Op = atNode(async (ctx) => {
  const { loaded, schedule, reader, sampler } = await openForSampling(ctx);
  const { model, spec, meta } = loaded;
  try {
    const count = reader.integer('count', 64, { min: 1, max: 100_000 });
    const given = reader.integers('labels', [], { min: -1, max: 100_000 });
    const seedParam = reader.integer('seed', 0, { min: 0 });
    const columns = reader.integer('columns', 0, { min: 0, max: 1000 });
    const batchSize = reader.integer('batchSize', 64, { min: 1, max: 4096 });
    reader.done();
    checkSteps(ctx, sampler.steps, schedule);
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
});
