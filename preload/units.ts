/**
 * How quantities read, the same in the terminal and in the workbench: sizes in binary units
 * (B, KiB, MiB, GiB — never "MB" for 2^20 bytes), durations and ETAs always with a unit, accuracies
 * as percentages with two decimals, counts with thousands separators. Pure functions, no locale
 * lookup (the output must not depend on the machine's language), imported by the CLI
 * (main/cli/) and by the renderer alike.
 */

/** What a value that is absent or not a finite number reads as. */
export const NO_VALUE = '—';

const BINARY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * Bytes in binary units: "512 B", "12.3 KiB", "1.0 MiB", "4.21 GiB" (two decimals from GiB on,
 * where one would hide hundreds of MiB).
 */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return NO_VALUE;
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  if (value < 1024) return `${sign}${Math.round(value)} B`;
  let unit = -1;
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // 1023.96 KiB would print as "1024.0 KiB": carry it into the next unit instead.
  const decimals = unit >= 2 ? 2 : 1;
  if (Number(value.toFixed(decimals)) >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${sign}${value.toFixed(unit >= 2 ? 2 : 1)} ${BINARY_UNITS[unit]}`;
}

/**
 * A duration with its unit: "0.4s", "4.2s" below ten seconds, "42s", "3m05s", "1h02m", "2d03h".
 * The same spelling as the charts' time axis.
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return NO_VALUE;
  const s = Math.max(0, seconds);
  if (s < 9.95) return `${s.toFixed(1)}s`;
  const whole = Math.round(s);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${String(whole % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

/** Time left, with its unit, in whole seconds ("4s", "42s", "3m05s"); "—" while unknown. */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return NO_VALUE;
  const whole = Math.max(0, Math.round(seconds));
  return whole < 10 ? `${whole}s` : formatDuration(whole);
}

/** A fraction as a percentage with two decimals: 0.97352 → "97.35%". */
export function formatPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return NO_VALUE;
  // -0.00% reads as a sign error.
  const text = (fraction * 100).toFixed(2);
  return `${text === '-0.00' ? '0.00' : text}%`;
}

/** Accuracy (a fraction of examples right) in the one format every view uses: a percentage. */
export const formatAccuracy = formatPercent;

/** Integers with thousands separators: 1234567 → "1,234,567"; other numbers keep their decimals. */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NO_VALUE;
  const [whole, fraction] = Math.abs(value).toString().split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${value < 0 ? '-' : ''}${grouped}${fraction ? `.${fraction}` : ''}`;
}

/** A count for tight places, three significant digits with K / M / B: 1234567 → "1.23M". */
export function formatCompactCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NO_VALUE;
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(2)}B`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}K`;
  return formatCount(value);
}

/** Whether a metric is an accuracy-like fraction: `accuracy`, `val_accuracy`, `onnx_agreement`, … */
export function isFractionMetric(name: string): boolean {
  return /(^|_)(accuracy|agreement)(_|$)/.test(name) || name === 'sparsity' || name.endsWith('_sparsity');
}

/** Four significant digits; exponent form for very small or very large values; integers grouped. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return value === null || value === undefined ? NO_VALUE : String(value);
  }
  const abs = Math.abs(value);
  if (Number.isInteger(value) && abs < 1e15) return formatCount(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return Number(value.toPrecision(4)).toString();
}

/**
 * A metric by its name: accuracies (and agreement, sparsity) as percentages, `*_bytes` as sizes,
 * `*_seconds` as durations, anything else with four significant digits.
 */
export function formatMetricValue(name: string, value: number | null | undefined): string {
  if (value === null || value === undefined) return NO_VALUE;
  if (isFractionMetric(name)) return formatPercent(value);
  if (name.endsWith('_bytes') || name === 'bytes') return formatBytes(value);
  if (name.endsWith('_seconds')) return formatDuration(value);
  return formatNumber(value);
}
