/**
 * A CSV table's rows turned into float32 features and label strings, each bad cell refused with
 * its row and column named.
 */
import type { DistilleryError } from '../../base/errors';
import { invalid, NUMBER } from './csv-parse';
import type { CsvTable } from './csv-table';

const NON_FINITE = /^[+-]?(?:inf|infinity|nan)$/i;
/** The largest float32; features are stored as float32, so anything above it would be ±Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** A table's rows as features and label strings, before the labels become classes. */
export interface RawSplit {
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

/** The rows' features and label strings, every feature checked to be a finite float32. */
export function extract(table: CsvTable, labelIndex: number): RawSplit {
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

/** Where a label is, in messages. */
export function labelPlace(raw: RawSplit, i: number): string {
  return `row ${raw.lines[i]}, column ${raw.labelIndex + 1} ("${raw.labelColumn}")`;
}

/** Where a label is, in error details. */
export function labelDetails(raw: RawSplit, i: number): Record<string, unknown> {
  return { row: raw.lines[i], column: raw.labelColumn, columnIndex: raw.labelIndex };
}
