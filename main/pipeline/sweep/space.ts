/**
 * A validated search space: each swept `node.param` with its domain and its `when` conditions,
 * in an order where every condition's param comes before the params it controls, plus the
 * pipeline's own values of the unswept params that conditions name.
 */
import { DistilleryError } from '../../base/errors';
import type { JsonValue } from './spec';
import type { Rng } from './random';

/** A domain after validation: bounds as named numbers, kinds as a tag. */
export type Domain =
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'logUniform'; low: number; high: number }
  | { kind: 'int'; low: number; high: number; log: boolean }
  | { kind: 'choice'; values: JsonValue[] }
  | { kind: 'grid'; values: JsonValue[] };

/** One `when` entry: the param named by `key` must equal `value`. */
export interface Condition {
  key: string;
  value: JsonValue;
}

/** One swept param. */
export interface SpaceParam {
  /** `"node.param"`, as written in the space. */
  key: string;
  nodeId: string;
  param: string;
  domain: Domain;
  /** All must hold for the param to take part in a trial; empty = always. */
  when: Condition[];
}

/** A trial's configuration: space key → value, for the params active in that trial only. */
export type TrialParams = Record<string, JsonValue>;

/** Structural equality of JSON values (object key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => Object.hasOwn(right, key) && jsonEqual(left[key], right[key]))
  );
}

/** A deep copy of a JSON value, so trials never share arrays with the space or each other. */
export function cloneJson<T extends JsonValue>(value: T): T {
  return typeof value === 'object' && value !== null ? structuredClone(value) : value;
}

/** Whether a domain is a finite list of values (as opposed to a numeric range). */
export function isCategorical(domain: Domain): domain is Domain & { kind: 'choice' | 'grid' } {
  return domain.kind === 'choice' || domain.kind === 'grid';
}

/**
 * Orders params so that each comes after the params its conditions name, keeping the written order
 * otherwise. Returns undefined when conditions form a cycle.
 */
export function orderByConditions(params: readonly SpaceParam[]): SpaceParam[] | undefined {
  const byKey = new Map(params.map((param) => [param.key, param]));
  const placed = new Set<string>();
  const ordered: SpaceParam[] = [];
  while (ordered.length < params.length) {
    const next = params.find(
      (param) =>
        !placed.has(param.key) &&
        param.when.every((condition) => !byKey.has(condition.key) || placed.has(condition.key)),
    );
    if (!next) return undefined;
    placed.add(next.key);
    ordered.push(next);
  }
  return ordered;
}

export class SearchSpace {
  /** Conditions' params first; otherwise in the order written. */
  readonly params: readonly SpaceParam[];
  private readonly byKey: ReadonlyMap<string, SpaceParam>;
  private readonly fixed: ReadonlyMap<string, JsonValue>;

  /**
   * @param fixed The pipeline's values of the unswept params that conditions name, by key.
   * @throws DistilleryError `SWEEP_CONDITION` when conditions form a cycle (validation refuses
   *   such spaces first).
   */
  constructor(params: readonly SpaceParam[], fixed: Readonly<Record<string, JsonValue>> = {}) {
    const ordered = orderByConditions(params);
    if (!ordered) {
      throw new DistilleryError('SWEEP_CONDITION', 'The sweep space\'s "when" conditions form a cycle', {
        received: params.map((param) => param.key),
      });
    }
    this.params = ordered;
    this.byKey = new Map(ordered.map((param) => [param.key, param]));
    this.fixed = new Map(Object.entries(fixed));
  }

  get keys(): string[] {
    return this.params.map((param) => param.key);
  }

  get(key: string): SpaceParam | undefined {
    return this.byKey.get(key);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /**
   * Whether `param` takes part in a trial whose earlier params are `values`: a condition on a
   * swept param holds when that param is active with the given value; one on an unswept param,
   * when the pipeline sets it to the given value.
   */
  isActive(param: SpaceParam, values: Readonly<TrialParams>): boolean {
    return param.when.every((condition) => {
      const actual = this.byKey.has(condition.key)
        ? Object.hasOwn(values, condition.key)
          ? values[condition.key]
          : undefined
        : this.fixed.get(condition.key);
      return actual !== undefined && jsonEqual(actual, condition.value);
    });
  }

  /**
   * Makes `values` consistent with the conditions: params that became inactive are dropped, and
   * active params without a value get one from `draw`. Params are visited in condition order, so
   * a param dropped early deactivates the params that depend on it.
   */
  complete(values: Readonly<TrialParams>, draw: (param: SpaceParam) => JsonValue): TrialParams {
    const result: TrialParams = {};
    for (const param of this.params) {
      if (!this.isActive(param, result)) continue;
      result[param.key] = Object.hasOwn(values, param.key) ? cloneJson(values[param.key]!) : draw(param);
    }
    return result;
  }
}

/** Clamps a number into a numeric domain (rounding for `int`). */
export function clampToDomain(
  domain: Domain & { kind: 'uniform' | 'logUniform' | 'int' },
  value: number,
): number {
  const clamped = Math.min(domain.high, Math.max(domain.low, value));
  return domain.kind === 'int' ? Math.min(domain.high, Math.max(domain.low, Math.round(clamped))) : clamped;
}

/**
 * One value drawn from a domain: uniform on `[low, high)`, uniform in log space, each integer
 * equally likely (`int`) or with log-uniform weights on [low − ½, high + ½] (`int` with `log`), or
 * one list item, each equally likely.
 */
export function drawFromDomain(domain: Domain, rng: Rng): JsonValue {
  switch (domain.kind) {
    case 'uniform': {
      const value = domain.low + (domain.high - domain.low) * rng.next();
      return value < domain.high ? value : domain.low;
    }
    case 'logUniform': {
      const low = Math.log(domain.low);
      const value = Math.exp(low + (Math.log(domain.high) - low) * rng.next());
      return Math.min(domain.high, Math.max(domain.low, value));
    }
    case 'int': {
      if (!domain.log) return domain.low + rng.nextInt(domain.high - domain.low + 1);
      const low = Math.log(domain.low - 0.5);
      const high = Math.log(domain.high + 0.5);
      return clampToDomain(domain, Math.exp(low + (high - low) * rng.next()));
    }
    case 'choice':
    case 'grid':
      return cloneJson(domain.values[rng.nextInt(domain.values.length)]!);
  }
}

/** The domain in words, for messages and the sweep view. */
export function describeDomain(domain: Domain): string {
  switch (domain.kind) {
    case 'uniform':
      return `uniform on [${domain.low}, ${domain.high})`;
    case 'logUniform':
      return `log-uniform on [${domain.low}, ${domain.high})`;
    case 'int':
      return `${domain.log ? 'log-uniform integers' : 'integers'} from ${domain.low} to ${domain.high}`;
    case 'choice':
    case 'grid':
      return `${domain.kind} of ${domain.values.map((value) => JSON.stringify(value)).join(', ')}`;
  }
}
