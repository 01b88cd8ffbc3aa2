/** `model.unet`: an untrained U-Net for the dataset's image channels and classes. */
import { join } from 'node:path';
import { DistilleryError } from '../../base/errors';
import type { ParamsOf } from '../../nodes/define';
import type { modelUnetNode } from '../../nodes/model-unet';
import { requireInput, type OpContext } from '../context';
import { readDatasetManifest } from '../data/dataset-file';
import { DEFAULT_SAMPLER, saveDiffusionModel, type DiffusionModelMeta } from '../diffusion/model-io';
import { buildUnet } from '../diffusion/unet';
import { MODEL_DIR } from '../models/model-file';
import { describeLayers, modelStats } from '../models/stats';

export async function modelUnet(ctx: OpContext, params: ParamsOf<typeof modelUnetNode>) {
  const dataset = requireInput(ctx, 'dataset', 'dataset');
  const manifest = readDatasetManifest(dataset.path);
  if (!manifest.image || manifest.inputShape.length !== 3) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `Node "${ctx.nodeId}": model.unet needs an image dataset, got examples of shape ${JSON.stringify(manifest.inputShape)}`,
      { nodeId: ctx.nodeId, port: 'dataset', expected: 'an image dataset', received: manifest.inputShape },
    );
  }
  const channels = manifest.inputShape[2]!;
  const imageSize = params.imageSize || manifest.inputShape[0]!;
  const numClasses = params.classConditional ? manifest.numClasses : 0;
  const model = buildUnet({ ...params, imageSize, channels, numClasses, seed: ctx.seed });
  try {
    const dir = join(ctx.taskDir, MODEL_DIR);
    const meta: DiffusionModelMeta = {
      format: 1,
      kind: 'diffusion',
      architecture: 'unet',
      architectureParams: { ...params, imageSize },
      inputShape: [imageSize, imageSize, channels],
      numClasses,
      classNames: params.classConditional ? manifest.classNames : [],
      trained: false,
      diffusion: {
        schedule: null,
        prediction: 'epsilon',
        classDropout: 0,
        sampler: DEFAULT_SAMPLER,
        history: [],
      },
    };
    await saveDiffusionModel(model, dir, meta);
    const stats = modelStats(model);
    ctx.artifact('model', 'model', dir, {
      ...stats,
      kind: 'diffusion',
      architecture: 'unet',
      inputShape: meta.inputShape,
      numClasses,
    });
    ctx.log(
      `Built a U-Net for ${imageSize}×${imageSize}×${channels} images${numClasses ? ` and ${numClasses} classes (+ null class)` : ' (unconditional)'}: ${stats.paramCount} parameters (seed ${ctx.seed})`,
    );
    return { paramCount: stats.paramCount, imageSize, numClasses, layers: describeLayers(model).length };
  } finally {
    model.dispose();
  }
}
