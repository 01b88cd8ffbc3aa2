/** `model.cnn`: an untrained LeNet-5-style convolutional network; refuses non-image datasets. */
import type { ParamsOf } from '../../nodes/define';
import type { modelCnnNode } from '../../nodes/model-cnn';
import type { OpContext } from '../context';
import { buildCnn, POOL_SIZE } from '../models/cnn';
import { createClassifier } from '../models/new-classifier';

export function modelCnn(ctx: OpContext, params: ParamsOf<typeof modelCnnNode>) {
  return createClassifier(ctx, {
    name: 'cnn',
    title: 'Convolutional network (LeNet-5 style)',
    imageOnly: true,
    params: { ...params, poolSize: POOL_SIZE },
    build: (input) => buildCnn({ ...input, ...params }),
  });
}
