/** `dataset.csv`: numeric features and a label column; features standardised with train statistics. */
import { basename, extname } from 'node:path';
import type { datasetCsvNode } from '../../nodes/dataset-csv';
import type { ParamsOf } from '../../nodes/define';
import type { OpContext } from '../context';
import { loadCsvDataset } from '../data/csv';
import { runDatasetOp } from '../data/dataset-op';

export function datasetCsv(ctx: OpContext, params: ParamsOf<typeof datasetCsvNode>) {
  const paths = { path: params.path.trim(), testPath: params.testPath.trim() };
  return runDatasetOp(ctx, paths, () => {
    const data = loadCsvDataset({
      path: paths.path,
      testPath: paths.testPath,
      labelColumn: params.labelColumn.trim(),
      header: params.header,
      testSplit: params.testSplit,
      validationSplit: params.validationSplit,
      standardize: params.standardize,
      seed: ctx.seed,
    });
    const extra: Record<string, unknown> = { featureNames: data.featureNames };
    if (data.standardization) extra.standardization = data.standardization;
    const file = basename(paths.path).replace(/\.gz$/i, '');
    return {
      meta: {
        name: file.slice(0, file.length - extname(file).length) || file,
        inputShape: [data.featureNames.length],
        numClasses: data.classNames.length,
        classNames: data.classNames,
        image: false,
      },
      splits: { train: data.train, validation: data.validation, test: data.test },
      extra,
      warnings: data.warnings,
    };
  });
}
