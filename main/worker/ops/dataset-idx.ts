/**
 * `dataset.idx`: IDX image/label files (gzipped or not). Without test files, a seeded `testSplit`
 * of the training files is the test split; limits then take the first N of each.
 */
import { basename, dirname, resolve } from 'node:path';
import { errors } from '../../base/errors';
import type { datasetIdxNode } from '../../nodes/dataset-idx';
import type { ParamsOf } from '../../nodes/define';
import type { OpContext } from '../context';
import type { SplitData } from '../data/dataset-file';
import { runDatasetOp } from '../data/dataset-op';
import { idxToSplit, readIdxDataset } from '../data/idx';
import { carveValidation, countClasses, shuffledTestSplit, takeFirst } from '../data/splits';

export function datasetIdx(ctx: OpContext, params: ParamsOf<typeof datasetIdxNode>) {
  const paths = {
    trainImages: params.trainImages.trim(),
    trainLabels: params.trainLabels.trim(),
    testImages: params.testImages.trim(),
    testLabels: params.testLabels.trim(),
  };
  return runDatasetOp(ctx, paths, () => {
    const trainData = readIdxDataset(paths.trainImages, paths.trainLabels);
    let pool: { train: SplitData; test: SplitData };
    if (paths.testImages !== '') {
      const testData = readIdxDataset(paths.testImages, paths.testLabels);
      if (testData.rows !== trainData.rows || testData.cols !== trainData.cols) {
        throw errors.datasetInvalid(
          paths.testImages,
          `${trainData.rows}×${trainData.cols} images like ${paths.trainImages}`,
          `${testData.rows}×${testData.cols}`,
        );
      }
      pool = { train: idxToSplit(trainData), test: idxToSplit(testData) };
    } else {
      pool = shuffledTestSplit(idxToSplit(trainData), params.testSplit, ctx.seed);
    }
    const labelClasses = countClasses(pool.train.y, pool.test.y);
    const names = params.classNames;
    if (names.length > 0 && names.length < labelClasses) {
      // Depends on the files' labels, so only the op can check it.
      throw errors.paramInvalid(
        ctx.nodeId,
        'classNames',
        `at least ${labelClasses} names (labels go up to ${labelClasses - 1})`,
        names,
      );
    }
    const classNames = names.length > 0 ? names : Array.from({ length: labelClasses }, (_, i) => String(i));
    const { train, validation } = carveValidation(
      takeFirst(pool.train, params.trainLimit),
      params.validationSplit,
    );
    const test = takeFirst(pool.test, params.testLimit);
    return {
      meta: {
        name: basename(dirname(resolve(paths.trainImages))) || 'IDX',
        inputShape: [trainData.rows, trainData.cols, 1],
        numClasses: classNames.length,
        classNames,
        image: true,
      },
      splits: { train, validation, test },
    };
  });
}
