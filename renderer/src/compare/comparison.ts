/**
 * Comparing runs (or a sweep's trials) by their params and final metrics, as pure functions: the
 * entries compared, the axes of a parallel-coordinates chart (value, log or category), the top-k%
 * by an objective, the ECharts option that draws them, and the hparams table as CSV. The
 * comparison view (RunComparison.vue) is built on these; so is any list of "runs with params and
 * final metrics".
 */

/** One run or trial compared: what it was run with and what it scored. */
export interface ComparisonEntry {
  id: string;
  label: string;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
}

/** A column of the comparison: a param or a metric, by key (`fit.epochs`, `score.accuracy`). */
export interface ComparisonColumn {
  kind: 'param' | 'metric';
  key: string;
}

/** One axis of the parallel coordinates. */
export interface ParallelAxis extends ComparisonColumn {
  /** `log` only where every value is positive; `category` for names, lists and flags. */
  type: 'value' | 'log' | 'category';
  /** The names of a category axis, in order. */
  categories?: string[];
}

function valueOf(entry: ComparisonEntry, column: ComparisonColumn): unknown {
  return column.kind === 'metric' ? entry.metrics[column.key] : entry.params[column.key];
}

function categoryOf(value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  return String(value);
}

function numbersOf(entries: readonly ComparisonEntry[], column: ComparisonColumn): number[] | null {
  const numbers: number[] = [];
  for (const entry of entries) {
    const value = valueOf(entry, column);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) return null;
    numbers.push(value);
  }
  return numbers;
}

/** Whether a log axis can show a column: every value a positive number. */
export function canBeLog(entries: readonly ComparisonEntry[], column: ComparisonColumn): boolean {
  const numbers = numbersOf(entries, column);
  return !!numbers && numbers.length > 0 && numbers.every((value) => value > 0);
}

/** The columns that read better on a log axis: positive numbers spanning at least a factor of 100. */
export function suggestLogColumns(
  entries: readonly ComparisonEntry[],
  columns: readonly ComparisonColumn[],
): Set<string> {
  const keys = new Set<string>();
  for (const column of columns) {
    if (!canBeLog(entries, column)) continue;
    const numbers = numbersOf(entries, column)!;
    if (Math.max(...numbers) / Math.min(...numbers) >= 100) keys.add(column.key);
  }
  return keys;
}

/** Axes for `columns`: numbers on value (or, when asked and possible, log) axes, the rest as categories. */
export function parallelAxes(
  entries: readonly ComparisonEntry[],
  columns: readonly ComparisonColumn[],
  logKeys: ReadonlySet<string>,
): ParallelAxis[] {
  return columns.map((column) => {
    if (numbersOf(entries, column)) {
      return { ...column, type: logKeys.has(column.key) && canBeLog(entries, column) ? 'log' : 'value' };
    }
    const categories = [
      ...new Set(
        entries.flatMap((entry) => {
          const value = valueOf(entry, column);
          return value === undefined ? [] : [categoryOf(value)];
        }),
      ),
    ].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    return { ...column, type: 'category', categories };
  });
}

/** Whether lower is better for a metric: losses and errors. */
export function lowerIsBetter(metric: string): boolean {
  return /loss|error|latency|bytes/.test(metric);
}

/**
 * The ids of the best `percent` % of the entries by `metric` (at least one), best first; entries
 * without the metric are never among them. 100 keeps every entry that has it.
 */
export function topEntries(
  entries: readonly ComparisonEntry[],
  metric: string,
  direction: 'min' | 'max',
  percent: number,
): string[] {
  const scored = entries.filter((entry) => Number.isFinite(entry.metrics[metric]));
  const sign = direction === 'min' ? 1 : -1;
  scored.sort((a, b) => sign * (a.metrics[metric]! - b.metrics[metric]!));
  const keep = Math.max(1, Math.ceil((scored.length * Math.min(100, Math.max(0, percent))) / 100));
  return scored.slice(0, scored.length === 0 ? 0 : keep).map((entry) => entry.id);
}

/** One line of the parallel coordinates: an entry's value on every axis (null where it has none). */
export function parallelRow(
  entry: ComparisonEntry,
  axes: readonly ParallelAxis[],
): Array<number | string | null> {
  return axes.map((axis) => {
    const value = valueOf(entry, axis);
    if (value === undefined) return null;
    return axis.type === 'category' ? categoryOf(value) : (value as number);
  });
}

/** Colours of the lines, by entry position; shared with the small multiples. */
export const COMPARISON_PALETTE = [
  '#4f6bed',
  '#ea7a1b',
  '#16a34a',
  '#db2777',
  '#0d9488',
  '#9b5de5',
  '#d97706',
  '#0ea5e9',
  '#64748b',
  '#e11d48',
];

/**
 * The ECharts option of a parallel-coordinates chart (`parallel` coordinate system, one `parallel`
 * series): every entry a line, those outside `highlighted` (the top-k%) faded, coloured by entry.
 */
export function parallelOption(
  entries: readonly ComparisonEntry[],
  axes: readonly ParallelAxis[],
  highlighted: ReadonlySet<string> | null,
  theme: { text: string; muted: string; line: string },
): Record<string, unknown> {
  return {
    animation: false,
    parallel: {
      left: 60,
      right: 90,
      top: 50,
      bottom: 30,
      parallelAxisDefault: {
        nameLocation: 'end',
        nameGap: 16,
        nameTextStyle: { color: theme.text, fontSize: 11 },
        axisLine: { lineStyle: { color: theme.line } },
        axisLabel: { color: theme.muted, fontSize: 10 },
        splitLine: { show: false },
      },
    },
    parallelAxis: axes.map((axis, index) => ({
      dim: index,
      name: axis.key,
      type: axis.type,
      ...(axis.type === 'category' ? { data: axis.categories } : { scale: true }),
    })),
    tooltip: { trigger: 'item' },
    series: [
      {
        type: 'parallel',
        smooth: false,
        lineStyle: { width: 2, opacity: 0.9 },
        emphasis: { lineStyle: { width: 4, opacity: 1 } },
        data: entries.map((entry, index) => {
          const faded = highlighted !== null && !highlighted.has(entry.id);
          return {
            name: entry.label,
            value: parallelRow(entry, axes),
            lineStyle: {
              color: COMPARISON_PALETTE[index % COMPARISON_PALETTE.length],
              opacity: faded ? 0.12 : 0.9,
              width: faded ? 1 : 2,
            },
          };
        }),
      },
    ],
  };
}

function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = Array.isArray(value)
    ? value.join(' ')
    : typeof value === 'string'
      ? value
      : JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The hparams table (entry × params and final metrics) as CSV, RFC 4180 quoting. */
export function comparisonCsv(
  entries: readonly ComparisonEntry[],
  columns: readonly ComparisonColumn[],
): string {
  const lines = [['run', 'label', ...columns.map((column) => column.key)].map(csvCell).join(',')];
  for (const entry of entries)
    lines.push(
      [entry.id, entry.label, ...columns.map((column) => valueOf(entry, column))].map(csvCell).join(','),
    );
  return `${lines.join('\n')}\n`;
}
