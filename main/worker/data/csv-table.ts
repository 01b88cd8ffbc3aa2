/**
 * A CSV file as a table: its column names (a header row detected, or scikit-learn's first line
 * recognised) and rows of equal width; and which of its columns holds the labels.
 */
import { constants as bufferConstants } from 'node:buffer';
import { basename } from 'node:path';
import { DistilleryError } from '../../base/errors';
import type { CsvHeaderMode } from '../../nodes/dataset-csv';
import { invalid, NUMBER, parseCsv } from './csv-parse';
import { readMaybeGzipped } from './idx';
import { MAX_DATA_BYTES } from './limits';

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

/** A CSV is decoded into one string, so it may not be longer than the longest string V8 makes. */
const CSV_MAX_BYTES = Math.min(MAX_DATA_BYTES, bufferConstants.MAX_STRING_LENGTH);

function isNumeric(field: string): boolean {
  return NUMBER.test(field.trim());
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
