/** Checking one node's params against its spec, and filling in defaults. */
import type { ValidationIssue } from '../../preload/contract';
import {
  describeParam,
  type NodeSpec,
  type ParamSpec,
  type ParamSpecs,
  type ParamValues,
} from '../nodes/define';
import { LISTED_ITEMS, pointerSegment, preview } from './preview';

/** Compiled `pattern`s of string params, kept: a pattern is checked on every node that sets it. */
const patterns = new Map<string, RegExp>();

function patternOf(source: string): RegExp {
  let pattern = patterns.get(source);
  if (!pattern) patterns.set(source, (pattern = new RegExp(source)));
  return pattern;
}

/** Each spec's params as entries, listed once: they are walked for every node of that type. */
const entriesBySpec = new WeakMap<ParamSpecs, ReadonlyArray<readonly [string, ParamSpec]>>();

function paramEntries(specs: ParamSpecs): ReadonlyArray<readonly [string, ParamSpec]> {
  let entries = entriesBySpec.get(specs);
  if (!entries) entriesBySpec.set(specs, (entries = Object.entries(specs)));
  return entries;
}

/** Each spec's defaults as one object, and the names whose default is a list (copied per node). */
const defaultsBySpec = new WeakMap<ParamSpecs, { values: Record<string, unknown>; lists: string[] }>();

function defaultsOf(specs: ParamSpecs): { values: Record<string, unknown>; lists: string[] } {
  let defaults = defaultsBySpec.get(specs);
  if (!defaults) {
    const values: Record<string, unknown> = {};
    const lists: string[] = [];
    for (const [name, spec] of paramEntries(specs)) {
      values[name] = spec.default;
      if (Array.isArray(spec.default)) lists.push(name);
    }
    defaultsBySpec.set(specs, (defaults = { values, lists }));
  }
  return defaults;
}

/**
 * A copy of a param value that passed its checks: a primitive, or a flat list of them. Cheaper
 * than structuredClone, which matters at one call per param of every node.
 */
function copyValue(value: unknown): unknown {
  return Array.isArray(value) ? value.slice() : value;
}

/** Copies params that all passed their checks (see {@link copyValue}). */
export function copyParams(params: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(params)) copy[key] = copyValue(params[key]);
  return copy;
}

function issue(
  code: string,
  nodeId: string,
  param: string,
  expected: string,
  received: unknown,
  pointer: string,
): ValidationIssue {
  return {
    code,
    nodeId,
    param,
    expected,
    received,
    pointer,
    message: `Node "${nodeId}": ${param} must be ${expected}, got ${preview(received)}`,
  };
}

type NumberSpec = ParamSpec & { kind: 'number' | 'integer' };

function inRange(spec: NumberSpec, value: number): boolean {
  if (spec.min !== undefined && value < spec.min) return false;
  if (spec.max === undefined) return true;
  return spec.kind === 'number' && spec.exclusiveMax ? value < spec.max : value <= spec.max;
}

/** Whether `value` is acceptable for a number or integer spec: the cheap test before any message. */
function numberOk(spec: NumberSpec, value: unknown): boolean {
  return (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (spec.kind !== 'integer' || Number.isInteger(value)) &&
    inRange(spec, value)
  );
}

function checkNumber(
  spec: NumberSpec,
  value: unknown,
  where: (code: string, expected: string) => ValidationIssue,
): ValidationIssue | undefined {
  if (numberOk(spec, value)) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value))
    return where('PARAM_TYPE', spec.kind === 'integer' ? 'an integer' : 'a finite number');
  if (spec.kind === 'integer' && !Number.isInteger(value)) return where('PARAM_TYPE', 'an integer');
  return where('PARAM_OUT_OF_RANGE', describeParam(spec).replace(/^an? (integer|number) with /, ''));
}

/** Every problem with one value of one param; empty when the value is acceptable. */
export function checkParam(
  nodeId: string,
  name: string,
  spec: ParamSpec,
  value: unknown,
  pointer: string,
): ValidationIssue[] {
  const at = (code: string, expected: string) => issue(code, nodeId, name, expected, value, pointer);
  switch (spec.kind) {
    case 'number':
    case 'integer': {
      const found = checkNumber(spec, value, at);
      return found ? [found] : [];
    }
    case 'choice':
      if (typeof value !== 'string') return [at('PARAM_TYPE', describeParam(spec))];
      return spec.choices.includes(value) ? [] : [at('PARAM_INVALID_CHOICE', describeParam(spec))];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [at('PARAM_TYPE', 'true or false')];
    case 'string':
      if (typeof value !== 'string') return [at('PARAM_TYPE', 'a string')];
      if (spec.required && value.trim() === '') return [at('PARAM_INVALID', 'a non-empty string')];
      if (spec.pattern && !patternOf(spec.pattern).test(value))
        return [at('PARAM_INVALID', `a string matching ${spec.pattern}`)];
      return [];
    case 'list': {
      if (!Array.isArray(value)) return [at('PARAM_TYPE', describeParam(spec))];
      if (spec.minLength !== undefined && value.length < spec.minLength)
        return [at('PARAM_OUT_OF_RANGE', describeParam(spec))];
      if (spec.maxLength !== undefined && value.length > spec.maxLength)
        return [at('PARAM_OUT_OF_RANGE', describeParam(spec))];
      const found: ValidationIssue[] = [];
      const itemSpec: NumberSpec | undefined =
        spec.of === 'string' ? undefined : { kind: spec.of, default: 0, min: spec.min, max: spec.max };
      const choices = spec.choices;
      // Only the first few wrong items are described: a list may hold millions of them.
      let wrong = 0;
      for (let index = 0; index < value.length; index++) {
        const item: unknown = value[index];
        const ok = itemSpec
          ? numberOk(itemSpec, item)
          : typeof item === 'string' && (!choices || choices.includes(item));
        if (ok || ++wrong > LISTED_ITEMS) continue;
        const itemAt = (code: string, expected: string) =>
          issue(code, nodeId, `${name}[${index}]`, expected, item, `${pointer}/${index}`);
        if (itemSpec) found.push(checkNumber(itemSpec, item, itemAt)!);
        else if (typeof item !== 'string') found.push(itemAt('PARAM_TYPE', 'a string'));
        else
          found.push(
            itemAt(
              'PARAM_INVALID_CHOICE',
              `one of ${(choices ?? []).map((c) => JSON.stringify(c)).join(', ')}`,
            ),
          );
      }
      if (wrong > LISTED_ITEMS) {
        found.push({
          code: 'PARAM_INVALID',
          nodeId,
          param: name,
          expected: describeParam(spec),
          received: `${wrong} wrong items`,
          pointer,
          message: `Node "${nodeId}": ${name} has ${wrong} wrong items; the first ${LISTED_ITEMS} are listed`,
        });
      }
      return found;
    }
  }
}

/**
 * Checks a node's params against its spec: unknown names, wrong types, out-of-range values and the
 * node's own cross-param checks. Returns the params with defaults filled in, and every issue. This
 * is the one place params are checked: the worker's ops receive what it returns, typed by the spec.
 */
export function resolveParams<P extends ParamSpecs>(
  nodeId: string,
  spec: NodeSpec<P>,
  params: Record<string, unknown>,
  pointer: string,
): { params: ParamValues<P>; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const defaults = defaultsOf(spec.params);
  // One copy of the defaults, then the given values over them: cheaper than adding every param
  // to an empty object one by one, at one object per node. List defaults are copied, not shared.
  const resolved: Record<string, unknown> = { ...defaults.values };
  for (const name of defaults.lists) resolved[name] = (resolved[name] as unknown[]).slice();
  const unknown: string[] = [];
  for (const name of Object.keys(params)) {
    // Own properties only: "constructor" or "__proto__" is not a param because every object has one.
    if (!Object.hasOwn(spec.params, name)) unknown.push(name);
  }
  if (unknown.length > 0) {
    const expected = `one of ${Object.keys(spec.params).join(', ') || '(no params)'}`;
    // Only the first few are described: an object may hold millions of keys.
    for (const name of unknown.slice(0, LISTED_ITEMS)) {
      issues.push({
        code: 'UNKNOWN_PARAM',
        nodeId,
        param: name,
        expected,
        received: name,
        pointer: `${pointer}/${pointerSegment(name)}`,
        message: `Node "${nodeId}" (${spec.type}) has no param ${preview(name)}`,
      });
    }
    if (unknown.length > LISTED_ITEMS) {
      issues.push({
        code: 'UNKNOWN_PARAM',
        nodeId,
        expected,
        received: `${unknown.length} unknown params`,
        pointer,
        message: `Node "${nodeId}" (${spec.type}) has ${unknown.length} unknown params; the first ${LISTED_ITEMS} are listed`,
      });
    }
  }
  for (const [name, paramSpec] of paramEntries(spec.params)) {
    if (!Object.hasOwn(params, name)) {
      if (paramSpec.kind === 'string' && paramSpec.required) {
        issues.push({
          code: 'PARAM_INVALID',
          nodeId,
          param: name,
          expected: 'a non-empty string',
          received: undefined,
          pointer: `${pointer}/${name}`,
          message: `Node "${nodeId}": ${name} is required`,
        });
      }
      continue;
    }
    const value = params[name];
    const found = checkParam(nodeId, name, paramSpec, value, `${pointer}/${name}`);
    for (const problem of found) issues.push(problem);
    // A value that failed its checks is never used, so it need not be copied.
    resolved[name] = found.length === 0 ? copyValue(value) : value;
  }
  // Only now is every value of the declared type, which is what `check` may assume.
  const typed = resolved as ParamValues<P>;
  if (issues.length === 0 && spec.check) {
    for (const problem of spec.check(typed)) {
      issues.push({
        code: 'PARAM_INVALID',
        nodeId,
        param: problem.param,
        expected: problem.expected,
        received: problem.received,
        pointer: `${pointer}/${problem.param}`,
        message: `Node "${nodeId}": ${problem.message}`,
      });
    }
  }
  return { params: typed, issues };
}
