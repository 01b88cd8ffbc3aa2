/**
 * The one formatting module of the CLI and the workbench (preload/units.ts), and that the CLI's
 * tables use it (renderer-units.test.ts checks the renderer's side).
 */
import { describe, expect, it } from 'vitest';
import { bytes, count, duration, modelsTable } from '../../main/cli/format';
import type { ModelVersionInfo } from '../../preload/contract';
import {
  formatAccuracy,
  formatBytes,
  formatCompactCount,
  formatCount,
  formatDuration,
  formatEta,
  formatMetricValue,
  formatNumber,
  formatPercent,
  isFractionMetric,
  NO_VALUE,
} from '../../preload/units';

describe('formatBytes', () => {
  it('uses binary units with their IEC names', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(431_104)).toBe('421.0 KiB');
    expect(formatBytes(1_066_440)).toBe('1.0 MiB');
    expect(formatBytes(5 * 1024 ** 2 + 300 * 1024)).toBe('5.3 MiB');
    expect(formatBytes(4.21 * 1024 ** 3)).toBe('4.21 GiB');
    expect(formatBytes(3 * 1024 ** 4)).toBe('3.00 TiB');
    expect(formatBytes(-2048)).toBe('-2.0 KiB');
  });

  it('carries a value that rounds up to 1024 into the next unit', () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe('1.0 MiB');
    expect(formatBytes(1024 ** 3 - 1)).toBe('1.00 GiB');
  });

  it('never writes decimal-prefix names', () => {
    for (const n of [1e3, 1e6, 1e9, 123_456_789]) expect(formatBytes(n)).not.toMatch(/\b[KMG]B\b/);
  });

  it('says "—" for what is not a size', () => {
    expect(formatBytes(Number.NaN)).toBe(NO_VALUE);
    expect(formatBytes(undefined)).toBe(NO_VALUE);
    expect(formatBytes(null)).toBe(NO_VALUE);
  });
});

describe('formatDuration and formatEta', () => {
  it('always name the unit', () => {
    expect(formatDuration(0.42)).toBe('0.4s');
    expect(formatDuration(4.25)).toBe('4.3s');
    expect(formatDuration(9.96)).toBe('10s');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(3 * 86_400 + 4 * 3600)).toBe('3d04h');
    expect(formatDuration(-3)).toBe('0.0s');
    expect(formatDuration(null)).toBe(NO_VALUE);
  });

  it('give an ETA in whole seconds, "—" while unknown', () => {
    expect(formatEta(3.4)).toBe('3s');
    expect(formatEta(42.6)).toBe('43s');
    expect(formatEta(185)).toBe('3m05s');
    expect(formatEta(null)).toBe(NO_VALUE);
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe(NO_VALUE);
    for (const seconds of [0, 1, 59, 61, 3599, 3601, 90_000]) expect(formatEta(seconds)).toMatch(/[smhd]$/);
  });
});

describe('percentages, counts and numbers', () => {
  it('write accuracies as percentages with two decimals', () => {
    expect(formatAccuracy(0.97352)).toBe('97.35%');
    expect(formatPercent(1)).toBe('100.00%');
    expect(formatPercent(0)).toBe('0.00%');
    expect(formatPercent(-0.00001)).toBe('0.00%');
    expect(formatPercent(undefined)).toBe(NO_VALUE);
  });

  it('group integers by thousands and keep decimals', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1000)).toBe('1,000');
    expect(formatCount(1_234_567)).toBe('1,234,567');
    expect(formatCount(-50_890)).toBe('-50,890');
    expect(formatCount(12_345.5)).toBe('12,345.5');
    expect(formatCompactCount(9_999)).toBe('9,999');
    expect(formatCompactCount(50_890)).toBe('50.9K');
    expect(formatCompactCount(1_234_567)).toBe('1.23M');
    expect(formatCompactCount(2e9)).toBe('2.00B');
  });

  it('formats other values to four significant digits', () => {
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(12_000)).toBe('12,000');
    expect(formatNumber(0.0000123)).toBe('1.23e-5');
    expect(formatNumber(123_456.7)).toBe('1.23e+5');
  });

  it('formats a metric by its name', () => {
    expect(isFractionMetric('accuracy')).toBe(true);
    expect(isFractionMetric('val_accuracy')).toBe(true);
    expect(isFractionMetric('onnx_accuracy')).toBe(true);
    expect(isFractionMetric('agreement')).toBe(true);
    expect(isFractionMetric('accuracy_pruned')).toBe(true);
    expect(isFractionMetric('loss')).toBe(false);
    expect(isFractionMetric('inaccuracy_count')).toBe(false);
    expect(formatMetricValue('val_accuracy', 0.9812)).toBe('98.12%');
    expect(formatMetricValue('loss', 0.0734219)).toBe('0.07342');
    expect(formatMetricValue('size_bytes', 431_104)).toBe('421.0 KiB');
    expect(formatMetricValue('train_seconds', 185)).toBe('3m05s');
    expect(formatMetricValue('loss', undefined)).toBe(NO_VALUE);
  });
});

describe('one module for the CLI and the workbench', () => {
  it('the CLI formats sizes, counts and durations with it', () => {
    expect(bytes(431_104)).toBe(formatBytes(431_104));
    expect(count(60_000)).toBe('60,000');
    expect(duration(185)).toBe(formatDuration(185));
  });

  it('the CLI prints accuracy as a percentage and sizes in KiB', () => {
    const model: ModelVersionInfo = {
      id: 'mv_1',
      name: 'mnist-mlp/fit',
      version: 2,
      kind: 'classifier',
      framework: 'tfjs',
      backend: 'wasm',
      createdAt: '2026-01-02T03:04:05.000Z',
      aliases: [],
      metrics: { accuracy: 0.9355, loss: 0.2 },
      params: {},
      paramCount: 266_610,
      nonZeroParams: 266_610,
      sizeBytes: 1_066_440,
      nodeType: 'train',
      runId: 'r1',
      taskId: 't1',
      meta: {},
      metricRecords: [],
    };
    const text = modelsTable([model]);
    expect(text).toContain('93.55%');
    expect(text).toContain('1.0 MiB');
    expect(text).toContain('266,610');
    expect(text).not.toMatch(/0\.9355/);
  });
});
