import { describe, expect, it } from 'vitest';
import type { LogLine } from '../../preload/contract';
import {
  filterLogLines,
  LOG_LINES_SHOWN,
  logCountText,
  logEmptyText,
} from '../../renderer/src/components/log-filter';

const line = (level: LogLine['level'], message: string): LogLine => ({
  runId: 'r1',
  taskId: 't1',
  level,
  message,
  time: 0,
});
const LINES = [
  line('info', 'Epoch 1: loss 0.52'),
  line('warn', 'Early stopping is off'),
  line('info', 'Epoch 2: loss 0.31'),
  line('error', 'Worker exited'),
];

describe('log pane filters', () => {
  it('lets through the level asked for and the lines containing the query', () => {
    expect(filterLogLines(LINES, { level: 'all', query: '' })).toHaveLength(4);
    expect(filterLogLines(LINES, { level: 'warn', query: '' }).map((l) => l.level)).toEqual([
      'warn',
      'error',
    ]);
    expect(filterLogLines(LINES, { level: 'error', query: '' })).toHaveLength(1);
    expect(filterLogLines(LINES, { level: 'all', query: '  EPOCH ' })).toHaveLength(2);
    expect(filterLogLines(LINES, { level: 'warn', query: 'epoch' })).toHaveLength(0);
  });

  it('counts what the filters let through, out of every line', () => {
    expect(logCountText(4, 4, { level: 'all', query: '' })).toBe('4 lines');
    expect(logCountText(1, 1, { level: 'all', query: '' })).toBe('1 line');
    expect(logCountText(4, 2, { level: 'all', query: 'epoch' })).toBe('2 of 4 lines');
    expect(logCountText(4, 0, { level: 'error', query: '' })).toBe('0 of 4 lines');
    expect(logCountText(5000, 4000, { level: 'warn', query: '' })).toBe(
      `4,000 of 5,000 lines · newest ${LOG_LINES_SHOWN.toLocaleString('en-US')} shown`,
    );
  });

  it('says why the pane is empty: no lines yet, or none matching', () => {
    expect(logEmptyText(0, { level: 'error', query: 'x' })).toBe('No log lines yet.');
    expect(logEmptyText(4, { level: 'error', query: '' })).toBe('No errors in 4 lines.');
    expect(logEmptyText(4, { level: 'warn', query: 'nan' })).toBe('No warnings or errors matching “nan”.');
    expect(logEmptyText(1, { level: 'all', query: 'nan' })).toBe('No lines matching “nan”.');
  });
});
