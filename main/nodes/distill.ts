import { choice, defineNodeType, number, port } from './define';
import { checkOptimizerParams, optimizerParams, validationParams } from './shared-params';

/**
 * Knowledge distillation (Hinton, Vinyals & Dean 2015): trains the `student` to match the
 * `teacher`'s softened outputs, α·T²·KL(p_t^T ‖ p_s^T) + (1 − α)·CE(y, p_s). The teacher is frozen.
 * Same optimiser, schedule and early-stopping choices as `train`.
 */
export const distillNode = defineNodeType({
  type: 'distill',
  version: 1,
  title: 'Distill',
  category: 'compress',
  help:
    'Trains the student to match the teacher’s softened outputs (Hinton et al. 2015): ' +
    'α·T²·KL(teacher ‖ student at temperature T) + (1 − α)·cross-entropy with the labels. ' +
    'With labels "none" the student learns from the teacher alone (its top-1 predictions replace the labels), ' +
    'so unlabeled data can be used. Streams student accuracy, teacher–student agreement, soft and hard loss per epoch.',
  inputs: {
    teacher: port('model', { help: 'The trained model to learn from; it is not changed.' }),
    student: port('model', { help: 'The model to train (usually smaller); same classes as the teacher.' }),
    dataset: port('dataset', { help: 'Examples to distil on (train split; validation split if present).' }),
  },
  outputs: { model: port('model', { help: 'The trained student.' }) },
  params: {
    temperature: number({
      default: 4,
      min: 1,
      max: 100,
      help: 'Softmax temperature T of the soft targets (Hinton et al. used 20 on MNIST).',
    }),
    alpha: number({
      default: 0.7,
      min: 0,
      max: 1,
      help: 'Weight α of the soft-target term; 1 − α weighs the hard-label cross-entropy.',
    }),
    labels: choice({
      default: 'dataset',
      choices: ['dataset', 'none'],
      help: '"dataset": the hard term uses the dataset’s labels. "none": teacher-only distillation, the hard term uses the teacher’s top-1 predictions and the labels are only used to report accuracy.',
    }),
    ...optimizerParams,
    ...validationParams,
  },
  check: checkOptimizerParams,
  lineageParams: () => ['temperature', 'alpha', 'labels'],
});
