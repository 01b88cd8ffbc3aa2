/**
 * RFC 4180 parsing of CSV text into records of raw fields, and the DATASET_INVALID error every
 * part of the CSV loader raises.
 */
import { DistilleryError } from '../../base/errors';
import { formatCount, MAX_CSV_CELLS, tooLarge } from './limits';

/** A CSV file split into records of raw (untrimmed) fields. */
export interface CsvRecords {
  records: string[][];
  /** The 1-based line of the file on which each record starts. */
  lines: number[];
}

/** A number as a CSV field writes it (after trimming). */
export const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A DATASET_INVALID error naming the CSV file. */
export function invalid(file: string, message: string, details: Record<string, unknown>): DistilleryError {
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
