/**
 * Early-stopping bookkeeping for the training loop: which metric is monitored, whether an epoch
 * improved on the best so far, and when patience has run out. The state lives in the loop's
 * checkpoint (`EarlyStoppingState`), so a resumed run stops exactly where the uninterrupted one would.
 */
import type { Monitor } from '../../nodes/shared-params';
import type { EarlyStoppingState, EpochRecord } from './checkpoint';

export interface EarlyStoppingConfig {
  /** Stop after `patience` epochs in a row without improvement. */
  enabled: boolean;
  monitor: Monitor;
  patience: number;
  /** An improvement must exceed this (absolute) amount. */
  minDelta: number;
  /** At the end, put back the weights of the best epoch. */
  restoreBest: boolean;
}

export function initialEarlyStopping(): EarlyStoppingState {
  return { best: null, bestEpoch: 0, badEpochs: 0, stopped: false, bestWeights: null };
}

/**
 * The metric actually monitored: a val_ metric falls back to the training one without validation
 * data (with a warning through `warn` when early stopping or restoring the best weights uses it).
 */
export function effectiveMonitor(
  config: EarlyStoppingConfig,
  hasValidation: boolean,
  warn: (message: string) => void,
): Monitor {
  const monitor = config.monitor;
  if (!monitor.startsWith('val_') || hasValidation) return monitor;
  const fallback: Monitor = monitor === 'val_loss' ? 'loss' : 'accuracy';
  if (config.enabled) warn(`No validation data: early stopping monitors ${fallback} instead of ${monitor}`);
  return fallback;
}

function isBetter(monitor: Monitor, value: number, best: number | null, minDelta: number): boolean {
  if (best === null) return true;
  return monitor.endsWith('loss') ? value < best - minDelta : value > best + minDelta;
}

/**
 * Updates `state` with an epoch's record: `improved` when the monitored value beat the best,
 * `stopped` when patience has just run out, `worse` otherwise, `skipped` when the record has no
 * finite value for the monitor (the state is then unchanged).
 */
export function updateEarlyStopping(
  state: EarlyStoppingState,
  config: EarlyStoppingConfig,
  monitor: Monitor,
  record: EpochRecord,
): 'improved' | 'worse' | 'stopped' | 'skipped' {
  const value = record[monitor];
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'skipped';
  if (isBetter(monitor, value, state.best, config.minDelta)) {
    state.best = value;
    state.bestEpoch = record.epoch;
    state.badEpochs = 0;
    return 'improved';
  }
  state.badEpochs += 1;
  if (config.enabled && state.badEpochs >= config.patience) {
    state.stopped = true;
    return 'stopped';
  }
  return 'worse';
}
