/**
 * Reads a task folder's metrics file (`metrics.jsonl`, appended to by the worker) back as one
 * point per (metric, step): the file keeps every line every execution of the task wrote, and a
 * resumed task writes the steps between its checkpoint and the interruption again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricPointInfo } from '../../preload/contract';
import { METRICS_FILE, type MetricsFileLine } from '../worker/protocol';

export interface MetricsFileContents {
  /** One point per (metric, step), in the order each (metric, step) first appears in the file. */
  points: MetricPointInfo[];
  /** Lines whose (metric, step) a later execution (or a later line) wrote again. */
  superseded: number;
  /** Lines that are not a metric point: a torn last line of a killed writer, or damage. */
  unreadable: number;
}

/** Where the metrics file of the task folder `taskDir` is. */
export function metricsFilePath(taskDir: string): string {
  return join(taskDir, METRICS_FILE);
}

/**
 * The points of a metrics file, one per (metric, step): the value from the latest execution that
 * wrote it (by the lines' `execution` mark; lines without one are older than any with one), and
 * among lines of one execution the last. A missing file has no points.
 */
export function readMetricsFile(path: string): MetricsFileContents {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { points: [], superseded: 0, unreadable: 0 };
    throw error;
  }
  const kept = new Map<string, { point: MetricPointInfo; execution: number }>();
  let lines = 0;
  let unreadable = 0;
  for (const raw of text.split('\n')) {
    if (raw.length === 0) continue;
    const line = parseLine(raw);
    if (!line) {
      unreadable += 1;
      continue;
    }
    lines += 1;
    const key = `${line.name}\u0000${line.step}`;
    const execution = line.execution ?? 0;
    const previous = kept.get(key);
    if (previous && previous.execution > execution) continue;
    const point: MetricPointInfo = { step: line.step, name: line.name, value: line.value, time: line.time };
    if (line.epoch !== undefined) point.epoch = line.epoch;
    if (previous) {
      previous.point = point;
      previous.execution = execution;
    } else {
      kept.set(key, { point, execution });
    }
  }
  const points = [...kept.values()].map((entry) => entry.point);
  return { points, superseded: lines - points.length, unreadable };
}

/**
 * One line as a point, or undefined. A writer killed mid-line leaves a torn line that the next
 * execution's first line is appended to; that line is recovered from where it starts.
 */
function parseLine(raw: string): MetricsFileLine | undefined {
  const whole = toLine(raw);
  if (whole) return whole;
  const start = raw.lastIndexOf('{"step":');
  return start > 0 ? toLine(raw.slice(start)) : undefined;
}

function toLine(text: string): MetricsFileLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const { step, name, time, epoch, execution } = value as Record<string, unknown>;
  // JSON has no NaN: the worker's NaN (a diverging loss) is written as null.
  const metric = (value as Record<string, unknown>).value;
  if (typeof step !== 'number' || !Number.isFinite(step) || typeof name !== 'string') return undefined;
  if (typeof time !== 'number' || (typeof metric !== 'number' && metric !== null)) return undefined;
  const line: MetricsFileLine = { step, name, time, value: metric ?? Number.NaN };
  if (typeof epoch === 'number') line.epoch = epoch;
  if (typeof execution === 'number') line.execution = execution;
  return line;
}
