/**
 * The registry as researchers read it, as pure functions: registered models (one per name) with
 * their best test accuracy, the untrained initialisations that `model.*` nodes register kept out of
 * the way by default (they stay in lineage), and a version's metrics grouped by the split they
 * were measured on.
 */
import type {
  MetricSplit,
  ModelVersionInfo,
  RegisteredModelInfo,
  VersionMetricInfo,
} from '../../../preload/contract';

/** A registered model as the registry table lists it. */
export interface RegisteredRow extends RegisteredModelInfo {
  /** Best test accuracy among its versions, when an evaluation measured one. */
  bestAccuracy: number | undefined;
  /** Its versions are untrained initialisations (made by a node of category `model`). */
  untrained: boolean;
}

/** A version's accuracy on the test split: an evaluation's, else its legacy `metrics.accuracy`. */
export function testAccuracy(
  version: Pick<ModelVersionInfo, 'metrics' | 'metricRecords'>,
): number | undefined {
  const record = [...version.metricRecords]
    .reverse()
    .find((entry) => entry.name === 'accuracy' && entry.split === 'test');
  if (record) return record.value;
  const legacy = version.metrics.accuracy ?? version.metrics.test_accuracy;
  return typeof legacy === 'number' ? legacy : undefined;
}

/**
 * The registered models with their best test accuracy, filtered by every word of `query` (name,
 * description, alias, node type); untrained initialisations only when `showUntrained`.
 */
export function registeredRows(
  registered: readonly RegisteredModelInfo[],
  versions: readonly ModelVersionInfo[],
  category: (nodeType: string) => string | undefined,
  query: string,
  showUntrained: boolean,
): RegisteredRow[] {
  const best = new Map<string, number>();
  for (const version of versions) {
    const accuracy = testAccuracy(version);
    if (accuracy === undefined) continue;
    best.set(version.name, Math.max(best.get(version.name) ?? Number.NEGATIVE_INFINITY, accuracy));
  }
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return registered
    .map((model) => ({
      ...model,
      bestAccuracy: best.get(model.name),
      untrained: model.nodeType !== null && category(model.nodeType) === 'model',
    }))
    .filter((row) => showUntrained || !row.untrained)
    .filter((row) => {
      const haystack = [row.name, row.description, row.nodeType ?? '', row.kind, ...Object.keys(row.aliases)]
        .join(' ')
        .toLowerCase();
      return words.every((word) => haystack.includes(word));
    });
}

/** How many registered models are untrained initialisations (hidden by default). */
export function untrainedCount(
  registered: readonly RegisteredModelInfo[],
  category: (nodeType: string) => string | undefined,
): number {
  return registered.filter((model) => model.nodeType !== null && category(model.nodeType) === 'model').length;
}

/** The order splits are shown in, and their labels. */
export const SPLITS: ReadonlyArray<{ split: MetricSplit | null; title: string }> = [
  { split: 'test', title: 'Test' },
  { split: 'validation', title: 'Validation' },
  { split: 'train', title: 'Train' },
  { split: null, title: 'Other' },
];

/** A version's metric records grouped by split (test, validation, train, other), empty groups left out. */
export function metricsBySplit(
  records: readonly VersionMetricInfo[],
): Array<{ split: MetricSplit | null; title: string; records: VersionMetricInfo[] }> {
  return SPLITS.map(({ split, title }) => ({
    split,
    title,
    records: records
      .filter((record) => record.split === split)
      .sort((a, b) => a.name.localeCompare(b.name) || a.recordedAt.localeCompare(b.recordedAt)),
  })).filter((group) => group.records.length > 0);
}
