/**
 * Tabular datasets from CSV files (optionally gzipped): numeric feature columns and one label
 * column. Also reads scikit-learn's bundled CSVs as shipped, whose first line is
 * `n_samples,n_features,class names...` instead of column names.
 */
import { basename } from 'node:path';
import type { CsvHeaderMode } from '../../nodes/dataset-csv';
import { csvClasses, toSplit } from './csv-classes';
import { invalid } from './csv-parse';
import { extract, type RawSplit } from './csv-rows';
import { readCsvTable, resolveLabelColumn } from './csv-table';
import type { SplitData } from './dataset-file';
import { carveValidation, deriveSeed, requireSplitsCarve, shuffle, shuffledTestSplit } from './splits';

export interface CsvOptions {
  path: string;
  /** A separate test file; without one, `testSplit` of the (shuffled) rows become the test split. */
  testPath?: string;
  /** Column name, or a 0-based index (negative counts from the end); '' = the last column. */
  labelColumn?: string;
  header?: CsvHeaderMode;
  testSplit?: number;
  validationSplit?: number;
  /** Standardise features with the training split's mean and standard deviation (default true). */
  standardize?: boolean;
  seed: number;
}

export interface CsvDataset {
  featureNames: string[];
  classNames: string[];
  train: SplitData;
  validation?: SplitData;
  test: SplitData;
  /** Per-feature statistics of the training split used for standardisation, when applied. */
  standardization?: { mean: number[]; std: number[] };
  /** Facts about legitimate but unusual data, for the task log (e.g. declared classes without rows). */
  warnings: string[];
}

/** Per-column mean and (population) standard deviation; a zero deviation becomes 1. */
export function featureStatistics(
  x: Float32Array,
  count: number,
  features: number,
): { mean: number[]; std: number[] } {
  const mean = new Array<number>(features).fill(0);
  const std = new Array<number>(features).fill(0);
  if (count === 0) return { mean, std: std.map(() => 1) };
  for (let r = 0; r < count; r++) for (let f = 0; f < features; f++) mean[f]! += x[r * features + f]!;
  for (let f = 0; f < features; f++) mean[f]! /= count;
  for (let r = 0; r < count; r++) {
    for (let f = 0; f < features; f++) {
      const d = x[r * features + f]! - mean[f]!;
      std[f]! += d * d;
    }
  }
  for (let f = 0; f < features; f++) {
    const s = Math.sqrt(std[f]! / count);
    std[f] = s > 1e-12 ? s : 1;
  }
  return { mean, std };
}

function applyStatistics(x: Float32Array, features: number, stats: { mean: number[]; std: number[] }): void {
  for (let i = 0; i < x.length; i++) {
    const f = i % features;
    x[i] = (x[i]! - stats.mean[f]!) / stats.std[f]!;
  }
}

/**
 * Loads a CSV dataset. The rows are put in a seeded random order (CSV files are often sorted by
 * class, and the validation split is carved off the end of train); without a test file the last
 * `testSplit` of that order is the test split. Features are standardised with train statistics.
 * Refused with DATASET_INVALID naming the file (and row and column where there is one): a feature
 * that is not a finite float32, labels that break the rule in labels.ts, fewer than two classes,
 * no feature column, and a test or validation fraction that carves nothing.
 */
export function loadCsvDataset(options: CsvOptions): CsvDataset {
  const header = options.header ?? 'auto';
  const trainTable = readCsvTable(options.path, header);
  const labelIndex = resolveLabelColumn(trainTable, options.labelColumn);
  const featureNames = trainTable.columns.filter((_, j) => j !== labelIndex);
  if (featureNames.length === 0) {
    throw invalid(
      options.path,
      `holds only the label column ("${trainTable.columns[labelIndex]}"); expected at least one numeric feature column besides it`,
      { expected: 'at least one feature column besides the label', received: '1 column' },
    );
  }
  const trainRaw = extract(trainTable, labelIndex);

  let testRaw: RawSplit | undefined;
  if (options.testPath) {
    const testTable = readCsvTable(options.testPath, header);
    if (testTable.columns.length !== trainTable.columns.length) {
      throw invalid(
        testTable.file,
        `has ${testTable.columns.length} columns but ${basename(options.path)} has ${trainTable.columns.length}`,
        {
          expected: `${trainTable.columns.length} columns`,
          received: testTable.columns.length,
        },
      );
    }
    const spec = options.labelColumn ?? '';
    const testLabelIndex =
      testTable.hasHeader && trainTable.hasHeader && trainTable.columns.includes(spec.trim())
        ? resolveLabelColumn(testTable, spec)
        : labelIndex;
    testRaw = extract(testTable, testLabelIndex);
  }

  const testSplit = options.testSplit ?? 0.2;
  const validationSplit = options.validationSplit ?? 0;
  requireSplitsCarve({ file: options.path, noun: 'row' }, trainRaw.count, {
    testSplit: testRaw ? undefined : testSplit,
    validationSplit,
  });
  const { classNames, indexOf, warnings } = csvClasses(
    testRaw ? [trainRaw, testRaw] : [trainRaw],
    trainTable.classNames,
  );
  let train: SplitData;
  let test: SplitData;
  if (testRaw) {
    train = shuffle(toSplit(trainRaw, indexOf), deriveSeed(options.seed, 'train-order'));
    test = toSplit(testRaw, indexOf);
  } else {
    ({ train, test } = shuffledTestSplit(toSplit(trainRaw, indexOf), testSplit, options.seed));
  }
  const carved = carveValidation(train, validationSplit);
  const result: CsvDataset = { featureNames, classNames, train: carved.train, test, warnings };
  if (carved.validation) result.validation = carved.validation;

  if (options.standardize ?? true) {
    const features = featureNames.length;
    const stats = featureStatistics(result.train.x as Float32Array, result.train.count, features);
    // The splits are disjoint views or copies, so standardising each in place touches each value once.
    for (const split of [result.train, result.validation, result.test]) {
      if (split) applyStatistics(split.x as Float32Array, features, stats);
    }
    result.standardization = stats;
  }
  return result;
}
