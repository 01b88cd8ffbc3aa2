/**
 * ECharts options of the sweep view's charts, as pure functions of the shaped data
 * (sweep/view-data.ts): the optimisation history (a dot per trial and the best-so-far step line)
 * and the trials' intermediate curves with the rungs as vertical lines and a cross where the
 * scheduler stopped a trial.
 */
import type { HistoryPoint, TrialCurve } from './view-data';

/** Theme colours read from CSS variables by the component. */
export interface ChartColors {
  text: string;
  muted: string;
  line: string;
  accent: string;
  pruned: string;
}

/** Above this many trials the history's dots are drawn without symbols' hover effects (cheap). */
export const LARGE_HISTORY = 500;

function axisStyle(colors: ChartColors) {
  return {
    axisLine: { lineStyle: { color: colors.line } },
    axisLabel: { color: colors.muted, fontSize: 10 },
    splitLine: { lineStyle: { color: colors.line, opacity: 0.35 } },
    nameTextStyle: { color: colors.muted, fontSize: 11 },
  };
}

/** The optimisation history: objective per trial (dots) and the best so far (a step line). */
export function historyOption(points: readonly HistoryPoint[], objective: string, colors: ChartColors) {
  const large = points.length > LARGE_HISTORY;
  return {
    animation: false,
    grid: { left: 56, right: 16, top: 28, bottom: 36 },
    legend: {
      top: 0,
      right: 8,
      textStyle: { color: colors.muted, fontSize: 11 },
      data: [objective, 'best so far'],
    },
    tooltip: { trigger: 'item' },
    xAxis: {
      type: 'value',
      name: 'trial',
      nameLocation: 'middle',
      nameGap: 22,
      minInterval: 1,
      ...axisStyle(colors),
    },
    yAxis: { type: 'value', scale: true, ...axisStyle(colors) },
    series: [
      {
        name: objective,
        type: 'scatter',
        symbolSize: large ? 4 : 7,
        large,
        itemStyle: { color: colors.muted, opacity: 0.8 },
        data: points.map((point) => [point.trial, point.objective]),
      },
      {
        name: 'best so far',
        type: 'line',
        step: 'end',
        showSymbol: false,
        lineStyle: { width: 2, color: colors.accent },
        itemStyle: { color: colors.accent },
        data: points.map((point) => [point.trial, point.best]),
      },
    ],
  };
}

/** The scheduler metric per epoch of each trial, rungs marked, pruned trials' stops crossed. */
export function curvesOption(
  curves: readonly TrialCurve[],
  rungs: readonly number[],
  metric: string,
  colors: ChartColors,
) {
  const series: unknown[] = curves.map((curve) => ({
    name: `trial ${curve.trial}`,
    type: 'line',
    showSymbol: curve.points.length < 3,
    symbolSize: 4,
    lineStyle: {
      width: 1.3,
      color: curve.status === 'pruned' ? colors.pruned : colors.accent,
      opacity: 0.75,
    },
    itemStyle: { color: curve.status === 'pruned' ? colors.pruned : colors.accent },
    emphasis: { focus: 'series' },
    data: curve.points.map((point) => [point.resource, point.value]),
  }));
  const stops = curves.flatMap((curve) =>
    curve.stop ? [{ value: [curve.stop.resource, curve.stop.value], trial: curve.trial }] : [],
  );
  series.push({
    name: 'stopped',
    type: 'scatter',
    symbol: 'path://M0,0 L10,10 M10,0 L0,10',
    symbolSize: 9,
    itemStyle: { color: colors.pruned, borderColor: colors.pruned, borderWidth: 2 },
    data: stops,
    tooltip: {
      formatter: (item: { data: { trial: number; value: [number, number] } }) =>
        `trial ${item.data.trial} stopped at rung ${item.data.value[0]}`,
    },
    markLine: rungs.length
      ? {
          silent: true,
          symbol: 'none',
          label: { formatter: 'rung {c}', color: colors.muted, fontSize: 10 },
          lineStyle: { color: colors.muted, type: 'dashed', opacity: 0.7 },
          data: rungs.map((rung) => ({ xAxis: rung })),
        }
      : undefined,
  });
  return {
    animation: false,
    grid: { left: 56, right: 16, top: 20, bottom: 36 },
    tooltip: { trigger: 'item' },
    xAxis: {
      type: 'value',
      name: 'epoch',
      nameLocation: 'middle',
      nameGap: 22,
      minInterval: 1,
      ...axisStyle(colors),
    },
    yAxis: { type: 'value', scale: true, name: metric, ...axisStyle(colors) },
    series,
  };
}
