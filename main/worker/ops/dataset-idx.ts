/**
 * `dataset.idx`: IDX image/label files (gzipped or not). Without test files, a seeded `testSplit`
 * of the training files is the test split; limits then take the first N of each. Labels follow the
 * rule in data/labels.ts over all label files; classNames declares classes that may be absent.
 */
import { basename, dirname, resolve } from 'node:path';
import { errors } from '../../base/errors';
import type { datasetIdxNode } from '../../nodes/dataset-idx';
import type { ParamsOf } from '../../nodes/define';
import type { OpContext } from '../context';
import { runDatasetOp } from '../data/dataset-op';
import { idxToSplit, readIdxDataset, type IdxDataset } from '../data/idx';
import { integerLabelClasses, type LabelSource } from '../data/labels';
import { carveValidation, requireSplitsCarve, shuffledTestSplit, takeFirst } from '../data/splits';

function labelSource(file: string, labels: Uint8Array): LabelSource {
  return { file, labels, locate: (i) => `label ${i}`, details: (i) => ({ index: i }) };
}

export function datasetIdx(ctx: OpContext, params: ParamsOf<typeof datasetIdxNode>) {
  const paths = {
    trainImages: params.trainImages.trim(),
    trainLabels: params.trainLabels.trim(),
    testImages: params.testImages.trim(),
    testLabels: params.testLabels.trim(),
  };
  return runDatasetOp(ctx, paths, () => {
    const trainData = readIdxDataset(paths.trainImages, paths.trainLabels);
    const labelFiles = [labelSource(paths.trainLabels, trainData.labels)];
    let testData: IdxDataset | undefined;
    if (paths.testImages !== '') {
      testData = readIdxDataset(paths.testImages, paths.testLabels);
      if (testData.rows !== trainData.rows || testData.cols !== trainData.cols) {
        throw errors.datasetInvalid(
          paths.testImages,
          `${trainData.rows}×${trainData.cols} images like ${paths.trainImages}`,
          `${testData.rows}×${testData.cols}`,
        );
      }
      labelFiles.push(labelSource(paths.testLabels, testData.labels));
    }

    const names = params.classNames;
    const labels = integerLabelClasses(labelFiles, {
      ...(names.length > 0 ? { declared: names.length } : {}),
      hint: 'list every class in classNames if some are meant to have no example',
    });
    if (names.length > 0 && names.length < labels.numClasses) {
      // Depends on the files' labels, so only the op can check it.
      throw errors.paramInvalid(
        ctx.nodeId,
        'classNames',
        `at least ${labels.numClasses} names (labels go up to ${labels.numClasses - 1})`,
        names,
      );
    }
    const classNames =
      names.length > 0 ? names : Array.from({ length: labels.numClasses }, (_, i) => String(i));
    const warnings: string[] = [];
    if (labels.missing.length > 0) {
      const one = labels.missing.length === 1;
      const missing = labels.missing.map((c) => JSON.stringify(classNames[c])).join(', ');
      warnings.push(
        `declared ${one ? 'class' : 'classes'} ${missing} ${one ? 'has' : 'have'} no example in the label files`,
      );
    }

    requireSplitsCarve({ file: paths.trainImages, noun: 'image' }, trainData.count, {
      testSplit: testData ? undefined : params.testSplit,
      validationSplit: params.validationSplit,
      trainLimit: params.trainLimit,
    });
    const pool = testData
      ? { train: idxToSplit(trainData), test: idxToSplit(testData) }
      : shuffledTestSplit(idxToSplit(trainData), params.testSplit, ctx.seed);
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
      warnings,
    };
  });
}
