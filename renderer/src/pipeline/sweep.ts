/**
 * The editor's side of a pipeline's `sweep` block, as pure functions: which params can be swept,
 * the range "Sweep this param" suggests for one, a new block's objective and scheduler defaults,
 * and which params of a node a sweep covers (the canvas badge).
 */
import type {
  JsonValue,
  NodeSpecInfo,
  ParamSpecInfo,
  PipelineDoc,
  SchedulerType,
  SweepDomain,
  SweepMode,
  SweepScheduler,
  SweepSpec,
} from '../../../preload/contract';

/** Looks a node type up in the catalog. */
export type SpecLookup = (type: string) => NodeSpecInfo | undefined;

/**
 * Params named like these vary over decades, so they are searched on a log scale whatever their
 * declared range (a learning rate's useful values run from 1e-5 to 1e-1).
 */
const LOG_NAME = /(learning.?rate|^lr$|rate$|decay|epsilon|^eps$|temperature|lambda)/i;
/** How far around the default a suggested log range reaches, as a factor either way. */
const LOG_WINDOW = 10;
/** How far around the default a suggested linear or integer range reaches, as a factor either way. */
const LINEAR_WINDOW = 2;

/** Whether "Sweep this param" applies: numbers, integers, choices and lists of numbers. */
export function canSweep(spec: ParamSpecInfo): boolean {
  return (
    spec.kind === 'number' ||
    spec.kind === 'integer' ||
    spec.kind === 'choice' ||
    (spec.kind === 'list' && spec.of !== 'string')
  );
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Rounds to 3 significant digits, so a suggested bound reads like one a person would write. */
function round3(value: number): number {
  return Number(value.toPrecision(3));
}

/** The param's own bounds, with an exclusive upper bound pulled just inside. */
function ownBounds(spec: { min?: number; max?: number; exclusiveMax?: boolean }): [number, number] {
  const low = spec.min ?? -Infinity;
  let high = spec.max ?? Infinity;
  if (spec.exclusiveMax && Number.isFinite(high)) high = high - Math.max(Math.abs(high), 1) * 0.01;
  return [low, high];
}

function clip(window: [number, number], bounds: [number, number]): [number, number] {
  return [Math.max(window[0], bounds[0]), Math.min(window[1], bounds[1])];
}

function numberDomain(name: string, spec: ParamSpecInfo & { kind: 'number' }, value: number): SweepDomain {
  const bounds = ownBounds(spec);
  const wide = bounds[0] > 0 && Number.isFinite(bounds[1]) && bounds[1] / bounds[0] >= 100;
  if (value > 0 && (LOG_NAME.test(name) || wide)) {
    const [low, high] = clip(
      [value / LOG_WINDOW, value * LOG_WINDOW],
      [Math.max(bounds[0], Number.MIN_VALUE), bounds[1]],
    );
    if (low > 0 && low < high) return { logUniform: [round3(low), round3(high)] };
  }
  let window: [number, number] =
    value > 0 ? [value / LINEAR_WINDOW, value * LINEAR_WINDOW] : [value - 1, value + 1];
  window = clip(window, bounds);
  // A default at a bound (a dropout of 0) leaves no room on one side: use the param's whole range.
  if (!(window[0] < window[1]) || (value <= 0 && Number.isFinite(bounds[0]) && Number.isFinite(bounds[1])))
    window = bounds;
  if (!Number.isFinite(window[0]) || !Number.isFinite(window[1])) window = [value - 1, value + 1];
  return { uniform: [round3(window[0]), round3(window[1])] };
}

function integerDomain(spec: ParamSpecInfo & { kind: 'integer' }, value: number): SweepDomain {
  const bounds = ownBounds(spec);
  let low = Math.max(bounds[0], value > 0 ? Math.ceil(value / LINEAR_WINDOW) : value - 2);
  let high = Math.min(bounds[1], value > 0 ? Math.floor(value * LINEAR_WINDOW) : value + 2);
  if (!(low < high)) {
    low = Number.isFinite(bounds[0]) ? bounds[0] : value - 2;
    high = Number.isFinite(bounds[1]) ? bounds[1] : value + 2;
  }
  // Batch sizes and widths matter by their ratio, not their difference.
  return low >= 1 && high / low >= 4 ? { int: [low, high], log: true } : { int: [low, high] };
}

function listDomain(spec: ParamSpecInfo & { kind: 'list' }, value: unknown): SweepDomain | null {
  const items = Array.isArray(value) ? value.filter(isNumber) : [];
  if (items.length === 0) return null;
  const [low, high] = ownBounds(spec);
  const scale = (factor: number) =>
    items.map((item) => {
      const scaled = spec.of === 'integer' ? Math.round(item * factor) : round3(item * factor);
      return Math.min(high, Math.max(low, scaled));
    });
  const options: JsonValue[] = [];
  for (const candidate of [scale(0.5), items, scale(2)])
    if (!options.some((other) => JSON.stringify(other) === JSON.stringify(candidate)))
      options.push(candidate);
  return { choice: options };
}

/**
 * The range "Sweep this param" starts from: log-uniform over a decade either way of the value for
 * learning rates and other params whose range spans decades; uniform over half to twice the value
 * otherwise; integers (on a log scale when the range spans a factor of 4); every choice of a choice
 * param; the value halved, kept and doubled for a list of layer sizes. Always inside the param's
 * own range, so the validator accepts it as suggested. Null when the param cannot be swept.
 */
export function suggestDomain(name: string, spec: ParamSpecInfo, value: unknown): SweepDomain | null {
  switch (spec.kind) {
    case 'number':
      return numberDomain(name, spec, isNumber(value) ? value : spec.default);
    case 'integer':
      return integerDomain(spec, isNumber(value) ? value : spec.default);
    case 'choice':
      return spec.choices.length > 1 ? { choice: [...spec.choices] } : null;
    case 'list':
      return spec.of === 'string' ? null : listDomain(spec, value ?? spec.default);
    default:
      return null;
  }
}

/** A one-line description of a domain, for the Sweep panel and the canvas badge's tooltip. */
export function describeDomain(domain: SweepDomain): string {
  const format = (value: JsonValue): string =>
    Array.isArray(value)
      ? `[${value.map(format).join(', ')}]`
      : value !== null && typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
  if ('logUniform' in domain) return `log-uniform ${domain.logUniform[0]} – ${domain.logUniform[1]}`;
  if ('uniform' in domain) return `uniform ${domain.uniform[0]} – ${domain.uniform[1]}`;
  if ('int' in domain) return `integer ${domain.int[0]} – ${domain.int[1]}${domain.log ? ' (log)' : ''}`;
  if ('choice' in domain) return `one of ${domain.choice.map(format).join(' | ')}`;
  return `grid ${domain.grid.map(format).join(' | ')}`;
}

/** Whether a metric is better low (losses, errors, sizes and latencies). */
export function metricMode(metric: string): SweepMode {
  return /loss|error|latency|size|bytes|perplexity|fid|mse|mae/i.test(metric) ? 'min' : 'max';
}

/** The nodes of the pipeline whose task reports metrics an objective may name, in document order. */
export function objectiveChoices(
  doc: PipelineDoc,
  specOf: SpecLookup,
): Array<{ node: string; metrics: string[] }> {
  return doc.nodes.flatMap((node) => {
    const metrics = specOf(node.type)?.metrics ?? [];
    return metrics.length ? [{ node: node.id, metrics }] : [];
  });
}

/**
 * A new block's objective: the accuracy of the last node that reports one (usually the evaluate
 * node at the end), else the first metric of the last node that reports any.
 */
export function defaultObjective(doc: PipelineDoc, specOf: SpecLookup): SweepSpec['objective'] {
  const choices = objectiveChoices(doc, specOf);
  const scored = [...choices].reverse().find((choice) => choice.metrics.includes('accuracy'));
  const pick = scored ?? choices.at(-1);
  const metric = scored ? 'accuracy' : (pick?.metrics[0] ?? 'accuracy');
  return { node: pick?.node ?? '', metric, mode: metricMode(metric) };
}

/** The block "Sweep this param" creates when the pipeline has none: random search of 8 trials. */
export function newSweep(doc: PipelineDoc, specOf: SpecLookup): SweepSpec {
  return {
    objective: defaultObjective(doc, specOf),
    space: {},
    algorithm: 'random',
    trials: 8,
    concurrency: 1,
  };
}

/** The first node with an integer `epochs` param: what a scheduler's budget is measured in. */
export function defaultResource(doc: PipelineDoc, specOf: SpecLookup): { key: string; value: number } | null {
  for (const node of doc.nodes) {
    const spec = specOf(node.type)?.params.epochs;
    if (spec?.kind !== 'integer') continue;
    const value = node.params.epochs;
    return { key: `${node.id}.epochs`, value: isNumber(value) ? value : spec.default };
  }
  return null;
}

/**
 * A scheduler of the given type with its fields filled: the resource is the first `epochs` param,
 * the budget that param's value (at least 2, so a rung exists), η = 3, PBT every epoch over
 * quartiles. The fields a previous scheduler shared with it (resource, metric, mode, max) are kept.
 */
export function schedulerFor(
  type: SchedulerType,
  previous: SweepScheduler | undefined,
  doc: PipelineDoc,
  specOf: SpecLookup,
): SweepScheduler {
  if (type === 'none') return { type: 'none' };
  const kept = previous && previous.type !== 'none' ? previous : undefined;
  const found = defaultResource(doc, specOf);
  const resource = kept?.resource ?? found?.key ?? '';
  const max = kept?.max ?? Math.max(2, found?.value ?? 9);
  const common = {
    resource,
    ...(kept?.metric !== undefined ? { metric: kept.metric } : {}),
    ...(kept?.mode !== undefined ? { mode: kept.mode } : {}),
  };
  if (type === 'pbt') return { type, ...common, interval: 1, max, quantile: 0.25 };
  const min = kept && kept.type !== 'pbt' ? (kept.min ?? 1) : 1;
  const reductionFactor = kept && kept.type !== 'pbt' ? (kept.reductionFactor ?? 3) : 3;
  return { type, ...common, min, max, reductionFactor };
}

/** The params of one node a sweep covers (its space keys `nodeId.param`), in the block's order. */
export function sweptParams(sweep: SweepSpec | undefined, nodeId: string): string[] {
  if (!sweep) return [];
  const prefix = `${nodeId}.`;
  return Object.keys(sweep.space)
    .filter((key) => key.startsWith(prefix))
    .map((key) => key.slice(prefix.length));
}

/** The space key of a node's param. */
export function sweepKey(nodeId: string, param: string): string {
  return `${nodeId}.${param}`;
}

/**
 * What "Sweep this param" adds for a node's param: its space key, the suggested domain, and the
 * block to create when the pipeline has none; null when the param cannot be swept.
 */
export function sweepParamAddition(
  doc: PipelineDoc,
  specOf: SpecLookup,
  nodeId: string,
  param: string,
): { key: string; domain: SweepDomain; init?: SweepSpec } | null {
  const node = doc.nodes.find((candidate) => candidate.id === nodeId);
  const paramSpec = node ? specOf(node.type)?.params[param] : undefined;
  if (!node || !paramSpec) return null;
  const value = Object.hasOwn(node.params, param) ? node.params[param] : paramSpec.default;
  const domain = suggestDomain(param, paramSpec, value);
  if (!domain) return null;
  return { key: sweepKey(nodeId, param), domain, ...(doc.sweep ? {} : { init: newSweep(doc, specOf) }) };
}
