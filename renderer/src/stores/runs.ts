/**
 * Runs, their tasks and everything they stream. Run and task records are replaced whole on each
 * event (shallow refs of plain objects). Metric points go into per-task, per-name SeriesBuffers
 * that are not reactive at all: events only queue points, and one flush per animation frame moves
 * them into the buffers and bumps `metricsVersion`, which is what charts watch.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type {
  LogLine,
  MetricBatch,
  MetricPointInfo,
  PipelineDoc,
  RunInfo,
  TaskInfo,
  TaskSample,
} from '../../../preload/contract';
import { errorMessage, useClient } from '../api';
import { appendMetricNames } from '../charts/metric-order';
import { SeriesBuffer } from '../charts/series-buffer';
import { rowFromRun, rowsFromSummaries, updateRow, type RunRow } from '../runs/table';
import { useCatalogStore } from './catalog';

/** Lines kept per task in the log pane. */
export const LOG_LIMIT = 5000;

/** A sample grid as the run view keeps it, under its task's id. */
export type SampleImage = Pick<TaskSample, 'path' | 'step'>;

export type FrameScheduler = (callback: () => void) => void;

function defaultScheduler(callback: () => void): void {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => callback());
  else setTimeout(callback, 16);
}

let frameScheduler: FrameScheduler = defaultScheduler;

/** Tests replace the per-frame scheduler to flush synchronously or on demand. */
export function setFrameScheduler(scheduler: FrameScheduler | null): void {
  frameScheduler = scheduler ?? defaultScheduler;
}

const FINISHED = new Set(['done', 'failed', 'cancelled']);

export function isFinished(status: string): boolean {
  return FINISHED.has(status);
}

/** Milliseconds between two ISO times (or until now while running). */
export function durationMs(
  startedAt: string | null,
  finishedAt: string | null,
  now = Date.now(),
): number | null {
  if (!startedAt) return null;
  const end = finishedAt ? Date.parse(finishedAt) : now;
  return Math.max(0, end - Date.parse(startedAt));
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '—';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** Seconds left for a run: the longest ETA among its running tasks. */
export function runEtaSeconds(run: RunInfo): number | null {
  let eta: number | null = null;
  for (const task of run.tasks) {
    if (task.status !== 'running' || task.progress?.etaSeconds == null) continue;
    eta = Math.max(eta ?? 0, task.progress.etaSeconds);
  }
  return eta;
}

/** Overall progress of a run in [0, 1], counting finished and reused tasks as complete. */
export function runProgress(run: RunInfo): number {
  if (run.tasks.length === 0) return run.status === 'done' ? 1 : 0;
  let sum = 0;
  for (const task of run.tasks) {
    if (task.status === 'done' || task.status === 'reused' || task.status === 'skipped') sum += 1;
    else if (task.progress && task.progress.total > 0)
      sum += Math.min(1, task.progress.done / task.progress.total);
  }
  return sum / run.tasks.length;
}

export const useRunsStore = defineStore('runs', () => {
  const client = useClient();

  const runs = shallowRef<RunInfo[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  /** Bumped once per frame in which metric points arrived. */
  const metricsVersion = shallowRef(0);
  const logsVersion = shallowRef(0);
  const samples = shallowRef<Record<string, SampleImage[]>>({});

  const series = new Map<string, Map<string, SeriesBuffer>>();
  const logs = new Map<string, LogLine[]>();
  /** Order of each task's metric names, as first seen (see metricNames). */
  const metricOrder = new Map<string, readonly string[]>();
  const loadedTasks = new Set<string>();
  let pending: MetricBatch[] = [];
  let pendingLogs: LogLine[] = [];
  let frameQueued = false;
  let detach: (() => void) | undefined;

  const byId = computed(() => new Map(runs.value.map((run) => [run.id, run])));
  const active = computed(() => runs.value.filter((run) => !isFinished(run.status)));

  /** The runs table: one row per run, with params and figures (`runs.summaries`). */
  const table = shallowRef<RunRow[]>([]);
  /** How many runs the data directory holds. */
  const tableTotal = ref(0);
  const tableLoading = ref(false);
  const tableError = ref<string | null>(null);
  let tableLoaded = false;
  /** The params every row of the last full load shared; rows added later are split against it. */
  let tableShared: Readonly<Record<string, unknown>> = {};
  /** Runs whose row waits for a fresh summary (new, or just finished: their figures changed). */
  const staleRows = new Set<string>();
  let staleTimer: ReturnType<typeof setTimeout> | undefined;

  async function loadTable(): Promise<void> {
    tableLoading.value = true;
    try {
      const answer = await client.request('runs.summaries', {});
      tableShared = answer.sharedParams;
      table.value = rowsFromSummaries(answer);
      tableTotal.value = answer.total;
      tableLoaded = true;
      tableError.value = null;
    } catch (caught) {
      tableError.value = errorMessage(caught);
    } finally {
      tableLoading.value = false;
    }
  }

  /** Replaces or adds rows, newest first. */
  function putRows(rows: readonly RunRow[]): void {
    if (rows.length === 0) return;
    const byRow = new Map(rows.map((row) => [row.id, row]));
    const next = table.value.map((row) => byRow.get(row.id) ?? row);
    const known = new Set(table.value.map((row) => row.id));
    const added = rows.filter((row) => !known.has(row.id));
    table.value = added.length
      ? [...added, ...next].sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      : next;
    tableTotal.value += added.length;
  }

  function rowShows(row: RunRow): string {
    return JSON.stringify([
      row.status,
      row.startedAt,
      row.finishedAt,
      row.label,
      row.tags,
      row.note,
      row.tasks,
    ]);
  }

  async function refreshStaleRows(): Promise<void> {
    staleTimer = undefined;
    const ids = [...staleRows];
    staleRows.clear();
    if (ids.length === 0) return;
    try {
      putRows(rowsFromSummaries(await client.request('runs.summaries', { runIds: ids }), tableShared));
    } catch {
      // The row keeps what the run's events said; the next load refreshes it.
    }
  }

  /** Keeps the table's row of a run in step with its events; figures follow in one batched fetch. */
  function updateTableRow(run: RunInfo): void {
    if (!tableLoaded) return;
    const existing = table.value.find((row) => row.id === run.id);
    if (existing) {
      const next = updateRow(existing, run);
      // Progress events change nothing the table shows: leave its rows (and their sort) alone.
      if (rowShows(next) !== rowShows(existing)) putRows([next]);
    } else putRows([rowFromRun(run, (type) => useCatalogStore().spec(type), tableShared)]);
    if (!existing || isFinished(run.status)) {
      staleRows.add(run.id);
      staleTimer ??= setTimeout(() => void refreshStaleRows(), 300);
    }
  }

  /** Renames, tags or annotates a run. */
  async function updateRun(
    runId: string,
    patch: { label?: string | null; tags?: string[]; note?: string },
  ): Promise<RunInfo> {
    const run = await client.request('runs.update', { runId, ...patch });
    upsertRun(run);
    return run;
  }

  /** Deletes a finished run; its registered models stay unless `deleteModels`. */
  async function deleteRun(
    runId: string,
    deleteModels = false,
  ): Promise<{ deletedModels: string[]; keptModels: string[] }> {
    const result = await client.request('runs.delete', { runId, ...(deleteModels ? { deleteModels } : {}) });
    runs.value = runs.value.filter((run) => run.id !== runId);
    if (table.value.some((row) => row.id === runId)) {
      table.value = table.value.filter((row) => row.id !== runId);
      tableTotal.value = Math.max(0, tableTotal.value - 1);
    }
    return result;
  }

  /**
   * Runs a run's pipeline again: every finished task is reused unless `fromNode`, which runs that
   * node and everything downstream of it again.
   */
  async function rerun(run: RunInfo, fromNode?: string): Promise<RunInfo> {
    const started = await client.request('runs.start', {
      doc: run.pipeline,
      ...(fromNode ? { forceNodes: [fromNode] } : {}),
      ...(run.pipelineFile ? { pipelineFile: run.pipelineFile } : {}),
    });
    upsertRun(started);
    return started;
  }

  function upsertRun(run: RunInfo): void {
    updateTableRow(run);
    const index = runs.value.findIndex((existing) => existing.id === run.id);
    if (index < 0) {
      runs.value = [run, ...runs.value].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    } else {
      const next = [...runs.value];
      next[index] = run;
      runs.value = next;
    }
  }

  function upsertTask(task: TaskInfo): void {
    const run = byId.value.get(task.runId);
    if (!run) return;
    const tasks = run.tasks.some((existing) => existing.id === task.id)
      ? run.tasks.map((existing) => (existing.id === task.id ? task : existing))
      : [...run.tasks, task];
    upsertRun({ ...run, tasks });
  }

  function buffer(taskId: string, name: string): SeriesBuffer {
    let byName = series.get(taskId);
    if (!byName) {
      byName = new Map();
      series.set(taskId, byName);
    }
    let buf = byName.get(name);
    if (!buf) {
      buf = new SeriesBuffer();
      byName.set(name, buf);
    }
    return buf;
  }

  function queueFrame(): void {
    if (frameQueued) return;
    frameQueued = true;
    frameScheduler(flush);
  }

  /** Moves queued points and log lines into their buffers; runs once per animation frame. */
  function flush(): void {
    frameQueued = false;
    if (pending.length > 0) {
      const batches = pending;
      pending = [];
      for (const batch of batches)
        for (const point of batch.points) buffer(batch.taskId, point.name).push(point);
      metricsVersion.value++;
    }
    if (pendingLogs.length > 0) {
      const lines = pendingLogs;
      pendingLogs = [];
      for (const line of lines) {
        const list = logs.get(line.taskId) ?? [];
        list.push(line);
        if (list.length > LOG_LIMIT) list.splice(0, list.length - LOG_LIMIT);
        logs.set(line.taskId, list);
      }
      logsVersion.value++;
    }
  }

  /** Subscribes to the event stream once; the returned function unsubscribes. */
  function attach(): () => void {
    if (detach) return detach;
    const offs = [
      client.on('run.status', (run) => upsertRun(run)),
      client.on('task.status', (task) => upsertTask(task)),
      client.on('task.metrics', (batch) => {
        pending.push(batch);
        queueFrame();
      }),
      client.on('task.log', (line) => {
        pendingLogs.push(line);
        queueFrame();
      }),
      client.on('task.sample', (sample) => {
        const list = samples.value[sample.taskId] ?? [];
        samples.value = {
          ...samples.value,
          [sample.taskId]: [...list, { path: sample.path, step: sample.step }],
        };
      }),
    ];
    detach = () => {
      for (const off of offs) off();
      detach = undefined;
    };
    return detach;
  }

  async function refresh(limit = 200): Promise<void> {
    loading.value = true;
    try {
      const list = await client.request('runs.list', { limit });
      // Keep records that events made newer than the list we just fetched.
      const live = new Map(runs.value.map((run) => [run.id, run]));
      runs.value = list
        .map((run) => {
          const known = live.get(run.id);
          return known && !isFinished(run.status) && isFinished(known.status) ? known : run;
        })
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      error.value = null;
    } catch (caught) {
      error.value = errorMessage(caught);
    } finally {
      loading.value = false;
    }
  }

  /**
   * After the event stream reconnects: events were missed, so refetch the list and the history of
   * every task already on screen that may have moved on.
   */
  async function resync(): Promise<void> {
    await refresh();
    const reload = runs.value
      .filter((run) => !isFinished(run.status) || run.tasks.some((task) => task.status === 'running'))
      .flatMap((run) => run.tasks)
      .filter((task) => loadedTasks.has(task.id));
    await Promise.all(reload.map((task) => loadTask(task.id, { force: true }).catch(() => undefined)));
  }

  async function fetchRun(runId: string): Promise<RunInfo> {
    const run = await client.request('runs.get', { runId });
    upsertRun(run);
    return run;
  }

  /**
   * Backfills a task's metrics and logs (opening a run that started earlier, or after a reload).
   * Points that events delivered meanwhile and that are newer than the history are kept.
   */
  async function loadTask(taskId: string, options: { force?: boolean } = {}): Promise<void> {
    if (loadedTasks.has(taskId) && !options.force) return;
    loadedTasks.add(taskId);
    try {
      const [history, lines] = await Promise.all([
        client.request('runs.metrics', { taskId }),
        client.request('runs.logs', { taskId }),
      ]);
      flush();
      mergeHistory(taskId, history);
      const live = logs.get(taskId) ?? [];
      const newest = lines.at(-1)?.time ?? Number.NEGATIVE_INFINITY;
      const merged = [...lines, ...live.filter((line) => line.time > newest)];
      logs.set(taskId, merged.slice(-LOG_LIMIT));
      logsVersion.value++;
    } catch (caught) {
      loadedTasks.delete(taskId);
      throw caught;
    }
  }

  function mergeHistory(taskId: string, history: MetricPointInfo[]): void {
    const byName = new Map<string, MetricPointInfo[]>();
    for (const point of history) byName.set(point.name, [...(byName.get(point.name) ?? []), point]);
    const existing = series.get(taskId) ?? new Map<string, SeriesBuffer>();
    const next = new Map<string, SeriesBuffer>();
    const names = new Set([...byName.keys(), ...existing.keys()]);
    for (const name of names) {
      const points = byName.get(name) ?? [];
      const buf = new SeriesBuffer();
      let lastStep = Number.NEGATIVE_INFINITY;
      for (const point of points) {
        buf.push(point);
        lastStep = Math.max(lastStep, point.step);
      }
      const live = existing.get(name);
      if (live) {
        const columns = live.toColumns();
        for (let i = 0; i < columns.step.length; i++) {
          if (columns.step[i]! <= lastStep) continue;
          buf.push({
            step: columns.step[i]!,
            epoch: columns.epoch[i]!,
            time: columns.time[i]!,
            value: columns.value[i]!,
          });
        }
      }
      next.set(name, buf);
    }
    series.set(taskId, next);
    metricsVersion.value++;
  }

  /**
   * Metric names a task has streamed: those that came together ranked (loss first), later ones
   * after them (charts/metric-order.ts), so a chart keeps its place as new metrics arrive.
   */
  function metricNames(taskId: string): readonly string[] {
    const known = metricOrder.get(taskId) ?? [];
    const next = appendMetricNames(known, series.get(taskId)?.keys() ?? []);
    if (next !== known) metricOrder.set(taskId, next);
    return next;
  }

  function seriesOf(taskId: string, name: string): SeriesBuffer | undefined {
    return series.get(taskId)?.get(name);
  }

  function logsOf(taskId: string): readonly LogLine[] {
    return logs.get(taskId) ?? [];
  }

  async function start(
    doc: PipelineDoc,
    options: { force?: boolean; forceNodes?: string[]; pipelineFile?: string | null } = {},
  ): Promise<RunInfo> {
    const run = await client.request('runs.start', {
      doc,
      ...(options.force ? { force: true } : {}),
      ...(options.forceNodes?.length ? { forceNodes: options.forceNodes } : {}),
      ...(options.pipelineFile ? { pipelineFile: options.pipelineFile } : {}),
    });
    upsertRun(run);
    return run;
  }

  async function cancel(runId: string): Promise<void> {
    upsertRun(await client.request('runs.cancel', { runId }));
  }

  async function resume(runId: string): Promise<void> {
    upsertRun(await client.request('runs.resume', { runId }));
  }

  return {
    runs,
    loading,
    error,
    metricsVersion,
    logsVersion,
    samples,
    byId,
    active,
    attach,
    flush,
    refresh,
    resync,
    fetchRun,
    loadTask,
    metricNames,
    seriesOf,
    logsOf,
    start,
    cancel,
    resume,
    upsertRun,
    table,
    tableTotal,
    tableLoading,
    tableError,
    loadTable,
    updateRun,
    deleteRun,
    rerun,
  };
});
