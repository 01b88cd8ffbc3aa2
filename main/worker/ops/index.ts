/** Op name → implementation. Node specs name their op; the worker looks it up here. */
import { DistilleryError } from '../../base/errors';
import type { Op } from '../context';
import { datasetCsvOp, datasetIdxOp, datasetImageFolderOp, datasetMnistOp } from './dataset';
import { diffusionDdpoOp } from './ddpo';
import { diffusionEvaluateOp } from './diffusion-evaluate';
import { diffusionFinetuneOp } from './diffusion-finetune';
import { diffusionSampleOp } from './diffusion-sample';
import { diffusionTrainOp } from './diffusion-train';
import { distillOp } from './distill';
import { evaluateOp } from './evaluate';
import { exportOp } from './export';
import { modelCnnOp, modelMlpOp } from './model';
import { modelUnetOp } from './model-unet';
import { pruneOp } from './prune';
import { quantizeOp } from './quantize';
import { trainOp } from './train';

const OPS = new Map<string, Op>();

export function registerOp(name: string, op: Op): void {
  if (OPS.has(name))
    throw new DistilleryError('UNKNOWN_OP', `Op "${name}" is registered twice`, { received: name });
  OPS.set(name, op);
}

registerOp('dataset-mnist', datasetMnistOp);
registerOp('dataset-idx', datasetIdxOp);
registerOp('dataset-csv', datasetCsvOp);
registerOp('dataset-image-folder', datasetImageFolderOp);
registerOp('model-mlp', modelMlpOp);
registerOp('model-cnn', modelCnnOp);
registerOp('train', trainOp);
registerOp('distill', distillOp);
registerOp('prune', pruneOp);
registerOp('quantize', quantizeOp);
registerOp('model-unet', modelUnetOp);
registerOp('diffusion-train', diffusionTrainOp);
registerOp('diffusion-finetune', diffusionFinetuneOp);
registerOp('diffusion-ddpo', diffusionDdpoOp);
registerOp('diffusion-sample', diffusionSampleOp);
registerOp('diffusion-evaluate', diffusionEvaluateOp);
registerOp('evaluate', evaluateOp);
registerOp('export', exportOp);

export function getOp(name: string): Op {
  const op = OPS.get(name);
  if (!op) {
    throw new DistilleryError('UNKNOWN_OP', `The worker has no op "${name}"`, {
      expected: [...OPS.keys()].join(', '),
      received: name,
    });
  }
  return op;
}

export function opNames(): string[] {
  return [...OPS.keys()];
}
