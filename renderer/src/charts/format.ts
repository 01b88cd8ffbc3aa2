/**
 * Number formatting for chart axes, tooltips and tables. Sizes, durations, percentages and counts
 * come from preload/units.ts, which the CLI uses too, so a figure reads the same in both.
 */
import {
  formatCompactCount,
  formatEta as formatTimeLeft,
  formatNumber,
  formatPercent as percent,
} from '../../../preload/units';

/** Four significant digits; exponent form for very small or very large values. */
export function formatMetric(value: number): string {
  return formatNumber(value);
}

/** 1,234,567 → "1.23M". */
export function formatCount(value: number): string {
  return formatCompactCount(value);
}

/** A fraction as a percentage with two decimals ("97.35%"); "—" when absent. */
export function formatPercent(value: number | undefined): string {
  return percent(value);
}

/** "2 min ago", "yesterday", else a date. */
export function formatRelative(iso: string | null, now = Date.now()): string {
  if (!iso) return '—';
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const seconds = Math.round(ms / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const date = new Date(iso);
  return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric', year: 'numeric' });
}

export function formatDateTime(iso: string | null): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return date.toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** Time left with its unit ("42s", "3m05s"), as the CLI prints it; "—" while unknown. */
export function formatEta(seconds: number | null | undefined): string {
  return formatTimeLeft(seconds);
}
