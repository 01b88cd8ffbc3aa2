/** `model.mlp`: an untrained multi-layer perceptron sized for the dataset. */
import type { ParamsOf } from '../../nodes/define';
import type { modelMlpNode } from '../../nodes/model-mlp';
import type { OpContext } from '../context';
import { buildMlp } from '../models/mlp';
import { createClassifier } from '../models/new-classifier';

export function modelMlp(ctx: OpContext, params: ParamsOf<typeof modelMlpNode>) {
  return createClassifier(ctx, {
    name: 'mlp',
    title: 'Multi-layer perceptron',
    imageOnly: false,
    params,
    build: (input) => buildMlp({ ...input, ...params }),
  });
}
