/**
 * The runs table as pure functions over `runs.summaries` rows, so that 10,000 runs stay smooth
 * (test/bench/runs-table.ts measures them): rows with their full params, a filter language, the
 * params that differ between the listed runs, the metric columns, sorting, and the window of rows
 * a virtualised table renders.
 */
import type { NodeSpecInfo, RunInfo, RunSummaries, RunSummary } from '../../../preload/contract';

/**
 * A row of the runs table: a run's summary whose `params` hold only what is not in `shared` (one
 * object every row of a table points at), as `runs.summaries` answers, so 10,000 rows do not each
 * copy the params they have in common. Read a param with `paramOf`. A shared key the run lacks is
 * in `params` with the value undefined.
 */
export type RunRow = RunSummary & {
  shared: Readonly<Record<string, unknown>>;
  /** Lower-cased text the free words of a filter look in. */
  searchText: string;
};

const hasOwn = (record: object, key: string) => Object.prototype.hasOwnProperty.call(record, key);

/** A row's value of a param (`node.param`); undefined when its run has no such param. */
export function paramOf(row: Pick<RunRow, 'params' | 'shared'>, key: string): unknown {
  return hasOwn(row.params, key) ? row.params[key] : row.shared[key];
}

/** A run's complete params split against `shared`: what differs from it, and the shared keys it lacks. */
function ownParams(
  complete: Record<string, unknown>,
  shared: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const own: Record<string, unknown> = {};
  for (const key in complete)
    if (!hasOwn(shared, key) || !same(complete[key], shared[key])) own[key] = complete[key];
  for (const key in shared) if (!hasOwn(complete, key)) own[key] = undefined;
  return own;
}

/** A column of the table that is a param (`node.param`) or a metric figure (`node.metric`). */
export interface ValueColumn {
  kind: 'param' | 'metric';
  key: string;
}

function searchTextOf(run: RunSummary): string {
  return [run.label ?? '', run.name, run.id, run.status, run.note, ...run.tags.map((tag) => `#${tag}`)]
    .join(' ')
    .toLowerCase();
}

/**
 * Rows from a `runs.summaries` answer. Without `shared`, the answer's shared params are the rows'
 * (a full load); with it (a table's, for the rows of a partial answer), each run's params are
 * split against that one.
 */
export function rowsFromSummaries(
  answer: RunSummaries,
  shared?: Readonly<Record<string, unknown>>,
): RunRow[] {
  return answer.runs.map((run) => ({
    ...run,
    params: shared ? ownParams({ ...answer.sharedParams, ...run.params }, shared) : run.params,
    shared: shared ?? answer.sharedParams,
    searchText: searchTextOf(run),
  }));
}

/**
 * A row updated from a `run.status` event: status, times, names, tags and task counts follow the
 * run at once; params and figures come with the next summary of it.
 */
export function updateRow(row: RunRow, run: RunInfo): RunRow {
  const tasks = { total: run.tasks.length, done: 0, reused: 0, failed: 0, running: 0 };
  for (const task of run.tasks) {
    if (task.status === 'done') tasks.done += 1;
    else if (task.status === 'reused') tasks.reused += 1;
    else if (task.status === 'failed') tasks.failed += 1;
    else if (task.status === 'running') tasks.running += 1;
  }
  const next: RunSummary = {
    ...row,
    status: run.status,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    label: run.label,
    tags: run.tags,
    note: run.note,
    backend: run.backend?.name ?? row.backend,
    tasks,
  };
  return { ...next, shared: row.shared, searchText: searchTextOf(next) };
}

/** A row for a run the table has no summary of yet (a run that just started). */
export function rowFromRun(
  run: RunInfo,
  spec: (type: string) => NodeSpecInfo | undefined,
  shared: Readonly<Record<string, unknown>> = {},
): RunRow {
  const params: Record<string, unknown> = {};
  const nodes: Record<string, string> = {};
  for (const node of run.pipeline.nodes) {
    nodes[node.id] = node.type;
    const declared = spec(node.type)?.params ?? {};
    for (const [name, param] of Object.entries(declared))
      params[`${node.id}.${name}`] = Object.prototype.hasOwnProperty.call(node.params, name)
        ? node.params[name]
        : param.default;
  }
  const base: RunSummary = {
    id: run.id,
    name: run.name,
    label: run.label,
    tags: run.tags,
    note: run.note,
    status: run.status,
    seed: run.seed,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    backend: run.backend?.name ?? null,
    pipelineFile: run.pipelineFile,
    tasks: { total: 0, done: 0, reused: 0, failed: 0, running: 0 },
    nodes,
    params: ownParams(params, shared),
    metrics: {},
  };
  return updateRow({ ...base, shared, searchText: '' }, run);
}

// ---------------------------------------------------------------------------------------------
// Filter

/** One condition of a filter: a free word, a tag, a status, or a comparison on a column. */
export type FilterTerm =
  | { kind: 'word'; text: string }
  | { kind: 'tag'; tag: string }
  | { kind: 'status'; status: string }
  | { kind: 'compare'; key: string; op: '=' | '!=' | '>' | '<' | '>=' | '<='; value: string };

const COMPARISON = /^([A-Za-z0-9_.\-/]+)(!=|>=|<=|=|>|<)(.*)$/;

/**
 * Reads a filter: words match the name, label, id, status, note and tags; `#tag` or `tag:x` a tag;
 * `status:failed` a status; `fit.epochs=3`, `score.accuracy>0.9`, `fit.optimizer!=sgd` a param or
 * metric column. Every term must hold.
 */
export function parseRunFilter(text: string): FilterTerm[] {
  const terms: FilterTerm[] = [];
  for (const raw of text.trim().split(/\s+/)) {
    if (raw === '') continue;
    if (raw.startsWith('#') && raw.length > 1) terms.push({ kind: 'tag', tag: raw.slice(1).toLowerCase() });
    else if (raw.toLowerCase().startsWith('tag:') && raw.length > 4)
      terms.push({ kind: 'tag', tag: raw.slice(4).toLowerCase() });
    else if (raw.toLowerCase().startsWith('status:') && raw.length > 7)
      terms.push({ kind: 'status', status: raw.slice(7).toLowerCase() });
    else {
      const match = COMPARISON.exec(raw);
      if (match && match[3] !== '' && match[1]!.includes('.'))
        terms.push({ kind: 'compare', key: match[1]!, op: match[2] as '=', value: match[3]! });
      else terms.push({ kind: 'word', text: raw.toLowerCase() });
    }
  }
  return terms;
}

/** A param or metric of a row by column key: metrics first (`score.accuracy`), then params. */
export function cellValue(row: RunRow, key: string): unknown {
  if (hasOwn(row.metrics, key)) return row.metrics[key];
  return paramOf(row, key);
}

/** A value as text: lists joined, objects as JSON, the rest as they print. */
function textOf(value: unknown): string {
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'string') return value;
  if (value === undefined) return 'undefined';
  return JSON.stringify(value);
}

function compares(actual: unknown, op: FilterTerm & { kind: 'compare' }, wanted: number): boolean {
  if (actual === undefined) return op.op === '!=';
  if (typeof actual === 'number' && Number.isFinite(wanted)) {
    switch (op.op) {
      case '=':
        return actual === wanted;
      case '!=':
        return actual !== wanted;
      case '>':
        return actual > wanted;
      case '<':
        return actual < wanted;
      case '>=':
        return actual >= wanted;
      case '<=':
        return actual <= wanted;
    }
  }
  const text = textOf(actual).toLowerCase();
  if (op.op === '=') return text === op.value.toLowerCase();
  if (op.op === '!=') return text !== op.value.toLowerCase();
  return false;
}

/** The rows every term holds for, in their order. */
export function filterRuns(rows: readonly RunRow[], terms: readonly FilterTerm[]): RunRow[] {
  if (terms.length === 0) return [...rows];
  const tests = terms.map((term): ((row: RunRow) => boolean) => {
    switch (term.kind) {
      case 'word':
        return (row) => row.searchText.includes(term.text);
      case 'tag':
        return (row) => row.tags.some((tag) => tag.toLowerCase() === term.tag);
      case 'status':
        return (row) => row.status === term.status;
      case 'compare': {
        const wanted = Number(term.value);
        return (row) => compares(cellValue(row, term.key), term, wanted);
      }
    }
  });
  return rows.filter((row) => tests.every((test) => test(row)));
}

// ---------------------------------------------------------------------------------------------
// Columns

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, i) => item === b[i]);
  return false;
}

/**
 * The params whose value is not the same in every row (absent in some counts as different), in
 * pipeline order of first appearance. One row, or none, has no differing params.
 */
export function differingParams(rows: readonly RunRow[]): string[] {
  if (rows.length < 2) return [];
  // A key in a row's shared object has one value in every row pointing at that object: only the
  // rows' own keys can differ, unless the rows point at several shared objects.
  const keys: string[] = [];
  const seen = new Set<string>();
  const add = (key: string) => {
    if (!seen.has(key)) {
      seen.add(key);
      keys.push(key);
    }
  };
  const sharedObjects = new Set(rows.map((row) => row.shared));
  if (sharedObjects.size > 1) for (const shared of sharedObjects) for (const key in shared) add(key);
  for (const row of rows) for (const key in row.params) add(key);
  return keys.filter((key) => {
    const value = paramOf(rows[0]!, key);
    for (let i = 1; i < rows.length; i++) if (!same(paramOf(rows[i]!, key), value)) return true;
    return false;
  });
}

/**
 * The metric columns of the rows, in a stable order: figures of evaluate-category nodes first
 * (test accuracy and loss), then the best validation metrics, then the rest. `primary` holds the
 * ones shown by default: evaluate nodes' accuracy and loss and every `val_*` figure.
 */
export function metricColumns(
  rows: readonly RunSummary[],
  category: (nodeType: string) => string | undefined,
): { all: string[]; primary: string[] } {
  const found = new Map<string, number>();
  for (const row of rows)
    for (const key in row.metrics) {
      if (found.has(key)) continue;
      const dot = key.indexOf('.');
      const nodeId = key.slice(0, dot);
      const name = key.slice(dot + 1);
      const type = row.nodes[nodeId];
      const evaluate = type !== undefined && category(type) === 'evaluate';
      const rank =
        evaluate && (name === 'accuracy' || name === 'loss')
          ? 0
          : name.startsWith('val_')
            ? 1
            : evaluate
              ? 2
              : 3;
      found.set(key, rank);
    }
  const all = [...found.keys()].sort((a, b) => found.get(a)! - found.get(b)! || a.localeCompare(b));
  return { all, primary: all.filter((key) => found.get(key)! <= 1) };
}

// ---------------------------------------------------------------------------------------------
// Sort

/** What the table sorts by: a fixed column or a param/metric column. */
export type SortKey = 'createdAt' | 'name' | 'status' | 'duration' | `param:${string}` | `metric:${string}`;

function durationOf(row: RunSummary): number | undefined {
  if (!row.startedAt) return undefined;
  return (row.finishedAt ? Date.parse(row.finishedAt) : Date.now()) - Date.parse(row.startedAt);
}

function sortValue(row: RunRow, key: SortKey): unknown {
  switch (key) {
    case 'createdAt':
      return row.createdAt;
    case 'name':
      return (row.label ?? row.name).toLowerCase();
    case 'status':
      return row.status;
    case 'duration':
      return durationOf(row);
  }
  return key.startsWith('param:') ? paramOf(row, key.slice(6)) : row.metrics[key.slice(7)];
}

/** One collator for every comparison: building one per call is what makes localeCompare slow. */
const COLLATOR = new Intl.Collator('en', { numeric: true });

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const left = Array.isArray(a) ? a.join(',') : String(a);
  const right = Array.isArray(b) ? b.join(',') : String(b);
  return COLLATOR.compare(left, right);
}

/** The rows sorted by `key` (a missing value last either way), newest first among equals. */
export function sortRuns(rows: readonly RunRow[], key: SortKey, direction: 'asc' | 'desc'): RunRow[] {
  const sign = direction === 'asc' ? 1 : -1;
  const keyed = rows.map((row) => ({ row, value: sortValue(row, key) }));
  keyed.sort((a, b) => {
    const aMissing = a.value === undefined || (typeof a.value === 'number' && Number.isNaN(a.value));
    const bMissing = b.value === undefined || (typeof b.value === 'number' && Number.isNaN(b.value));
    if (aMissing !== bMissing) return aMissing ? 1 : -1;
    const order = aMissing ? 0 : sign * compareValues(a.value, b.value);
    if (order) return order;
    // ISO times: plain string order is time order.
    return a.row.createdAt < b.row.createdAt ? 1 : a.row.createdAt > b.row.createdAt ? -1 : 0;
  });
  return keyed.map((entry) => entry.row);
}

// ---------------------------------------------------------------------------------------------
// Virtualisation

/** The rows a table of fixed row height shows at `scrollTop`, with some rows beyond either edge. */
export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 8,
): { start: number; end: number; before: number; after: number } {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const start = Math.min(count, Math.max(0, first - overscan));
  const end = Math.max(start, Math.min(count, first + Math.ceil(viewportHeight / rowHeight) + overscan));
  return { start, end, before: start * rowHeight, after: (count - end) * rowHeight };
}

/** A cell's text: numbers as the table shows them, lists joined. */
export function formatCell(value: unknown): string {
  if (value === undefined || value === null) return '—';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    if (Number.isInteger(value)) return value.toLocaleString('en-US');
    const magnitude = Math.abs(value);
    return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5)
      ? value.toExponential(2)
      : String(Number(value.toPrecision(4)));
  }
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  return textOf(value);
}
