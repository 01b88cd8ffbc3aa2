/**
 * The rule for numeric class labels, shared by the IDX and CSV loaders: labels are the class
 * indices 0..K-1, K is at most MAX_CLASSES, and every class has at least one example in the data
 * (all of its files together). A label that leaves a gap (all labels `1`, so class 0 is empty; a
 * stray 255 among 0..9, which would make 246 empty classes) is refused, since a classifier would
 * silently get output units that nothing teaches. Classes the user declared by name may be absent;
 * the loader then only warns.
 */
import { DistilleryError } from '../../base/errors';
import { formatCount, MAX_CLASSES } from './limits';

/** One file's labels, and how to name the place of one of them in a message. */
export interface LabelSource {
  file: string;
  labels: ArrayLike<number>;
  /** "row 12, column 5 (\"target\")", "label 1234": where label `index` of this file is. */
  locate: (index: number) => string;
  /** Extra error details for label `index` (row, column, …). */
  details?: (index: number) => Record<string, unknown>;
}

/** What the labels give: the class count and the classes without any example. */
export interface LabelClasses {
  numClasses: number;
  /** How many examples of each class 0..numClasses-1 all sources hold. */
  counts: number[];
  /** Classes with no example (only non-empty when the classes were declared). */
  missing: number[];
}

/** "3", "3, 7", "10..254", "0, 4..6, 9": sorted class indices as short ranges. */
export function describeClasses(classes: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < classes.length;) {
    let j = i;
    while (j + 1 < classes.length && classes[j + 1] === classes[j]! + 1) j += 1;
    parts.push(j === i ? String(classes[i]) : `${classes[i]}..${classes[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/**
 * Checks integer labels against the rule in the file comment and counts the classes. `declared`
 * is the number of classes named by the user (or by the file), when there are names; `hint` is
 * appended to the refusal of a gap (how to declare classes, where the node can).
 */
export function integerLabelClasses(
  sources: LabelSource[],
  options: { declared?: number; hint?: string } = {},
): LabelClasses {
  let max = -1;
  let maxSource: LabelSource | undefined;
  let maxIndex = 0;
  for (const source of sources) {
    const { labels } = source;
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      if (label >= MAX_CLASSES) {
        // Refused before anything (class names, histograms, output units) is sized by it.
        throw new DistilleryError(
          'DATASET_INVALID',
          `${source.file}: ${source.locate(i)}: label ${label} is above the limit of ${formatCount(MAX_CLASSES)} classes (labels 0..${MAX_CLASSES - 1})`,
          {
            file: source.file,
            ...source.details?.(i),
            expected: `a class index 0..${MAX_CLASSES - 1}`,
            received: label,
          },
        );
      }
      if (label > max) {
        max = label;
        maxSource = source;
        maxIndex = i;
      }
    }
  }
  const numClasses = Math.max(max + 1, options.declared ?? 0);
  const counts = new Array<number>(numClasses).fill(0);
  for (const { labels } of sources) for (let i = 0; i < labels.length; i++) counts[labels[i]!]! += 1;
  const missing: number[] = [];
  counts.forEach((count, label) => {
    if (count === 0) missing.push(label);
  });
  if (missing.length > 0 && options.declared === undefined && maxSource !== undefined) {
    const noun = missing.length === 1 ? 'class' : 'classes';
    const verb = missing.length === 1 ? 'has' : 'have';
    throw new DistilleryError(
      'DATASET_INVALID',
      `${maxSource.file}: ${noun} ${describeClasses(missing)} ${verb} no example; numeric labels must be ` +
        `0..${numClasses - 1} with every class present (the largest label, ${max}, is at ` +
        `${maxSource.locate(maxIndex)})${options.hint ? `; ${options.hint}` : ''}`,
      {
        file: maxSource.file,
        ...maxSource.details?.(maxIndex),
        expected: `labels 0..${numClasses - 1} with every class present`,
        received: `no example of ${noun} ${describeClasses(missing)}`,
      },
    );
  }
  return { numClasses, counts, missing };
}
