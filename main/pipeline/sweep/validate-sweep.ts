/**
 * Validation of a pipeline's `sweep` block against the pipeline and the node catalog, in the style
 * of pipeline validation: every problem is returned at once, each with a code, a JSON pointer into
 * the block (`/sweep/space/fit.learningRate/logUniform/1`), the node and param where there is one,
 * what was expected and what was received. A valid block resolves to a {@link ResolvedSweep}: the
 * search space, the scheduler with its defaults filled in, and the budget.
 *
 * The pipeline validator calls {@link validateSweep} for a document that has a `sweep`; problems
 * of the pipeline itself (unknown node types, bad params) are its own to report and are not
 * repeated here.
 */
import type { ValidationIssue } from '../../../preload/contract';
import type { NodeCatalog } from '../../nodes/catalog';
import { describeParam, type NodeParams, type NodeSpec, type ParamSpec } from '../../nodes/define';
import { parseEndpoint } from '../graph';
import { checkParam, resolveParams } from '../params';
import { enumerateGrid } from './grid-sampler';
import { hyperbandIterationSize } from './hyperband';
import {
  isCategorical,
  jsonEqual,
  orderByConditions,
  SearchSpace,
  type Condition,
  type Domain,
  type SpaceParam,
} from './space';
import {
  DOMAIN_KINDS,
  MAX_CONCURRENCY,
  MAX_TRIALS,
  SCHEDULER_TYPES,
  SWEEP_ALGORITHMS,
  SWEEP_DEFAULTS,
  SWEEP_MODES,
  type DomainKind,
  type JsonValue,
  type SweepAlgorithm,
  type SweepMode,
  type SweepObjective,
  type SweepSpec,
} from './spec';

/** Fields every early-stopping scheduler resolves to. */
interface ResolvedSchedulerCommon {
  /** The resource param, `"node.param"`, and its parts. */
  resource: string;
  nodeId: string;
  param: string;
  /** The `val_*` metric of the resource's node that decisions read, and its direction. */
  metric: string;
  mode: SweepMode;
  max: number;
}

/** A scheduler with every default filled in. */
export type ResolvedScheduler =
  | { type: 'none' }
  | (ResolvedSchedulerCommon & { type: 'asha' | 'hyperband'; min: number; reductionFactor: number })
  | (ResolvedSchedulerCommon & {
      type: 'pbt';
      interval: number;
      quantile: number;
      resampleProbability: number;
      perturbation: [number, number];
      mutable: string[];
    });

/** A valid sweep block with every default filled in: what samplers and schedulers are built from. */
export interface ResolvedSweep {
  objective: SweepObjective;
  space: SearchSpace;
  algorithm: SweepAlgorithm;
  scheduler: ResolvedScheduler;
  trials: number;
  concurrency: number;
  seed: number;
  /** The block as written. */
  spec: SweepSpec;
}

type Json = Record<string, unknown>;

/** A node of the document, its params resolved (defaults applied) only when a check needs them. */
class NodeEntry {
  private resolved?: NodeParams;

  constructor(
    private readonly id: string,
    private readonly index: number,
    private readonly given: Json,
    readonly spec: NodeSpec | undefined,
  ) {}

  get params(): NodeParams {
    this.resolved ??= this.spec
      ? resolveParams(this.id, this.spec, this.given, `/nodes/${this.index}/params`).params
      : (this.given as NodeParams);
    return this.resolved;
  }
}

/** A `node.param` key that names a param of a known node type. */
interface ParamTarget {
  key: string;
  nodeId: string;
  param: string;
  spec: ParamSpec;
  node: NodeSpec;
  /** The value the pipeline gives it (its default when unset). */
  value: unknown;
}

const TOP_FIELDS = ['objective', 'space', 'algorithm', 'scheduler', 'trials', 'concurrency', 'seed'];
const OBJECTIVE_FIELDS = ['node', 'metric', 'mode'];
const DOMAIN_FIELDS = [...DOMAIN_KINDS, 'when', 'log'];
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

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A value quoted for a message, cut short: a sweep block may hold long lists. */
function quote(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    // JSON.stringify answers undefined for functions and symbols, which a parsed file cannot hold.
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Names for a message, the first ten of them: a pipeline may have thousands of nodes. */
function list(names: Iterable<string>): string {
  const all = [...names];
  if (all.length === 0) return '(none)';
  return all.length > 10 ? `${all.slice(0, 10).join(', ')} and ${all.length - 10} more` : all.join(', ');
}

/** One segment of a JSON pointer (RFC 6901). */
function segment(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

function kindsOf(domain: Json): DomainKind[] {
  return DOMAIN_KINDS.filter((kind) => Object.hasOwn(domain, kind));
}

class SweepIssues {
  readonly items: ValidationIssue[] = [];

  add(
    code: string,
    pointer: string,
    message: string,
    fields: { expected?: string; received?: unknown; nodeId?: string; param?: string } = {},
  ): void {
    this.items.push({ code, message, pointer, ...fields });
  }

  unknownFields(value: Json, allowed: readonly string[], pointer: string, where: string): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.add('UNKNOWN_FIELD', `${pointer}/${segment(key)}`, `${where}: unknown field "${key}"`, {
          expected: `one of ${allowed.join(', ')}`,
          received: key,
        });
      }
    }
  }
}

/** The document's nodes by id (the first of a duplicated id), ignoring their problems. */
function nodeTable(doc: unknown, catalog: NodeCatalog): Map<string, NodeEntry> {
  const table = new Map<string, NodeEntry>();
  const raw = isObject(doc) && Array.isArray(doc.nodes) ? (doc.nodes as unknown[]) : [];
  raw.forEach((node, index) => {
    if (!isObject(node) || typeof node.id !== 'string' || table.has(node.id)) return;
    const spec = typeof node.type === 'string' ? catalog.get(node.type) : undefined;
    table.set(node.id, new NodeEntry(node.id, index, isObject(node.params) ? node.params : {}, spec));
  });
  return table;
}

/** Input port → source node id, per node, from the document's well-formed edges. */
function incoming(doc: unknown): Map<string, Map<string, string>> {
  const result = new Map<string, Map<string, string>>();
  const raw = isObject(doc) && Array.isArray(doc.edges) ? (doc.edges as unknown[]) : [];
  for (const edge of raw) {
    if (!isObject(edge) || typeof edge.from !== 'string' || typeof edge.to !== 'string') continue;
    const from = parseEndpoint(edge.from);
    const to = parseEndpoint(edge.to);
    if (!from || !to) continue;
    const ports = result.get(to.nodeId) ?? new Map<string, string>();
    if (!ports.has(to.port)) ports.set(to.port, from.nodeId);
    result.set(to.nodeId, ports);
  }
  return result;
}

/** Checks `sweep` against the pipeline `doc`; returns every issue and, when there are none, the resolved sweep. */
export function resolveSweep(
  sweep: unknown,
  doc: unknown,
  catalog: NodeCatalog,
): { issues: ValidationIssue[]; sweep?: ResolvedSweep } {
  const issues = new SweepIssues();
  if (!isObject(sweep)) {
    issues.add('SWEEP_INVALID', '/sweep', `"sweep" must be an object, got ${quote(sweep)}`, {
      expected: 'an object with objective, space and the search settings',
      received: sweep,
    });
    return { issues: issues.items };
  }
  // Named again so that the nested functions below see it narrowed.
  const block: Json = sweep;
  const nodes = nodeTable(doc, catalog);
  const edges = incoming(doc);
  issues.unknownFields(sweep, TOP_FIELDS, '/sweep', 'Sweep');

  /** Resolves a `node.param` key, reporting with `code` at `pointer` when it names nothing. */
  const lookup = (key: unknown, pointer: string, code: string, where: string): ParamTarget | undefined => {
    const endpoint = typeof key === 'string' ? parseEndpoint(key) : undefined;
    if (typeof key !== 'string' || !endpoint) {
      issues.add(code, pointer, `${where}: ${quote(key)} must name a param as "node.param"`, {
        expected: '"node.param", e.g. "fit.learningRate"',
        received: key,
      });
      return undefined;
    }
    const node = nodes.get(endpoint.nodeId);
    if (!node) {
      issues.add(code, pointer, `${where}: the pipeline has no node "${endpoint.nodeId}"`, {
        expected: `a node of the pipeline: ${list(nodes.keys())}`,
        received: key,
        nodeId: endpoint.nodeId,
      });
      return undefined;
    }
    // A node of an unknown type is the pipeline validator's to report.
    if (!node.spec) return undefined;
    const spec = node.spec.params[endpoint.port];
    if (!spec) {
      issues.add(
        code,
        pointer,
        `${where}: node "${endpoint.nodeId}" (${node.spec.type}) has no param "${endpoint.port}"`,
        {
          expected: `a param of ${node.spec.type}: ${list(Object.keys(node.spec.params))}`,
          received: key,
          nodeId: endpoint.nodeId,
          param: endpoint.port,
        },
      );
      return undefined;
    }
    return {
      key,
      nodeId: endpoint.nodeId,
      param: endpoint.port,
      spec,
      node: node.spec,
      value: node.params[endpoint.port],
    };
  };

  /** Problems with `value` as a value of `target`'s param, as checkParam words them. */
  const paramProblem = (target: ParamTarget, value: unknown): string | undefined =>
    checkParam(target.nodeId, target.param, target.spec, value, '')[0]?.expected;

  // Objective.
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

  // Space: each key, its domain.
  const params: SpaceParam[] = [];
  const rawConditions = new Map<string, unknown>();
  const rawSpace = sweep.space;
  if (!isObject(rawSpace) || Object.keys(rawSpace).length === 0) {
    issues.add(
      'SWEEP_INVALID',
      '/sweep/space',
      `Sweep: "space" must be an object with at least one "node.param" key, got ${quote(rawSpace)}`,
      {
        expected: 'an object such as {"fit.learningRate": {"logUniform": [0.0001, 0.1]}}',
        received: rawSpace,
      },
    );
  } else {
    for (const [key, rawDomain] of Object.entries(rawSpace)) {
      const pointer = `/sweep/space/${segment(key)}`;
      const where = `Sweep "${key}"`;
      const target = lookup(key, pointer, 'SWEEP_UNKNOWN_PARAM', where);
      if (!isObject(rawDomain)) {
        issues.add(
          'SWEEP_INVALID',
          pointer,
          `${where}: must be an object such as {"uniform": [low, high]}, got ${quote(rawDomain)}`,
          {
            expected: `an object with one of ${DOMAIN_KINDS.join(', ')}`,
            received: rawDomain,
            ...(target ? { nodeId: target.nodeId, param: target.param } : {}),
          },
        );
        continue;
      }
      issues.unknownFields(rawDomain, DOMAIN_FIELDS, pointer, where);
      if (Object.hasOwn(rawDomain, 'when')) rawConditions.set(key, rawDomain.when);
      const domain = parseDomain(rawDomain, pointer, where, target);
      if (target && domain) {
        params.push({ key, nodeId: target.nodeId, param: target.param, domain, when: [] });
      }
    }
  }

  function parseDomain(
    raw: Json,
    pointer: string,
    where: string,
    target: ParamTarget | undefined,
  ): Domain | undefined {
    const at = target ? { nodeId: target.nodeId, param: target.param } : {};
    const kinds = kindsOf(raw);
    if (kinds.length !== 1) {
      issues.add(
        'SWEEP_INVALID',
        pointer,
        kinds.length === 0
          ? `${where}: needs one of ${DOMAIN_KINDS.join(', ')}`
          : `${where}: has ${kinds.join(' and ')}; a param takes exactly one kind`,
        { expected: `exactly one of ${DOMAIN_KINDS.join(', ')}`, received: kinds, ...at },
      );
      return undefined;
    }
    const kind = kinds[0]!;
    const value = raw[kind];
    const kindPointer = `${pointer}/${kind}`;
    if (Object.hasOwn(raw, 'log') && (kind !== 'int' || typeof raw.log !== 'boolean')) {
      issues.add(
        'SWEEP_INVALID',
        `${pointer}/log`,
        kind !== 'int'
          ? `${where}: "log" applies to int only (use logUniform for numbers)`
          : `${where}: "log" must be true or false, got ${quote(raw.log)}`,
        { expected: kind !== 'int' ? 'no "log" field' : 'true or false', received: raw.log, ...at },
      );
    }
    if (kind === 'choice' || kind === 'grid') {
      if (!Array.isArray(value) || value.length === 0) {
        issues.add(
          'SWEEP_INVALID',
          kindPointer,
          `${where}: "${kind}" must be a non-empty list of values, got ${quote(value)}`,
          {
            expected: 'a non-empty list of values',
            received: value,
            ...at,
          },
        );
        return undefined;
      }
      let ok = true;
      value.forEach((item: unknown, index) => {
        const problem = target ? paramProblem(target, item) : undefined;
        if (problem !== undefined) {
          issues.add(
            'SWEEP_RANGE',
            `${kindPointer}/${index}`,
            `${where}: ${kind} value ${quote(item)} is not a valid ${target!.param}: it must be ${problem}`,
            { expected: problem, received: item, ...at },
          );
          ok = false;
        } else if (kind === 'grid' && value.findIndex((other: unknown) => jsonEqual(other, item)) !== index) {
          issues.add(
            'SWEEP_INVALID',
            `${kindPointer}/${index}`,
            `${where}: grid value ${quote(item)} is listed twice`,
            {
              expected: 'distinct grid values',
              received: item,
              ...at,
            },
          );
          ok = false;
        }
      });
      return ok ? { kind, values: structuredClone(value as JsonValue[]) } : undefined;
    }
    // Numeric kinds: the param's kind must fit, the bounds must be a range inside the param's own.
    if (target) {
      const needed = kind === 'int' ? 'integer' : 'number';
      if (target.spec.kind !== needed) {
        const hint =
          target.spec.kind === 'integer'
            ? 'use {"int": [low, high]} (optionally with "log": true)'
            : target.spec.kind === 'number'
              ? 'use {"uniform": [low, high]} or {"logUniform": [low, high]}'
              : 'use {"choice": [...]} or {"grid": [...]}';
        issues.add(
          'SWEEP_PARAM_KIND',
          kindPointer,
          `${where}: ${kind} needs ${needed === 'integer' ? 'an integer' : 'a number'} param, but ${target.param} of ${target.node.type} is ${describeParam(target.spec)}; ${hint}`,
          { expected: `a ${needed} param`, received: target.spec.kind, ...at },
        );
        return undefined;
      }
    }
    const integers = kind === 'int';
    if (
      !Array.isArray(value) ||
      value.length !== 2 ||
      !value.every((bound) => (integers ? isInteger(bound) : isFiniteNumber(bound)))
    ) {
      issues.add(
        'SWEEP_RANGE',
        kindPointer,
        `${where}: "${kind}" must be [low, high], two ${integers ? 'integers' : 'finite numbers'}, got ${quote(value)}`,
        { expected: `[low, high], two ${integers ? 'integers' : 'finite numbers'}`, received: value, ...at },
      );
      return undefined;
    }
    const [low, high] = value as [number, number];
    const log = kind === 'logUniform' || (kind === 'int' && raw.log === true);
    let ok = true;
    if (!(low < high)) {
      issues.add(
        'SWEEP_RANGE',
        kindPointer,
        `${where}: the low bound ${low} must be below the high bound ${high}`,
        {
          expected: 'low < high',
          received: value,
          ...at,
        },
      );
      ok = false;
    }
    const logLow = kind === 'int' ? 1 : 0;
    if (log && !(kind === 'int' ? low >= logLow : low > 0)) {
      issues.add(
        'SWEEP_RANGE',
        `${kindPointer}/0`,
        `${where}: a log scale needs a low bound ${kind === 'int' ? '≥ 1' : 'above 0'}, got ${low}`,
        { expected: kind === 'int' ? 'low ≥ 1' : 'low > 0', received: low, ...at },
      );
      ok = false;
    }
    if (target) {
      [low, high].forEach((bound, index) => {
        const problem = paramProblem(target, bound);
        if (problem !== undefined) {
          issues.add(
            'SWEEP_RANGE',
            `${kindPointer}/${index}`,
            `${where}: the ${index === 0 ? 'low' : 'high'} bound ${bound} is outside ${target.param}'s range: it must be ${problem}`,
            { expected: problem, received: bound, ...at },
          );
          ok = false;
        }
      });
    }
    if (!ok) return undefined;
    if (kind === 'int') return { kind, low, high, log: raw.log === true };
    return { kind, low, high };
  }

  // Conditions: each names a param and a value it can take; no cycles.
  const fixed: Record<string, JsonValue> = {};
  const byKey = new Map(params.map((param) => [param.key, param]));
  for (const [key, rawWhen] of rawConditions) {
    const pointer = `/sweep/space/${segment(key)}/when`;
    const where = `Sweep "${key}"`;
    if (!isObject(rawWhen) || Object.keys(rawWhen).length === 0) {
      issues.add(
        'SWEEP_CONDITION',
        pointer,
        `${where}: "when" must be an object of "node.param": value, got ${quote(rawWhen)}`,
        {
          expected: 'an object such as {"fit.optimizer": "momentum"}',
          received: rawWhen,
        },
      );
      continue;
    }
    const conditions: Condition[] = [];
    for (const [conditionKey, required] of Object.entries(rawWhen)) {
      const at = `${pointer}/${segment(conditionKey)}`;
      if (conditionKey === key) {
        issues.add('SWEEP_CONDITION', at, `${where}: a param cannot be conditional on itself`, {
          expected: 'another param',
          received: conditionKey,
        });
        continue;
      }
      const target = lookup(conditionKey, at, 'SWEEP_CONDITION', `${where}: "when"`);
      if (!target) continue;
      const never = (reason: string, expected: string) =>
        issues.add(
          'SWEEP_CONDITION',
          at,
          `${where}: the condition ${conditionKey} = ${quote(required)} never holds: ${reason}`,
          {
            expected,
            received: required,
            nodeId: target.nodeId,
            param: target.param,
          },
        );
      const problem = paramProblem(target, required);
      const swept = byKey.get(conditionKey);
      if (problem !== undefined) {
        never(`${target.param} must be ${problem}`, problem);
      } else if (swept) {
        const domain = swept.domain;
        if (isCategorical(domain)) {
          if (!domain.values.some((value) => jsonEqual(value, required)))
            never(
              `the sweep's ${domain.kind} for it does not include that value`,
              `one of ${quote(domain.values)}`,
            );
        } else if (domain.kind === 'int') {
          if (!isInteger(required) || required < domain.low || required > domain.high)
            never(
              `the sweep draws it from ${domain.low} to ${domain.high}`,
              `an integer from ${domain.low} to ${domain.high}`,
            );
        } else {
          never(
            'a continuous param almost never takes one exact value; sweep it as a choice',
            'a choice, grid or int param',
          );
        }
      } else if (isObject(rawSpace) && Object.hasOwn(rawSpace, conditionKey)) {
        // Swept, but its domain was refused above: nothing more can be said about the condition.
      } else if (!jsonEqual(target.value, required)) {
        never(
          `the pipeline sets it to ${quote(target.value)} and the sweep does not vary it`,
          quote(target.value),
        );
      } else {
        fixed[conditionKey] = structuredClone(target.value as JsonValue);
      }
      conditions.push({ key: conditionKey, value: structuredClone(required as JsonValue) });
    }
    const param = byKey.get(key);
    if (param) param.when = conditions;
  }
  const ordered = orderByConditions(params);
  if (!ordered) {
    const placed = new Set<string>();
    let progress = true;
    while (progress) {
      progress = false;
      for (const param of params) {
        if (!placed.has(param.key) && param.when.every((c) => !byKey.has(c.key) || placed.has(c.key))) {
          placed.add(param.key);
          progress = true;
        }
      }
    }
    const cyclic = params.filter((param) => !placed.has(param.key)).map((param) => param.key);
    issues.add(
      'SWEEP_CONDITION',
      `/sweep/space/${segment(cyclic[0]!)}/when`,
      `Sweep: the "when" conditions of ${cyclic.join(', ')} depend on each other in a cycle`,
      { expected: 'conditions without cycles', received: cyclic },
    );
  }

  // Algorithm.
  let algorithm: SweepAlgorithm = SWEEP_DEFAULTS.algorithm;
  if (sweep.algorithm !== undefined) {
    if (
      typeof sweep.algorithm === 'string' &&
      (SWEEP_ALGORITHMS as readonly string[]).includes(sweep.algorithm)
    ) {
      algorithm = sweep.algorithm as SweepAlgorithm;
    } else {
      issues.add(
        'SWEEP_INVALID',
        '/sweep/algorithm',
        `Sweep: "algorithm" must be one of ${SWEEP_ALGORITHMS.join(', ')}, got ${quote(sweep.algorithm)}`,
        {
          expected: `one of ${SWEEP_ALGORITHMS.join(', ')}`,
          received: sweep.algorithm,
        },
      );
    }
  }
  if (algorithm === 'grid') {
    for (const param of params) {
      if (!isCategorical(param.domain)) {
        issues.add(
          'SWEEP_PARAM_KIND',
          `/sweep/space/${segment(param.key)}`,
          `Sweep "${param.key}": the grid algorithm enumerates grid and choice params only, and this one is ${param.domain.kind}; list its values with "grid"`,
          {
            expected: 'grid or choice',
            received: param.domain.kind,
            nodeId: param.nodeId,
            param: param.param,
          },
        );
      }
    }
  }

  // Scheduler.
  const scheduler = resolveScheduler();

  function resolveScheduler(): ResolvedScheduler | undefined {
    const raw = block.scheduler;
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
    const integerField = (
      field: string,
      fallback: number | undefined,
      atLeast: number,
    ): number | undefined => {
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
      if (
        resource &&
        resource.spec.kind === 'integer' &&
        field !== 'reductionFactor' &&
        field !== 'interval'
      ) {
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

  /** Params whose value > 0 gives `nodeId` validation data: its own split and its datasets'. */
  function validationKeys(nodeId: string): string[] {
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
  function hasValidation(nodeId: string): boolean {
    return validationKeys(nodeId).some((key) => {
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

  // An objective on a validation metric needs validation data, too.
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

  // Budget.
  const space = ordered ? new SearchSpace(ordered, fixed) : undefined;
  let gridSize: number | undefined;
  if (algorithm === 'grid' && space && params.every((param) => isCategorical(param.domain))) {
    const points = enumerateGrid(space);
    if (!points) {
      issues.add('SWEEP_INVALID', '/sweep/space', `Sweep: the grid has more than ${MAX_TRIALS} points`, {
        expected: `at most ${MAX_TRIALS} grid points`,
        received: 'more',
      });
    } else gridSize = points.length;
  }
  let trials: number | undefined;
  if (sweep.trials !== undefined) {
    if (!isInteger(sweep.trials) || sweep.trials < 1 || sweep.trials > MAX_TRIALS) {
      issues.add(
        'SWEEP_INVALID',
        '/sweep/trials',
        `Sweep: "trials" must be an integer from 1 to ${MAX_TRIALS}, got ${quote(sweep.trials)}`,
        {
          expected: `an integer from 1 to ${MAX_TRIALS}`,
          received: sweep.trials,
        },
      );
    } else if (gridSize !== undefined && sweep.trials > gridSize) {
      issues.add(
        'SWEEP_INVALID',
        '/sweep/trials',
        `Sweep: "trials" is ${sweep.trials}, but the grid has only ${gridSize} points`,
        {
          expected: `at most ${gridSize}`,
          received: sweep.trials,
        },
      );
    } else trials = sweep.trials;
  } else if (algorithm === 'grid') {
    trials = gridSize;
  } else if (scheduler?.type === 'hyperband') {
    trials = hyperbandIterationSize(scheduler.min, scheduler.max, scheduler.reductionFactor);
  } else {
    issues.add('SWEEP_INVALID', '/sweep/trials', `Sweep: "trials" is required with algorithm ${algorithm}`, {
      expected: `an integer from 1 to ${MAX_TRIALS}`,
      received: undefined,
    });
  }
  if (trials !== undefined && scheduler?.type === 'pbt' && trials < 2) {
    issues.add(
      'SWEEP_INVALID',
      '/sweep/trials',
      `Sweep: population-based training needs a population of at least 2 trials, got ${trials}`,
      {
        expected: 'an integer ≥ 2',
        received: trials,
      },
    );
  }
  const concurrency = sweep.concurrency ?? SWEEP_DEFAULTS.concurrency;
  if (!isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    issues.add(
      'SWEEP_INVALID',
      '/sweep/concurrency',
      `Sweep: "concurrency" must be an integer from 1 to ${MAX_CONCURRENCY}, got ${quote(concurrency)}`,
      {
        expected: `an integer from 1 to ${MAX_CONCURRENCY}`,
        received: concurrency,
      },
    );
  }
  const docSeed =
    isObject(doc) && isInteger(doc.seed) && doc.seed >= 0 && doc.seed <= 0xffffffff ? doc.seed : 0;
  const seed = sweep.seed ?? docSeed;
  if (!isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    issues.add(
      'SWEEP_INVALID',
      '/sweep/seed',
      `Sweep: "seed" must be an integer from 0 to 4294967295, got ${quote(seed)}`,
      {
        expected: 'an integer from 0 to 4294967295',
        received: seed,
      },
    );
  }

  if (issues.items.length > 0 || !objective || !space || !scheduler || trials === undefined) {
    return { issues: issues.items };
  }
  return {
    issues: [],
    sweep: {
      objective,
      space,
      algorithm,
      scheduler,
      trials,
      concurrency: concurrency as number,
      seed: seed as number,
      spec: structuredClone(sweep) as unknown as SweepSpec,
    },
  };
}

/**
 * Every problem with a pipeline's `sweep` block (empty when it is valid). For the pipeline
 * validator: `for (const item of validateSweep(doc.sweep, doc, catalog)) issues.add(item);`.
 */
export function validateSweep(sweep: unknown, doc: unknown, catalog: NodeCatalog): ValidationIssue[] {
  return resolveSweep(sweep, doc, catalog).issues;
}
