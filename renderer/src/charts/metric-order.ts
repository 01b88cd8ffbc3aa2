/**
 * The order of a task's charts. Names seen together are ranked (loss first, then the epoch loss,
 * then the rest, validation metrics last); names that arrive later go after every name already
 * shown, so a chart never moves once it is on screen.
 */

/** Where a metric sorts among names that arrive together. */
export function metricRank(name: string): number {
  if (name === 'loss') return 0;
  if (name === 'epoch_loss') return 1;
  return name.startsWith('val_') ? 3 : 2;
}

/** Orders names that arrive together: by rank, then alphabetically. */
export function rankMetrics(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => metricRank(a) - metricRank(b) || a.localeCompare(b));
}

/**
 * `known` unchanged, followed by the names of `names` it lacks, ranked among themselves. Returns
 * `known` itself when nothing is new, so a caller can tell by identity.
 */
export function appendMetricNames(known: readonly string[], names: Iterable<string>): readonly string[] {
  const seen = new Set(known);
  const fresh = [...names].filter((name) => !seen.has(name));
  if (fresh.length === 0) return known;
  return [...known, ...rankMetrics(new Set(fresh))];
}
