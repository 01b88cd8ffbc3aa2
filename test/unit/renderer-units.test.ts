/** The renderer's formatters give the CLI's text (both come from preload/units.ts). */
import { describe, expect, it } from 'vitest';
import { formatBytes, formatEta, formatPercent } from '../../preload/units';
import {
  formatCount as chartCount,
  formatEta as chartEta,
  formatMetric,
  formatPercent as chartPercent,
} from '../../renderer/src/charts/format';
import { formatBytes as statusBytes } from '../../renderer/src/stores/system';

describe('renderer formatters', () => {
  it('read as the CLI prints', () => {
    expect(chartEta(185)).toBe(formatEta(185));
    expect(chartEta(185)).toBe('3m05s');
    expect(chartEta(null)).toBe('—');
    expect(chartPercent(0.9735)).toBe(formatPercent(0.9735));
    expect(chartPercent(undefined)).toBe('—');
    expect(chartCount(1_234_567)).toBe('1.23M');
    expect(formatMetric(0.123456)).toBe('0.1235');
    expect(formatMetric(60_000)).toBe('60,000');
  });

  it('write sizes in KiB / MiB / GiB, never KB / MB', () => {
    expect(statusBytes(16 * 1024 ** 3)).toBe(formatBytes(16 * 1024 ** 3));
    expect(statusBytes(16 * 1024 ** 3)).toBe('16.00 GiB');
    expect(statusBytes(431_104)).toBe('421.0 KiB');
    expect(statusBytes(5_000_000)).not.toMatch(/MB/);
  });
});
