/**
 * Which split a task's metric was measured on, for the registry's labels (train / validation /
 * test): `val_*` metrics on the validation split; any other metric of a node with a `split` param
 * (evaluate, quantize, merge) on that split; the training metrics of a training node on the
 * training batches. Other figures (sparsity, sizes, counts) belong to no split.
 */
import type { MetricSplit } from '../../preload/contract';

/** Metrics a training op reports from its training batches. */
const TRAINING_METRICS: ReadonlySet<string> = new Set(['loss', 'accuracy', 'epoch_loss', 'agreement']);

const SPLITS: Readonly<Record<string, MetricSplit>> = {
  train: 'train',
  validation: 'validation',
  test: 'test',
};

/** The split of metric `name` reported by a task with these resolved params; null when none. */
export function metricSplit(params: Record<string, unknown>, name: string): MetricSplit | null {
  if (name.startsWith('val_') || name.startsWith('averaged_val_')) return 'validation';
  const split = typeof params.split === 'string' ? SPLITS[params.split] : undefined;
  if (split) return split;
  return TRAINING_METRICS.has(name) ? 'train' : null;
}
