/**
 * What a consumer of an exported classifier must do to raw input before calling it, declared once
 * here and written by every exporter (the tfjs export's distillery.json `preprocessing`, the ONNX
 * file's `preprocessing` metadata). A model learns it from the dataset it was trained on: the
 * train, distill and prune ops record `preprocessingOfDataset(...)` in the model's meta, and every
 * op after them (quantize, merge, …) carries the meta on. Pure: no fs, no tfjs.
 */

/** How raw values become the model's input. */
export type InputScaling =
  /** uint8 pixels 0…255, divided by 255 (values 0…1). */
  | 'divide-by-255'
  /** Each feature standardised with the training split's statistics: (value − mean) / std. */
  | 'standardize'
  /** Values go in as they are. */
  | 'none';

export interface Preprocessing {
  /** Where this description comes from: the training dataset, or only the model's input shape. */
  source: 'dataset' | 'input-shape';
  /** One example, without the batch dimension: [height, width, channels] or [features]. */
  inputShape: number[];
  /** `NHWC` images (channels last, as tfjs takes them) or a row of `features`. */
  layout: 'NHWC' | 'features';
  dtype: 'float32';
  scaling: InputScaling;
  /** For `standardize`: per feature, in input order. */
  mean?: number[];
  std?: number[];
  /** Column names of a CSV dataset, in input order. */
  featureNames?: string[];
  /** The output's classes, in order (index i of the probabilities is classNames[i]). */
  classNames: string[];
  /** The whole recipe in one line, for people. */
  formula: string;
}

/** The parts of a dataset (its manifest and the dataset task's artifact meta) that decide preprocessing. */
export interface DatasetFacts {
  inputShape: number[];
  classNames: string[];
  image: boolean;
  /** dtype of the stored examples of each split (`uint8` pixels are divided by 255 when read). */
  splits: Partial<Record<string, { xDtype: string }>>;
  /** The artifact meta of the dataset task (dataset.csv puts its standardisation statistics there). */
  artifactMeta?: Record<string, unknown>;
}

function numbers(value: unknown): number[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'number') ? value : undefined;
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined;
}

function formulaOf(scaling: InputScaling, layout: Preprocessing['layout']): string {
  const order =
    layout === 'NHWC' ? 'float32 [batch, height, width, channels], row-major' : 'float32 [batch, features]';
  switch (scaling) {
    case 'divide-by-255':
      return `x = pixel / 255 (0…1), ${order}`;
    case 'standardize':
      return `x[i] = (value[i] − mean[i]) / std[i] for each feature i, ${order}`;
    case 'none':
      return `values as they are, ${order}`;
  }
}

/** The preprocessing of a model trained on `dataset` (train, distill and prune record it). */
export function preprocessingOfDataset(dataset: DatasetFacts): Preprocessing {
  const layout: Preprocessing['layout'] = dataset.inputShape.length === 3 ? 'NHWC' : 'features';
  const stored = Object.values(dataset.splits).map((split) => split?.xDtype);
  const standardization = dataset.artifactMeta?.standardization as
    { mean?: unknown; std?: unknown } | undefined;
  const mean = numbers(standardization?.mean);
  const std = numbers(standardization?.std);
  const featureNames = strings(dataset.artifactMeta?.featureNames);
  let scaling: InputScaling = 'none';
  if (stored.includes('uint8')) scaling = 'divide-by-255';
  else if (mean && std) scaling = 'standardize';
  const result: Preprocessing = {
    source: 'dataset',
    inputShape: [...dataset.inputShape],
    layout,
    dtype: 'float32',
    scaling,
    classNames: [...dataset.classNames],
    formula: formulaOf(scaling, layout),
  };
  if (scaling === 'standardize') {
    result.mean = mean;
    result.std = std;
  }
  if (featureNames) result.featureNames = featureNames;
  return result;
}

function isPreprocessing(value: unknown): value is Preprocessing {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Preprocessing>;
  return (
    Array.isArray(candidate.inputShape) &&
    typeof candidate.scaling === 'string' &&
    Array.isArray(candidate.classNames) &&
    typeof candidate.formula === 'string'
  );
}

/**
 * The preprocessing of a classifier from its meta (distillery.json): what its training recorded,
 * or, for a model that never saw a dataset through train (an untrained initialisation, a model
 * from before preprocessing was recorded), what its input shape implies: images of the packaged
 * datasets are pixels / 255, rows of features go in as they are.
 */
export function preprocessingOfModel(
  meta: Record<string, unknown> | undefined,
  fallbackInputShape: number[] = [],
): Preprocessing {
  if (isPreprocessing(meta?.preprocessing)) return meta.preprocessing;
  const inputShape = numbers(meta?.inputShape) ?? fallbackInputShape;
  const layout: Preprocessing['layout'] = inputShape.length === 3 ? 'NHWC' : 'features';
  const scaling: InputScaling = layout === 'NHWC' ? 'divide-by-255' : 'none';
  return {
    source: 'input-shape',
    inputShape: [...inputShape],
    layout,
    dtype: 'float32',
    scaling,
    classNames: strings(meta?.classNames) ?? [],
    formula: formulaOf(scaling, layout),
  };
}
