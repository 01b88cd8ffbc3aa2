import { boolean, choice, defineNodeType, number, port, string } from './define';

/** Whether a CSV file's first row holds column names. */
export const CSV_HEADER_MODES = ['auto', 'yes', 'no'] as const;
export type CsvHeaderMode = (typeof CSV_HEADER_MODES)[number];

/** A table of numeric features with one label column (e.g. scikit-learn's iris.csv). */
export const datasetCsvNode = defineNodeType({
  type: 'dataset.csv',
  version: 1,
  title: 'CSV table',
  category: 'data',
  help: 'Numeric feature columns plus a label column, from a .csv or .csv.gz file. Features are standardised with training-set statistics.',
  inputs: {},
  outputs: { dataset: port('dataset') },
  params: {
    path: string({ required: true, help: 'Path of the CSV file.' }),
    testPath: string({ default: '', help: 'Separate test CSV; empty = carve testSplit off the file.' }),
    labelColumn: string({ default: '', help: 'Label column name or 0-based index; empty = last column.' }),
    header: choice({
      default: 'auto',
      choices: CSV_HEADER_MODES,
      help: 'Whether the first row holds column names.',
    }),
    testSplit: number({
      default: 0.2,
      min: 0,
      max: 0.9,
      help: 'Test fraction when no test file is given (seeded shuffle).',
      visibleWhen: { testPath: [''] },
    }),
    validationSplit: number({
      default: 0,
      min: 0,
      max: 0.5,
      help: 'Fraction of the training rows held out for validation.',
    }),
    standardize: boolean({
      default: true,
      help: 'Scale each feature to zero mean, unit variance (training statistics).',
    }),
  },
});
