/**
 * Tabular datasets from CSV files (optionally gzipped): numeric feature columns and one label
 * column. Also reads scikit-learn's bundled CSVs as shipped, whose first line is
 * `n_samples,n_features,class names...` instead of column names.
 */
import { constants as bufferConstants } from 'node:buffer';
import { basename } from 'node:path';
import { DistilleryError } from '../../base/errors';
import type { CsvHeaderMode } from '../../nodes/dataset-csv';
import type { SplitData } from './dataset-file';
import { readMaybeGzipped } from './idx';
import { integerLabelClasses, type LabelSource } from './labels';
import { formatCount, MAX_CLASSES, MAX_CSV_CELLS, MAX_DATA_BYTES, tooLarge } from './limits';
import { carveValidation, deriveSeed, requireSplitsCarve, shuffle, shuffledTestSplit } from './splits';

/** A CSV file split into records of raw (untrimmed) fields. */
export interface CsvRecords {
  records: string[][];
  /** The 1-based line of the file on which each record starts. */
  lines: number[];
}

/** A parsed table: column names and the data rows (the header, if any, removed). */
export interface CsvTable {
  file: string;
  columns: string[];
  hasHeader: boolean;
  rows: string[][];
  /** The 1-based file line of each data row, for error messages. */
  lines: number[];
  /** Class names from a scikit-learn style first line, when the file has one. */
  classNames?: string[];
}

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

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER_LABEL = /^\+?\d+(?:\.0*)?$/;
const NON_FINITE = /^[+-]?(?:inf|infinity|nan)$/i;
/** The largest float32; features are stored as float32, so anything above it would be ±Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;
/** A CSV is decoded into one string, so it may not be longer than the longest string V8 makes. */
const CSV_MAX_BYTES = Math.min(MAX_DATA_BYTES, bufferConstants.MAX_STRING_LENGTH);

function isNumeric(field: string): boolean {
  return NUMBER.test(field.trim());
}

function invalid(file: string, message: string, details: Record<string, unknown>): DistilleryError {
  return new DistilleryError('DATASET_INVALID', `${file}: ${message}`, { file, ...details });
}

/**
 * RFC 4180 parsing: comma-separated fields, double-quoted fields that may hold commas, quotes
 * (doubled) and line breaks; LF, CRLF or CR line ends; a leading BOM is dropped and blank lines
 * are skipped.
 */
export function parseCsv(text: string, file = 'CSV', maxCells = MAX_CSV_CELLS): CsvRecords {
  const records: string[][] = [];
  const lines: number[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let record: string[] = [];
  let recordLine = 1;
  let blank = true;
  let cells = 0;

  const push = (field: string): void => {
    cells += 1;
    if (cells > maxCells) {
      throw tooLarge(
        file,
        'the number of fields',
        `${formatCount(maxCells)} fields`,
        `more than ${maxCells}`,
      );
    }
    record.push(field);
  };

  const endRecord = (): void => {
    if (!blank) {
      records.push(record);
      lines.push(recordLine);
    }
    record = [];
    blank = true;
  };

  while (i < n) {
    // One field per iteration; `i` is at its first character.
    if (record.length === 0) recordLine = line;
    let field: string;
    if (text.charCodeAt(i) === 34 /* " */) {
      const startLine = line;
      let value = '';
      let from = i + 1;
      let j = from;
      for (;;) {
        if (j >= n) {
          throw invalid(file, `line ${startLine}: a quoted field is never closed`, {
            row: startLine,
            expected: 'a closing double quote',
            received: 'end of file',
          });
        }
        const c = text.charCodeAt(j);
        if (c === 34) {
          if (text.charCodeAt(j + 1) === 34) {
            value += text.slice(from, j + 1);
            j += 2;
            from = j;
            continue;
          }
          value += text.slice(from, j);
          j += 1;
          break;
        }
        if (c === 10 || (c === 13 && text.charCodeAt(j + 1) !== 10)) line += 1;
        j += 1;
      }
      // Anything between the closing quote and the delimiter is kept as written.
      let k = j;
      while (k < n && !isDelimiter(text.charCodeAt(k))) k += 1;
      field = value + text.slice(j, k);
      i = k;
      blank = false;
    } else {
      let k = i;
      while (k < n && !isDelimiter(text.charCodeAt(k))) k += 1;
      field = text.slice(i, k);
      if (field.length > 0) blank = false;
      i = k;
    }
    push(field);
    if (i >= n) break;
    const c = text.charCodeAt(i);
    if (c === 44 /* , */) {
      blank = false;
      i += 1;
      if (i >= n) push('');
      continue;
    }
    // A line end: CRLF, LF or CR.
    i += c === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
    line += 1;
    endRecord();
  }
  if (record.length > 0) endRecord();
  return { records, lines };
}

function isDelimiter(c: number): boolean {
  return c === 44 || c === 10 || c === 13;
}

function isNonNegativeInteger(field: string | undefined): boolean {
  return field !== undefined && /^\d+$/.test(field.trim());
}

/**
 * scikit-learn's CSVs start with `n_samples,n_features[,class names...]`: recognised when the
 * counts match the rest of the file.
 */
function sklearnClassNames(first: string[], rest: string[][]): string[] | undefined {
  if (!isNonNegativeInteger(first[0]) || !isNonNegativeInteger(first[1])) return undefined;
  const samples = Number(first[0]!.trim());
  const features = Number(first[1]!.trim());
  if (rest.length !== samples || rest[0]?.length !== features + 1) return undefined;
  const names = first.slice(2).map((name) => name.trim());
  if (names.length === 0 && first.length === features + 1) return undefined;
  if (names.some((name) => name === '' || isNumeric(name))) return undefined;
  return names;
}

/** A first row is a header when one of its fields is text where the next row has a number. */
function looksLikeHeader(first: string[], second: string[] | undefined): boolean {
  if (!second) return first.every((field) => !isNumeric(field));
  return first.some((field, j) => !isNumeric(field) && second[j] !== undefined && isNumeric(second[j]));
}

/** Reads a CSV file (gzipped or not) into a table, detecting a header row when asked to. */
export function readCsvTable(path: string, header: CsvHeaderMode = 'auto'): CsvTable {
  const text = readMaybeGzipped(path, CSV_MAX_BYTES).toString('utf8');
  const { records, lines } = parseCsv(text, path);
  if (records.length === 0) {
    throw invalid(path, 'the file holds no rows', { expected: 'at least one data row', received: 'no rows' });
  }
  const first = records[0]!;
  const sklearn = header === 'no' ? undefined : sklearnClassNames(first, records.slice(1));
  const hasHeader =
    header === 'yes' || sklearn !== undefined || (header === 'auto' && looksLikeHeader(first, records[1]));
  const rows = hasHeader ? records.slice(1) : records;
  const rowLines = hasHeader ? lines.slice(1) : lines;
  if (rows.length === 0) {
    throw invalid(path, 'the file holds a header but no data rows', {
      expected: 'at least one data row',
      received: 'no rows',
    });
  }
  const width = sklearn !== undefined ? rows[0]!.length : hasHeader ? first.length : rows[0]!.length;
  let columns: string[];
  if (sklearn !== undefined) {
    columns = Array.from({ length: width }, (_, j) => (j === width - 1 ? 'target' : `feature_${j}`));
  } else if (hasHeader) {
    columns = first.map((name, j) => name.trim() || `column_${j}`);
  } else {
    columns = Array.from({ length: width }, (_, j) => `column_${j}`);
  }
  rows.forEach((row, r) => {
    if (row.length !== width) {
      throw invalid(path, `row ${rowLines[r]} has ${row.length} columns, expected ${width}`, {
        row: rowLines[r],
        expected: `${width} columns`,
        received: row.length,
      });
    }
  });
  const table: CsvTable = { file: path, columns, hasHeader, rows, lines: rowLines };
  if (sklearn !== undefined && sklearn.length > 0) table.classNames = sklearn;
  return table;
}

/**
 * Which column holds the labels: '' = the last; a column name; or a 0-based index (negative
 * counts from the end). Unknown names and indices out of range are PARAM_INVALID.
 */
export function resolveLabelColumn(table: CsvTable, labelColumn = ''): number {
  const spec = labelColumn.trim();
  const width = table.columns.length;
  if (spec === '') return width - 1;
  if (table.hasHeader) {
    const byName = table.columns.indexOf(spec);
    if (byName >= 0) return byName;
  }
  if (/^-?\d+$/.test(spec)) {
    const index = Number(spec);
    const resolved = index < 0 ? width + index : index;
    if (resolved >= 0 && resolved < width) return resolved;
  }
  throw new DistilleryError(
    'PARAM_INVALID',
    `labelColumn must name a column of ${basename(table.file)} or be an index below ${width}, got "${labelColumn}"`,
    {
      param: 'labelColumn',
      file: table.file,
      expected: `one of ${table.columns.map((c) => `"${c}"`).join(', ')} or an index 0..${width - 1}`,
      received: labelColumn,
    },
  );
}

interface RawSplit {
  file: string;
  features: Float32Array;
  labels: string[];
  count: number;
  /** The 1-based file line of each row. */
  lines: number[];
  labelIndex: number;
  labelColumn: string;
}

/** Where a cell is, in messages and in error details. */
function cellPlace(
  table: CsvTable,
  r: number,
  j: number,
): { text: string; details: Record<string, unknown> } {
  return {
    text: `row ${table.lines[r]}, column ${j + 1} ("${table.columns[j]}")`,
    details: { row: table.lines[r], column: table.columns[j], columnIndex: j },
  };
}

function badFeature(
  table: CsvTable,
  r: number,
  j: number,
  message: string,
  expected: string,
): DistilleryError {
  const place = cellPlace(table, r, j);
  const received = table.rows[r]![j];
  return invalid(table.file, `${place.text}: ${message}`, { ...place.details, expected, received });
}

function extract(table: CsvTable, labelIndex: number): RawSplit {
  const width = table.columns.length;
  const featureCount = width - 1;
  const count = table.rows.length;
  const features = new Float32Array(count * featureCount);
  const labels: string[] = new Array<string>(count);
  for (let r = 0; r < count; r++) {
    const row = table.rows[r]!;
    let f = 0;
    for (let j = 0; j < width; j++) {
      const field = row[j]!.trim();
      if (j === labelIndex) {
        if (field === '') {
          const place = cellPlace(table, r, j);
          throw invalid(table.file, `${place.text}: the label is empty`, {
            ...place.details,
            expected: 'a label',
            received: row[j],
          });
        }
        labels[r] = field;
        continue;
      }
      if (NON_FINITE.test(field)) {
        throw badFeature(table, r, j, `${JSON.stringify(row[j])} is not a finite number`, 'a finite number');
      }
      if (!NUMBER.test(field)) {
        throw badFeature(table, r, j, `expected a number, got ${JSON.stringify(row[j])}`, 'a number');
      }
      const value = Number(field);
      // A non-finite feature trains to `loss: null`; float32 storage turns |x| above 3.4e38 into Infinity.
      if (!Number.isFinite(value)) {
        throw badFeature(
          table,
          r,
          j,
          `${field} is not a finite number (it reads as ${value})`,
          'a finite number',
        );
      }
      if (Math.abs(value) > FLOAT32_MAX) {
        throw badFeature(
          table,
          r,
          j,
          `${field} is outside the float32 range (|x| ≤ 3.4e38) features are stored in`,
          'a finite number with |x| ≤ 3.4e38',
        );
      }
      features[r * featureCount + f] = value;
      f += 1;
    }
  }
  return {
    file: table.file,
    features,
    labels,
    count,
    lines: table.lines,
    labelIndex,
    labelColumn: table.columns[labelIndex]!,
  };
}

function labelPlace(raw: RawSplit, i: number): string {
  return `row ${raw.lines[i]}, column ${raw.labelIndex + 1} ("${raw.labelColumn}")`;
}

function labelDetails(raw: RawSplit, i: number): Record<string, unknown> {
  return { row: raw.lines[i], column: raw.labelColumn, columnIndex: raw.labelIndex };
}

/** The classes of a CSV's labels, how to map a label to its class, and facts worth a warning. */
interface CsvClasses {
  classNames: string[];
  indexOf: (label: string) => number;
  warnings: string[];
}

function integerClasses(raws: RawSplit[], knownNames: string[] | undefined): CsvClasses {
  const sources: LabelSource[] = raws.map((raw) => ({
    file: raw.file,
    labels: Float64Array.from(raw.labels, (label) => Math.trunc(Number(label))),
    locate: (i) => labelPlace(raw, i),
    details: (i) => labelDetails(raw, i),
  }));
  const warnings: string[] = [];
  if (knownNames && knownNames.length > 0) {
    const declared = integerLabelClasses(sources, { declared: knownNames.length });
    // Names the file declares count only when they cover every label.
    if (declared.numClasses === knownNames.length) {
      if (declared.missing.length > 0) {
        warnings.push(
          `${raws[0]!.file}: declared class(es) ${declared.missing.map((c) => `"${knownNames[c]}"`).join(', ')} have no rows`,
        );
      }
      return { classNames: knownNames, indexOf: (label) => Math.trunc(Number(label)), warnings };
    }
  }
  const { numClasses } = integerLabelClasses(sources);
  return {
    classNames: Array.from({ length: numClasses }, (_, i) => String(i)),
    indexOf: (label) => Math.trunc(Number(label)),
    warnings,
  };
}

function namedClasses(raws: RawSplit[]): CsvClasses {
  const seen = new Set<string>();
  let fractional: string | undefined;
  let numeric = true;
  for (const raw of raws) {
    raw.labels.forEach((label, i) => {
      if (seen.has(label)) return;
      seen.add(label);
      if (seen.size > MAX_CLASSES) {
        throw invalid(
          raw.file,
          `${labelPlace(raw, i)}: label ${JSON.stringify(label)} is class number ${seen.size}, above the limit of ${formatCount(MAX_CLASSES)} classes`,
          {
            ...labelDetails(raw, i),
            expected: `at most ${MAX_CLASSES} distinct labels`,
            received: seen.size,
          },
        );
      }
      if (!NUMBER.test(label)) numeric = false;
      else if (fractional === undefined && !Number.isInteger(Number(label))) fractional = label;
    });
  }
  const classNames = [...seen].sort();
  const index = new Map(classNames.map((name, i) => [name, i]));
  const warnings: string[] = [];
  if (numeric && fractional !== undefined) {
    const raw = raws[0]!;
    warnings.push(
      `${raw.file}: the labels in column ${raw.labelIndex + 1} ("${raw.labelColumn}") are fractional numbers ` +
        `(e.g. ${fractional}); each distinct value is a class (${classNames.length} classes)`,
    );
  }
  return { classNames, indexOf: (label) => index.get(label)!, warnings };
}

/**
 * Maps label strings to class indices. Integer labels are the classes 0..K-1 themselves (see
 * labels.ts: at most MAX_CLASSES, none without a row); any other labels are class names, sorted
 * and numbered in that order (at most MAX_CLASSES distinct ones). Fewer than two classes is
 * refused: a table feeds only classifiers.
 */
function csvClasses(raws: RawSplit[], knownNames?: string[]): CsvClasses {
  const integers = raws.every((raw) => raw.labels.every((label) => INTEGER_LABEL.test(label)));
  const classes = integers ? integerClasses(raws, knownNames) : namedClasses(raws);
  if (classes.classNames.length < 2) {
    const raw = raws[0]!;
    const rows = raws.reduce((sum, split) => sum + split.count, 0);
    throw invalid(
      raw.file,
      `every one of the ${rows} rows has the label ${JSON.stringify(raw.labels[0])} in column ${raw.labelIndex + 1} ("${raw.labelColumn}"); a classifier needs at least 2 classes`,
      {
        column: raw.labelColumn,
        columnIndex: raw.labelIndex,
        expected: 'labels of at least 2 classes',
        received: `1 class (${JSON.stringify(raw.labels[0])})`,
      },
    );
  }
  return classes;
}

function toSplit(raw: RawSplit, indexOf: (label: string) => number): SplitData {
  const y = new Int32Array(raw.count);
  for (let i = 0; i < raw.count; i++) y[i] = indexOf(raw.labels[i]!);
  return { count: raw.count, x: raw.features, y };
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
