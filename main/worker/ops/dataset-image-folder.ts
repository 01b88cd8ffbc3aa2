/** `dataset.image-folder`: one sub-folder of PNG/JPEG images per class, resized to width × height. */
import { basename, resolve } from 'node:path';
import type { datasetImageFolderNode } from '../../nodes/dataset-image-folder';
import type { ParamsOf } from '../../nodes/define';
import type { OpContext } from '../context';
import { runDatasetOp } from '../data/dataset-op';
import { loadImageFolder } from '../data/image-folder';

const PROGRESS_INTERVAL_MS = 100;

export function datasetImageFolder(ctx: OpContext, params: ParamsOf<typeof datasetImageFolderNode>) {
  const paths = { path: params.path.trim(), testPath: params.testPath.trim() };
  const { width, height } = params;
  const channels = Number(params.channels) as 1 | 3;
  return runDatasetOp(ctx, paths, () => {
    let reportedAt = 0;
    const data = loadImageFolder({
      path: paths.path,
      testPath: paths.testPath,
      width,
      height,
      channels,
      testSplit: params.testSplit,
      validationSplit: params.validationSplit,
      seed: ctx.seed,
      onProgress: (done, total) => {
        const now = Date.now();
        if (done < total && now - reportedAt < PROGRESS_INTERVAL_MS) return;
        reportedAt = now;
        ctx.progress(done, total);
      },
    });
    return {
      meta: {
        name: basename(resolve(paths.path)),
        inputShape: [height, width, channels],
        numClasses: data.classNames.length,
        classNames: data.classNames,
        image: true,
      },
      splits: { train: data.train, validation: data.validation, test: data.test },
    };
  });
}
