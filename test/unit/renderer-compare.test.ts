/**
 * Comparing runs by params and final metrics: axes of the parallel coordinates (value, log where
 * every value is positive, category otherwise), the top-k% by an objective, the ECharts option
 * with one `parallel` series line per entry, and the hparams CSV.
 */
import { describe, expect, it } from 'vitest';
import {
  comparisonCsv,
  lowerIsBetter,
  parallelAxes,
  parallelOption,
  suggestLogColumns,
  topEntries,
  type ComparisonColumn,
  type ComparisonEntry,
} from '../../renderer/src/compare/comparison';

const entries: ComparisonEntry[] = [
  {
    id: 'a',
    label: 'A',
    params: { lr: 0.1, optimizer: 'sgd', hidden: [64] },
    metrics: { accuracy: 0.8, loss: 0.6 },
  },
  {
    id: 'b',
    label: 'B',
    params: { lr: 0.001, optimizer: 'adam', hidden: [32] },
    metrics: { accuracy: 0.95, loss: 0.2 },
  },
  {
    id: 'c',
    label: 'C',
    params: { lr: 0.01, optimizer: 'adam', hidden: [64] },
    metrics: { accuracy: 0.9, loss: 0.3 },
  },
  { id: 'd', label: 'D', params: { lr: 0.0001, optimizer: 'lion' }, metrics: {} },
];
const columns: ComparisonColumn[] = [
  { kind: 'param', key: 'lr' },
  { kind: 'param', key: 'optimizer' },
  { kind: 'param', key: 'hidden' },
  { kind: 'metric', key: 'accuracy' },
  { kind: 'metric', key: 'loss' },
];

describe('comparison', () => {
  it('builds value, log and category axes', () => {
    expect(suggestLogColumns(entries, columns)).toEqual(new Set(['lr']));
    const axes = parallelAxes(entries, columns, new Set(['lr', 'optimizer', 'loss']));
    expect(axes.map((axis) => axis.type)).toEqual(['log', 'category', 'category', 'value', 'log']);
    expect(axes[1]!.categories).toEqual(['adam', 'lion', 'sgd']);
    expect(axes[2]!.categories).toEqual(['[32]', '[64]']);
    // A log axis cannot show zero or less: such a column stays linear.
    const withZero = [...entries, { id: 'e', label: 'E', params: { lr: 0 }, metrics: {} }];
    expect(parallelAxes(withZero, columns.slice(0, 1), new Set(['lr']))[0]!.type).toBe('value');
  });

  it('keeps the top k% by an objective, best first, never one without it', () => {
    expect(lowerIsBetter('val_loss')).toBe(true);
    expect(lowerIsBetter('accuracy')).toBe(false);
    expect(topEntries(entries, 'accuracy', 'max', 100)).toEqual(['b', 'c', 'a']);
    expect(topEntries(entries, 'accuracy', 'max', 34)).toEqual(['b', 'c']);
    expect(topEntries(entries, 'loss', 'min', 10)).toEqual(['b']);
    expect(topEntries(entries, 'missing', 'max', 50)).toEqual([]);
  });

  it('draws one parallel-series line per entry, fading those outside the top k%', () => {
    const axes = parallelAxes(entries, columns, new Set());
    const option = parallelOption(entries, axes, new Set(['b']), {
      text: '#000',
      muted: '#666',
      line: '#ccc',
    }) as {
      parallelAxis: Array<{ dim: number; name: string; type: string; data?: string[] }>;
      series: Array<{
        type: string;
        data: Array<{ name: string; value: unknown[]; lineStyle: { opacity: number } }>;
      }>;
    };
    expect(option.parallelAxis.map((axis) => axis.name)).toEqual([
      'lr',
      'optimizer',
      'hidden',
      'accuracy',
      'loss',
    ]);
    expect(option.series).toHaveLength(1);
    expect(option.series[0]!.type).toBe('parallel');
    expect(option.series[0]!.data.map((line) => line.name)).toEqual(['A', 'B', 'C', 'D']);
    expect(option.series[0]!.data[1]!.value).toEqual([0.001, 'adam', '[32]', 0.95, 0.2]);
    expect(option.series[0]!.data[3]!.value).toEqual([0.0001, 'lion', null, null, null]);
    expect(option.series[0]!.data.map((line) => line.lineStyle.opacity)).toEqual([0.12, 0.9, 0.12, 0.12]);
  });

  it('writes the hparams table as CSV', () => {
    expect(comparisonCsv(entries.slice(0, 2), columns)).toBe(
      'run,label,lr,optimizer,hidden,accuracy,loss\na,A,0.1,sgd,64,0.8,0.6\nb,B,0.001,adam,32,0.95,0.2\n',
    );
  });
});
