/** `dataset.mnist`: the packaged MNIST set; first `trainLimit` / `testLimit` examples, validation off the end. */
import type { datasetMnistNode } from '../../nodes/dataset-mnist';
import type { ParamsOf } from '../../nodes/define';
import type { OpContext } from '../context';
import { runDatasetOp } from '../data/dataset-op';
import { idxToSplit } from '../data/idx';
import { loadMnist, MNIST_CLASS_NAMES, mnistPaths } from '../data/mnist';
import { carveValidation, requireSplitsCarve, takeFirst } from '../data/splits';

export function datasetMnist(ctx: OpContext, params: ParamsOf<typeof datasetMnistNode>) {
  return runDatasetOp(ctx, {}, () => {
    const limited = takeFirst(idxToSplit(loadMnist('train')), params.trainLimit);
    requireSplitsCarve({ file: mnistPaths('train').images, noun: 'image' }, limited.count, {
      validationSplit: params.validationSplit,
    });
    const { train, validation } = carveValidation(limited, params.validationSplit);
    const test = takeFirst(idxToSplit(loadMnist('test')), params.testLimit);
    return {
      meta: {
        name: 'MNIST',
        inputShape: [28, 28, 1],
        numClasses: 10,
        classNames: MNIST_CLASS_NAMES,
        image: true,
      },
      splits: { train, validation, test },
    };
  });
}
