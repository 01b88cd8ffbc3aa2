import { choice, defineNodeType, integer, number, port, string } from './define';

/** Grayscale or RGB, as the choice strings the editor shows. */
export const IMAGE_CHANNELS = ['1', '3'] as const;

/** A folder with one sub-folder of PNG/JPEG images per class. */
export const datasetImageFolderNode = defineNodeType({
  type: 'dataset.image-folder',
  version: 1,
  title: 'Image folder',
  category: 'data',
  help: 'One sub-folder per class holding PNG or JPEG images; images are resized to width × height.',
  inputs: {},
  outputs: { dataset: port('dataset') },
  params: {
    path: string({ required: true, help: 'Folder with one sub-folder per class.' }),
    testPath: string({
      default: '',
      help: 'Separate test folder with the same classes; empty = carve testSplit.',
    }),
    width: integer({ default: 28, min: 1, max: 1024, help: 'Width images are resized to.' }),
    height: integer({ default: 28, min: 1, max: 1024, help: 'Height images are resized to.' }),
    channels: choice({ default: '1', choices: IMAGE_CHANNELS, help: '1 = grayscale, 3 = RGB.' }),
    testSplit: number({
      default: 0.2,
      min: 0,
      max: 0.9,
      help: 'Test fraction when no test folder is given (seeded shuffle).',
      visibleWhen: { testPath: [''] },
    }),
    validationSplit: number({
      default: 0,
      min: 0,
      max: 0.5,
      help: 'Fraction of the training images held out for validation.',
    }),
  },
});
