/**
 * Every built-in op, registered against its node spec: one line per node type. An op lives in the
 * file named after its node type (`dataset.mnist` → dataset-mnist.ts) and is a leaf: what ops share
 * lives in the worker's other folders.
 */
import { datasetCsvNode } from '../../nodes/dataset-csv';
import { datasetIdxNode } from '../../nodes/dataset-idx';
import { datasetImageFolderNode } from '../../nodes/dataset-image-folder';
import { datasetMnistNode } from '../../nodes/dataset-mnist';
import { diffusionDdpoNode } from '../../nodes/diffusion-ddpo';
import { diffusionEvaluateNode } from '../../nodes/diffusion-evaluate';
import { diffusionExportNode } from '../../nodes/diffusion-export';
import { diffusionFinetuneNode } from '../../nodes/diffusion-finetune';
import { diffusionSampleNode } from '../../nodes/diffusion-sample';
import { diffusionTrainNode } from '../../nodes/diffusion-train';
import { distillNode } from '../../nodes/distill';
import { evaluateNode } from '../../nodes/evaluate';
import { exportNode } from '../../nodes/export';
import { mergeNode } from '../../nodes/merge';
import { modelCnnNode } from '../../nodes/model-cnn';
import { modelMlpNode } from '../../nodes/model-mlp';
import { modelUnetNode } from '../../nodes/model-unet';
import { pruneNode } from '../../nodes/prune';
import { quantizeNode } from '../../nodes/quantize';
import { trainNode } from '../../nodes/train';
import { registerOp } from '../op-registry';
import { datasetCsv } from './dataset-csv';
import { datasetIdx } from './dataset-idx';
import { datasetImageFolder } from './dataset-image-folder';
import { datasetMnist } from './dataset-mnist';
import { diffusionDdpo } from './diffusion-ddpo';
import { diffusionEvaluate } from './diffusion-evaluate';
import { diffusionFinetune } from './diffusion-finetune';
import { diffusionSample } from './diffusion-sample';
import { diffusionTrain } from './diffusion-train';
import { distill } from './distill';
import { evaluate } from './evaluate';
import { exportModel } from './export';
import { merge } from './merge';
import { modelCnn } from './model-cnn';
import { modelMlp } from './model-mlp';
import { modelUnet } from './model-unet';
import { prune } from './prune';
import { quantize } from './quantize';
import { train } from './train';

registerOp(datasetMnistNode, datasetMnist);
registerOp(datasetIdxNode, datasetIdx);
registerOp(datasetCsvNode, datasetCsv);
registerOp(datasetImageFolderNode, datasetImageFolder);
registerOp(modelMlpNode, modelMlp);
registerOp(modelCnnNode, modelCnn);
registerOp(modelUnetNode, modelUnet);
registerOp(trainNode, train);
registerOp(distillNode, distill);
registerOp(pruneNode, prune);
registerOp(quantizeNode, quantize);
registerOp(mergeNode, merge);
registerOp(diffusionTrainNode, diffusionTrain);
registerOp(diffusionFinetuneNode, diffusionFinetune);
registerOp(diffusionDdpoNode, diffusionDdpo);
registerOp(diffusionSampleNode, diffusionSample);
registerOp(diffusionEvaluateNode, diffusionEvaluate);
registerOp(evaluateNode, evaluate);
registerOp(exportNode, exportModel);
// A diffusion model exports like any other; the exporter copies its diffusion.json beside model.json.
registerOp(diffusionExportNode, exportModel);
