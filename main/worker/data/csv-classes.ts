/**
 * The classes of a CSV's labels: integer labels as the classes themselves, any other labels as
 * sorted class names; and the splits' labels mapped to class indices.
 */
import { invalid, NUMBER } from './csv-parse';
import { labelDetails, labelPlace, type RawSplit } from './csv-rows';
import type { SplitData } from './dataset-file';
import { integerLabelClasses, type LabelSource } from './labels';
import { formatCount, MAX_CLASSES } from './limits';

const INTEGER_LABEL = /^\+?\d+(?:\.0*)?$/;

/** The classes of a CSV's labels, how to map a label to its class, and facts worth a warning. */
export interface CsvClasses {
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
export function csvClasses(raws: RawSplit[], knownNames?: string[]): CsvClasses {
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

/** The split with its labels mapped to class indices. */
export function toSplit(raw: RawSplit, indexOf: (label: string) => number): SplitData {
  const y = new Int32Array(raw.count);
  for (let i = 0; i < raw.count; i++) y[i] = indexOf(raw.labels[i]!);
  return { count: raw.count, x: raw.features, y };
}
