/**
 * The checks of a sweep block's `space` (validate-sweep.ts): each key names a param, each domain is
 * one kind whose values or bounds fit the param, and the `when` conditions can hold and have no
 * cycles.
 */
import { describeParam } from '../../nodes/define';
import {
  isCategorical,
  jsonEqual,
  orderByConditions,
  type Condition,
  type Domain,
  type SpaceParam,
} from './space';
import { DOMAIN_KINDS, type DomainKind, type JsonValue } from './spec';
import {
  isFiniteNumber,
  isInteger,
  isObject,
  quote,
  segment,
  type Json,
  type ParamTarget,
  type SweepContext,
} from './sweep-checks';

const DOMAIN_FIELDS = [...DOMAIN_KINDS, 'when', 'log'];

function kindsOf(domain: Json): DomainKind[] {
  return DOMAIN_KINDS.filter((kind) => Object.hasOwn(domain, kind));
}

/** The space's params as checked: those whose key and domain are valid, with their conditions. */
export interface CheckedSpace {
  params: SpaceParam[];
  byKey: Map<string, SpaceParam>;
  /** Conditions on params the sweep does not vary, which hold with the pipeline's value. */
  fixed: Record<string, JsonValue>;
  /** The params in an order where each comes after those its conditions read; undefined on a cycle. */
  ordered: SpaceParam[] | undefined;
}

/** Checks the block's `space`, reporting every problem into the context's issues. */
export function checkSpace(sweep: Json, context: SweepContext): CheckedSpace {
  const { issues, lookup, paramProblem } = context;
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
  return { params, byKey, fixed, ordered };
}
