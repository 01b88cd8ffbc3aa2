/**
 * The checks of a sweep block's `objective` and `scheduler` (validate-sweep.ts): the objective
 * names a metric its node reports, the scheduler's resource, budget and metric fit the pipeline,
 * and a validation metric has validation data in every trial.
 */
import { describeParam } from '../../nodes/define';
import { parseEndpoint } from '../graph';
import type { ResolvedScheduler } from './resolved-sweep';
import { isCategorical, type SpaceParam } from './space';
import { SCHEDULER_TYPES, SWEEP_DEFAULTS, SWEEP_MODES, type SweepMode, type SweepObjective } from './spec';
import {
  isFiniteNumber,
  isInteger,
  isObject,
  list,
  quote,
  type Json,
  type SweepContext,
} from './sweep-checks';

const OBJECTIVE_FIELDS = ['node', 'metric', 'mode'];
const SCHEDULER_FIELDS: Record<string, string[]> = {
  none: ['type'],
  asha: ['type', 'resource', 'metric', 'mode', 'min', 'max', 'reductionFactor'],
  hyperband: ['type', 'resource', 'metric', 'mode', 'min', 'max', 'reductionFactor'],
  pbt: [
    'type',
    'resource',
    'metric',
    'mode',
    'max',
    'interval',
    'quantile',
    'resampleProbability',
    'perturbation',
    'mutable',
  ],
};

/** Checks the block's `objective`; the objective when it is valid. */
export function checkObjective(sweep: Json, context: SweepContext): SweepObjective | undefined {
  const { issues, nodes } = context;
  let objective: SweepObjective | undefined;
  const rawObjective = sweep.objective;
  if (!isObject(rawObjective)) {
    issues.add(
      'SWEEP_OBJECTIVE',
      '/sweep/objective',
      `Sweep: "objective" must be {"node", "metric", "mode"}, got ${quote(rawObjective)}`,
      {
        expected: '{"node": a node id, "metric": a metric it reports, "mode": "min" or "max"}',
        received: rawObjective,
      },
    );
  } else {
    issues.unknownFields(rawObjective, OBJECTIVE_FIELDS, '/sweep/objective', 'Sweep objective');
    const { node: nodeId, metric, mode } = rawObjective;
    const node = typeof nodeId === 'string' ? nodes.get(nodeId) : undefined;
    let ok = true;
    if (typeof nodeId !== 'string' || !node) {
      issues.add(
        'SWEEP_OBJECTIVE',
        '/sweep/objective/node',
        `Sweep objective: the pipeline has no node ${quote(nodeId)}`,
        {
          expected: `a node of the pipeline: ${list(nodes.keys())}`,
          received: nodeId,
        },
      );
      ok = false;
    } else if (node.spec) {
      const produced = node.spec.metrics ?? [];
      if (typeof metric !== 'string' || !produced.includes(metric)) {
        issues.add(
          'SWEEP_OBJECTIVE',
          '/sweep/objective/metric',
          produced.length > 0
            ? `Sweep objective: node "${nodeId}" (${node.spec.type}) reports no metric ${quote(metric)}`
            : `Sweep objective: node "${nodeId}" (${node.spec.type}) reports no metric a sweep can read`,
          { expected: `a metric of ${node.spec.type}: ${list(produced)}`, received: metric, nodeId },
        );
        ok = false;
      }
    }
    if (typeof mode !== 'string' || !(SWEEP_MODES as readonly string[]).includes(mode)) {
      issues.add(
        'SWEEP_OBJECTIVE',
        '/sweep/objective/mode',
        `Sweep objective: "mode" must be "min" or "max", got ${quote(mode)}`,
        {
          expected: '"min" or "max"',
          received: mode,
        },
      );
      ok = false;
    }
    if (ok && typeof nodeId === 'string' && typeof metric === 'string') {
      objective = { node: nodeId, metric, mode: mode as SweepMode };
    }
  }
  return objective;
}

/** The space's params as the scheduler checks read them (space-checks.ts). */
export interface SchedulerSpace {
  params: SpaceParam[];
  byKey: Map<string, SpaceParam>;
}

/** Checks the block's `scheduler`; the scheduler with its defaults filled in when it is valid. */
export function resolveScheduler(
  sweep: Json,
  context: SweepContext,
  objective: SweepObjective | undefined,
  { params, byKey }: SchedulerSpace,
): ResolvedScheduler | undefined {
  const { issues, lookup, paramProblem } = context;
  const rawSpace = sweep.space;
  const validationKeys = (nodeId: string) => validationKeysOf(context, nodeId);
  const hasValidation = (nodeId: string) => hasValidationIn(context, byKey, nodeId);
  const raw = sweep.scheduler;
  if (raw === undefined) return { type: 'none' };
  const pointer = '/sweep/scheduler';
  if (
    !isObject(raw) ||
    typeof raw.type !== 'string' ||
    !(SCHEDULER_TYPES as readonly string[]).includes(raw.type)
  ) {
    issues.add(
      'SWEEP_SCHEDULER',
      isObject(raw) ? `${pointer}/type` : pointer,
      `Sweep scheduler: "type" must be one of ${SCHEDULER_TYPES.join(', ')}, got ${quote(isObject(raw) ? raw.type : raw)}`,
      {
        expected: `{"type": one of ${SCHEDULER_TYPES.join(', ')}, ...}`,
        received: isObject(raw) ? raw.type : raw,
      },
    );
    return undefined;
  }
  const type = raw.type as (typeof SCHEDULER_TYPES)[number];
  issues.unknownFields(raw, SCHEDULER_FIELDS[type]!, pointer, `Sweep scheduler (${type})`);
  if (type === 'none') return { type: 'none' };
  const where = `Sweep scheduler (${type})`;
  let ok = true;
  const bad = (code: string, field: string, message: string, expected: string, received: unknown) => {
    issues.add(code, `${pointer}/${field}`, `${where}: ${message}`, { expected, received });
    ok = false;
  };

  const resource =
    raw.resource === undefined
      ? undefined
      : lookup(raw.resource, `${pointer}/resource`, 'SWEEP_UNKNOWN_PARAM', where);
  if (raw.resource === undefined) {
    bad(
      'SWEEP_SCHEDULER',
      'resource',
      '"resource" is required: the integer param that measures a trial’s budget, e.g. "fit.epochs"',
      'an integer param such as "fit.epochs"',
      undefined,
    );
  } else if (!resource) {
    ok = false;
  } else if (resource.spec.kind !== 'integer') {
    bad(
      'SWEEP_SCHEDULER',
      'resource',
      `the resource ${resource.key} must be an integer param such as "fit.epochs", but it is ${describeParam(resource.spec)}`,
      'an integer param',
      resource.spec.kind,
    );
  } else if (Object.hasOwn(isObject(rawSpace) ? rawSpace : {}, resource.key)) {
    bad(
      'SWEEP_SCHEDULER',
      'resource',
      `the resource ${resource.key} is set by the scheduler and cannot also be in the space`,
      'a param not in the space',
      resource.key,
    );
  }

  // The budget: max (every scheduler), min and η (halving schedulers).
  const integerField = (field: string, fallback: number | undefined, atLeast: number): number | undefined => {
    const value = raw[field] ?? fallback;
    if (!isInteger(value) || value < atLeast) {
      bad(
        'SWEEP_SCHEDULER',
        field,
        `"${field}" must be an integer ≥ ${atLeast}, got ${quote(value)}`,
        `an integer ≥ ${atLeast}`,
        value,
      );
      return undefined;
    }
    if (resource && resource.spec.kind === 'integer' && field !== 'reductionFactor' && field !== 'interval') {
      const problem = paramProblem(resource, value);
      if (problem !== undefined) {
        bad(
          'SWEEP_RANGE',
          field,
          `"${field}" ${value} is outside ${resource.key}'s range: it must be ${problem}`,
          problem,
          value,
        );
        return undefined;
      }
    }
    return value;
  };
  const resourceDefault = resource && isInteger(resource.value) ? resource.value : undefined;
  const max = integerField('max', resourceDefault, 1);

  // The metric decisions read: a per-epoch validation metric of the resource's node.
  let metric: string | undefined;
  let mode: SweepMode | undefined;
  if (resource) {
    const perEpoch = (resource.node.metrics ?? []).filter((name) => name.startsWith('val_'));
    if (raw.metric !== undefined) {
      if (typeof raw.metric !== 'string' || !perEpoch.includes(raw.metric)) {
        bad(
          'SWEEP_SCHEDULER',
          'metric',
          `node "${resource.nodeId}" (${resource.node.type}) reports no per-epoch validation metric ${quote(raw.metric)}`,
          `one of ${list(perEpoch)}`,
          raw.metric,
        );
      } else metric = raw.metric;
      if (raw.mode === undefined) {
        bad(
          'SWEEP_SCHEDULER',
          'mode',
          `"mode" is required with an explicit "metric": is ${quote(raw.metric)} better low ("min") or high ("max")?`,
          '"min" or "max"',
          undefined,
        );
      }
    } else if (perEpoch.length === 0) {
      bad(
        'SWEEP_SCHEDULER',
        'resource',
        `node "${resource.nodeId}" (${resource.node.type}) reports no per-epoch validation metric for the scheduler to rank trials by`,
        'the resource of a node with val_* metrics (train, distill, prune)',
        resource.key,
      );
    } else if (objective) {
      const wanted =
        objective.node === resource.nodeId && objective.metric.startsWith('val_')
          ? objective.metric
          : objective.mode === 'max'
            ? 'val_accuracy'
            : 'val_loss';
      if (perEpoch.includes(wanted)) {
        metric = wanted;
        mode = objective.mode;
      } else {
        bad(
          'SWEEP_SCHEDULER',
          'metric',
          `node "${resource.nodeId}" (${resource.node.type}) reports no ${wanted}; set "metric" and "mode"`,
          `one of ${list(perEpoch)}`,
          undefined,
        );
      }
    } else {
      ok = false;
    }
    if (raw.mode !== undefined) {
      if (typeof raw.mode === 'string' && (SWEEP_MODES as readonly string[]).includes(raw.mode))
        mode = raw.mode as SweepMode;
      else
        bad(
          'SWEEP_SCHEDULER',
          'mode',
          `"mode" must be "min" or "max", got ${quote(raw.mode)}`,
          '"min" or "max"',
          raw.mode,
        );
    }
    if (metric && !hasValidation(resource.nodeId)) {
      issues.add(
        'SWEEP_NO_VALIDATION',
        pointer,
        `${where}: decisions read ${resource.nodeId}'s per-epoch ${metric}, which needs a validation split: ` +
          `set ${validationKeys(resource.nodeId).join(' or ')} above 0`,
        {
          expected: 'a validation split above 0',
          received: 0,
          nodeId: resource.nodeId,
          param: 'validationSplit',
        },
      );
      ok = false;
    }
  }

  if (type === 'asha' || type === 'hyperband') {
    const min = integerField('min', SWEEP_DEFAULTS.min, 1);
    const reductionFactor = integerField('reductionFactor', SWEEP_DEFAULTS.reductionFactor, 2);
    if (min !== undefined && max !== undefined && min >= max) {
      bad(
        'SWEEP_SCHEDULER',
        'max',
        `"max" (${max}) must be above "min" (${min})`,
        `an integer above ${min}`,
        max,
      );
    }
    if (!ok || !resource || min === undefined || max === undefined || !reductionFactor || !metric || !mode)
      return undefined;
    return {
      type,
      resource: resource.key,
      nodeId: resource.nodeId,
      param: resource.param,
      metric,
      mode,
      max,
      min,
      reductionFactor,
    };
  }

  // PBT.
  const interval = integerField('interval', undefined, 1);
  if (interval !== undefined && max !== undefined && interval >= max) {
    bad(
      'SWEEP_SCHEDULER',
      'interval',
      `"interval" (${interval}) must be below "max" (${max}), or no trial would ever exploit`,
      `an integer below ${max}`,
      interval,
    );
  }
  const quantile = raw.quantile ?? SWEEP_DEFAULTS.quantile;
  if (!isFiniteNumber(quantile) || quantile <= 0 || quantile > 0.5) {
    bad(
      'SWEEP_SCHEDULER',
      'quantile',
      `"quantile" must be a number in (0, 0.5], got ${quote(quantile)}`,
      'a number with 0 < quantile ≤ 0.5',
      quantile,
    );
  }
  const resampleProbability = raw.resampleProbability ?? SWEEP_DEFAULTS.resampleProbability;
  if (!isFiniteNumber(resampleProbability) || resampleProbability < 0 || resampleProbability > 1) {
    bad(
      'SWEEP_SCHEDULER',
      'resampleProbability',
      `"resampleProbability" must be a number from 0 to 1, got ${quote(resampleProbability)}`,
      'a number with 0 ≤ p ≤ 1',
      resampleProbability,
    );
  }
  const perturbation: unknown = raw.perturbation ?? [...SWEEP_DEFAULTS.perturbation];
  const [down, up] = Array.isArray(perturbation) ? (perturbation as unknown[]) : [];
  if (
    !Array.isArray(perturbation) ||
    perturbation.length !== 2 ||
    !isFiniteNumber(down) ||
    !isFiniteNumber(up) ||
    !(down > 0 && down < up)
  ) {
    bad(
      'SWEEP_SCHEDULER',
      'perturbation',
      `"perturbation" must be [down, up] with 0 < down < up, got ${quote(perturbation)}`,
      '[down, up] with 0 < down < up, e.g. [0.8, 1.2]',
      perturbation,
    );
  }
  let mutable: string[] = [];
  if (raw.mutable === undefined) {
    mutable = params
      .filter((param) => param.nodeId === resource?.nodeId && !isCategorical(param.domain))
      .map((param) => param.key);
  } else if (!Array.isArray(raw.mutable)) {
    bad(
      'SWEEP_SCHEDULER',
      'mutable',
      `"mutable" must be a list of space keys, got ${quote(raw.mutable)}`,
      'a list of space keys',
      raw.mutable,
    );
  } else {
    raw.mutable.forEach((key: unknown, index) => {
      const at = `mutable/${index}`;
      if (typeof key !== 'string' || !(isObject(rawSpace) && Object.hasOwn(rawSpace, key))) {
        bad(
          'SWEEP_SCHEDULER',
          at,
          `${quote(key)} is not a key of the space`,
          `one of ${list(isObject(rawSpace) ? Object.keys(rawSpace) : [])}`,
          key,
        );
      } else if (resource && parseEndpoint(key)?.nodeId !== resource.nodeId) {
        bad(
          'SWEEP_SCHEDULER',
          at,
          `${key} cannot change when a trial continues from another's checkpoint: only params of "${resource.nodeId}" can`,
          `a param of "${resource.nodeId}"`,
          key,
        );
      } else if (!mutable.includes(key)) mutable.push(key);
    });
  }
  if (!ok || !resource || max === undefined || interval === undefined || !metric || !mode) return undefined;
  return {
    type: 'pbt',
    resource: resource.key,
    nodeId: resource.nodeId,
    param: resource.param,
    metric,
    mode,
    max,
    interval,
    quantile: quantile as number,
    resampleProbability: resampleProbability as number,
    perturbation: [down as number, up as number],
    mutable,
  };
}

/** An objective on a validation metric needs validation data, too. */
export function checkObjectiveValidation(
  context: SweepContext,
  objective: SweepObjective | undefined,
  byKey: Map<string, SpaceParam>,
): void {
  const { issues } = context;
  const validationKeys = (nodeId: string) => validationKeysOf(context, nodeId);
  const hasValidation = (nodeId: string) => hasValidationIn(context, byKey, nodeId);
  if (objective?.metric.startsWith('val_') && !hasValidation(objective.node)) {
    const keys = validationKeys(objective.node);
    issues.add(
      'SWEEP_NO_VALIDATION',
      '/sweep/objective/metric',
      `Sweep objective: ${objective.node}'s ${objective.metric} is measured on a validation split` +
        (keys.length > 0 ? `: set ${keys.join(' or ')} above 0` : ', and it has none'),
      { expected: 'a validation split above 0', received: 0, nodeId: objective.node },
    );
  }
}

/** Params whose value > 0 gives `nodeId` validation data: its own split and its datasets'. */
function validationKeysOf({ nodes, edges }: SweepContext, nodeId: string): string[] {
  const keys: string[] = [];
  const node = nodes.get(nodeId);
  if (node?.spec?.params.validationSplit) keys.push(`${nodeId}.validationSplit`);
  for (const [port, source] of edges.get(nodeId) ?? []) {
    if (node?.spec?.inputs[port]?.type !== 'dataset') continue;
    if (nodes.get(source)?.spec?.params.validationSplit) keys.push(`${source}.validationSplit`);
  }
  return keys;
}

/** Whether every trial of the sweep gives `nodeId` a validation split. */
function hasValidationIn(context: SweepContext, byKey: Map<string, SpaceParam>, nodeId: string): boolean {
  const { nodes } = context;
  return validationKeysOf(context, nodeId).some((key) => {
    const [owner, param] = key.split('.') as [string, string];
    const fromPipeline = nodes.get(owner)?.params[param];
    const pipelinePositive = typeof fromPipeline === 'number' && fromPipeline > 0;
    const swept = byKey.get(key);
    if (!swept) return pipelinePositive;
    const domain = swept.domain;
    const sweptPositive = isCategorical(domain)
      ? domain.values.every((value) => typeof value === 'number' && value > 0)
      : domain.low > 0;
    // A conditional param may be left out of a trial, which then keeps the pipeline's value.
    return sweptPositive && (swept.when.length === 0 || pipelinePositive);
  });
}
