/**
 * The log pane's filters as pure functions: which lines a level and a text query let through, and
 * what the pane's count and empty state say about them, so both follow the filters in force.
 */
import type { LogLine } from '../../../preload/contract';

/** Lines drawn at most; older matching lines are counted but not drawn. */
export const LOG_LINES_SHOWN = 1500;

/** `warn` keeps warnings and errors; `error` only errors. */
export type LogLevelFilter = 'all' | 'warn' | 'error';

export interface LogFilter {
  level: LogLevelFilter;
  /** Case-insensitive text a line's message must contain; blank for any. */
  query: string;
}

export function isFiltering(filter: LogFilter): boolean {
  return filter.level !== 'all' || filter.query.trim() !== '';
}

/** The lines the filter lets through, in order. */
export function filterLogLines(lines: readonly LogLine[], filter: LogFilter): LogLine[] {
  const query = filter.query.trim().toLowerCase();
  return lines.filter(
    (line) =>
      (filter.level === 'all' ||
        line.level === 'error' ||
        (filter.level === 'warn' && line.level === 'warn')) &&
      (!query || line.message.toLowerCase().includes(query)),
  );
}

const count = (n: number) => n.toLocaleString('en-US');

/** "12 lines"; "3 of 120 lines" while a filter is on; "· newest 1,500 shown" when cut. */
export function logCountText(total: number, matching: number, filter: LogFilter): string {
  const noun = total === 1 ? 'line' : 'lines';
  const head = isFiltering(filter)
    ? `${count(matching)} of ${count(total)} ${noun}`
    : `${count(total)} ${noun}`;
  return matching > LOG_LINES_SHOWN ? `${head} · newest ${count(LOG_LINES_SHOWN)} shown` : head;
}

/** What an empty pane says: no lines at all yet, or none that the filters let through. */
export function logEmptyText(total: number, filter: LogFilter): string {
  if (total === 0) return 'No log lines yet.';
  const query = filter.query.trim();
  const what =
    filter.level === 'error' ? 'No errors' : filter.level === 'warn' ? 'No warnings or errors' : 'No lines';
  return query
    ? `${what} matching “${query}”.`
    : `${what} in ${count(total)} ${total === 1 ? 'line' : 'lines'}.`;
}
