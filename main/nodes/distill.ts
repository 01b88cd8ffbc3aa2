import { choice, defineNodeType, number, port } from './define';
import {
  augmentParams,
  averagingParams,
  checkAveragingParams,
  checkOptimizerParams,
  optimizerParams,
  validationParams,
} from './shared-params';

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
    'so unlabeled data can be used. Streams student accuracy, teacher–student agreement, soft and hard loss per epoch. ' +
    'With augment "translate" the teacher scores each jittered batch as the student sees it. As in train, average "swa" / "ema" saves a weight average ' +
    '(the final weights are the "raw" output) and keepCheckpoints keeps the last checkpoints as the "checkpoints" output.',
  inputs: {
    teacher: port('model', { help: 'The trained model to learn from; it is not changed.' }),
    student: port('model', { help: 'The model to train (usually smaller); same classes as the teacher.' }),
    dataset: port('dataset', { help: 'Examples to distil on (train split; validation split if present).' }),
  },
  outputs: {
    model: port('model', { help: 'The trained student; with average "swa" or "ema", the averaged one.' }),
    raw: port('model', {
      help: 'The student’s final weights before averaging; produced only with average "swa" or "ema".',
    }),
    checkpoints: port('model', {
      help: 'The student’s weights at its last keepCheckpoints checkpoints; produced only with keepCheckpoints > 0.',
    }),
  },
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
    ...augmentParams,
    ...averagingParams,
  },
  check: (params) => [...checkOptimizerParams(params), ...checkAveragingParams(params)],
  lineageParams: () => ['temperature', 'alpha', 'labels'],
  metrics: [
    'accuracy',
    'agreement',
    'soft_loss',
    'hard_loss',
    'loss',
    'epoch_loss',
    'val_accuracy',
    'val_loss',
    'val_agreement',
    'averaged_val_accuracy',
    'averaged_val_loss',
  ],
});
