import { NodeCatalog } from './catalog';
import { datasetCsvNode } from './dataset-csv';
import { datasetIdxNode } from './dataset-idx';
import { datasetImageFolderNode } from './dataset-image-folder';
import { datasetMnistNode } from './dataset-mnist';
import { diffusionDdpoNode } from './diffusion-ddpo';
import { diffusionEvaluateNode } from './diffusion-evaluate';
import { diffusionExportNode } from './diffusion-export';
import { diffusionFinetuneNode } from './diffusion-finetune';
import { diffusionSampleNode } from './diffusion-sample';
import { diffusionTrainNode } from './diffusion-train';
import { distillNode } from './distill';
import { evaluateNode } from './evaluate';
import { mergeNode } from './merge';
import { exportNode } from './export';
import { modelCnnNode } from './model-cnn';
import { modelMlpNode } from './model-mlp';
import { modelUnetNode } from './model-unet';
import { pruneNode } from './prune';
import { quantizeNode } from './quantize';
import { trainNode } from './train';
import type { NodeSpec } from './define';

export { NodeCatalog } from './catalog';
export * from './define';

/** Every built-in node type, in palette order. */
export const BUILTIN_NODES: readonly NodeSpec[] = [
  datasetMnistNode,
  datasetIdxNode,
  datasetCsvNode,
  datasetImageFolderNode,
  modelMlpNode,
  modelCnnNode,
  modelUnetNode,
  trainNode,
  distillNode,
  pruneNode,
  quantizeNode,
  mergeNode,
  diffusionTrainNode,
  diffusionFinetuneNode,
  diffusionDdpoNode,
  diffusionSampleNode,
  evaluateNode,
  diffusionEvaluateNode,
  diffusionExportNode,
  exportNode,
];

export function createDefaultCatalog(): NodeCatalog {
  return new NodeCatalog(BUILTIN_NODES);
}
