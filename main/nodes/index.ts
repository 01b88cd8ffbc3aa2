import { NodeCatalog } from './catalog';
import { datasetCsvNode } from './dataset-csv';
import { datasetIdxNode } from './dataset-idx';
import { datasetImageFolderNode } from './dataset-image-folder';
import { datasetMnistNode } from './dataset-mnist';
import { evaluateNode } from './evaluate';
import { exportNode } from './export';
import { modelCnnNode } from './model-cnn';
import { modelMlpNode } from './model-mlp';
import { trainNode } from './train';

export { NodeCatalog } from './catalog';
export * from './define';

/** Every built-in node type, in palette order. */
export const BUILTIN_NODES = [
  datasetMnistNode,
  datasetIdxNode,
  datasetCsvNode,
  datasetImageFolderNode,
  modelMlpNode,
  modelCnnNode,
  trainNode,
  evaluateNode,
  exportNode,
];

export function createDefaultCatalog(): NodeCatalog {
  return new NodeCatalog(BUILTIN_NODES);
}
