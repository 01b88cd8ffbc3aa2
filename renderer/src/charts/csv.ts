/** CSV of overlaid metric series (Compare view → "Export CSV"); RFC 4180 quoting. */

export interface CsvSeries {
  run: string;
  task: string;
  node: string;
  metric: string;
  step: ArrayLike<number>;
  epoch: ArrayLike<number>;
  time: ArrayLike<number>;
  value: ArrayLike<number>;
}

function cell(value: string | number): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function seriesToCsv(series: readonly CsvSeries[]): string {
  const lines = ['run,task,node,metric,step,epoch,time,value'];
  for (const s of series) {
    for (let i = 0; i < s.value.length; i++) {
      lines.push(
        [s.run, s.task, s.node, s.metric, s.step[i]!, s.epoch[i]!, s.time[i]!, s.value[i]!]
          .map(cell)
          .join(','),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
