import { defineNodeType, integer, list, port } from './define';
import { IMAGE_REWARDS, samplerParams } from './diffusion-params';

/** Scores fresh samples of a diffusion model: rewards and a classifier's judgement. */
export const diffusionEvaluateNode = defineNodeType({
  type: 'diffusion.evaluate',
  version: 1,
  title: 'Evaluate diffusion',
  category: 'evaluate',
  help:
    'Samples the model (each class in turn, or the given labels) and reports reward statistics (brightness, PNG compressibility) and, with a classifier connected, ' +
    'the classifier’s per-class accuracy on the class-conditional samples, their mean top-1 confidence and the mean probability of a target class. ' +
    'Results go to evaluation.json and are attached to the model in the registry, so runs can be compared.',
  inputs: {
    model: port('diffusion-model'),
    classifier: port('model', {
      optional: true,
      help: 'A trained classifier for the same classes (from the registry or a train node).',
    }),
  },
  outputs: {},
  params: {
    ...samplerParams({ steps: 50, eta: 0, guidanceScale: 2 }),
    count: integer({ default: 200, min: 1, max: 100_000, help: 'Number of samples scored.' }),
    labels: list({
      of: 'integer',
      default: [],
      min: -1,
      max: 100_000,
      help: 'Class of each sample (−1 = unconditional); empty = every class in turn.',
    }),
    rewards: list({
      of: 'string',
      choices: IMAGE_REWARDS,
      default: ['brightness', 'compressibility'],
      help: 'Rewards reported: brightness, compressibility, incompressibility.',
    }),
    targetClass: integer({
      default: -1,
      min: -1,
      max: 100_000,
      help: 'Also report the classifier’s mean probability of this class; −1 = off.',
    }),
    seed: integer({ default: 0, min: 0, max: 4_294_967_295, help: 'Sampling seed; 0 = the run’s seed.' }),
    batchSize: integer({ default: 100, min: 1, max: 4096, help: 'Images denoised together.' }),
  },
  metrics: [
    ...IMAGE_REWARDS.flatMap((reward) => [`reward_${reward}_mean`, `reward_${reward}_std`]),
    'sample_confidence',
    'sample_accuracy',
    'reward_classifier_mean',
  ],
});
