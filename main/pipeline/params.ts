/** Checking one node's params against its spec, and filling in defaults. */
import type { ValidationIssue } from '../../preload/contract';
import {
  describeParam,
  type NodeSpec,
  type ParamSpec,
  type ParamSpecs,
  type ParamValues,
} from '../nodes/define';

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
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
    message: `Node "${nodeId}": ${param} must be ${expected}, got ${describe(received)}`,
  };
}

function checkNumber(
  spec: ParamSpec & { kind: 'number' | 'integer' },
  value: unknown,
  where: (code: string, expected: string) => ValidationIssue,
): ValidationIssue | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value))
    return where('PARAM_TYPE', spec.kind === 'integer' ? 'an integer' : 'a finite number');
  if (spec.kind === 'integer' && !Number.isInteger(value)) return where('PARAM_TYPE', 'an integer');
  const tooLow = spec.min !== undefined && value < spec.min;
  const tooHigh =
    spec.max !== undefined &&
    (spec.kind === 'number' && spec.exclusiveMax ? value >= spec.max : value > spec.max);
  if (tooLow || tooHigh)
    return where('PARAM_OUT_OF_RANGE', describeParam(spec).replace(/^an? (integer|number) with /, ''));
  return undefined;
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
      if (spec.pattern && !new RegExp(spec.pattern).test(value))
        return [at('PARAM_INVALID', `a string matching ${spec.pattern}`)];
      return [];
    case 'list': {
      if (!Array.isArray(value)) return [at('PARAM_TYPE', describeParam(spec))];
      if (spec.minLength !== undefined && value.length < spec.minLength)
        return [at('PARAM_OUT_OF_RANGE', describeParam(spec))];
      if (spec.maxLength !== undefined && value.length > spec.maxLength)
        return [at('PARAM_OUT_OF_RANGE', describeParam(spec))];
      const found: ValidationIssue[] = [];
      value.forEach((item, index) => {
        const itemName = `${name}[${index}]`;
        const itemAt = (code: string, expected: string) =>
          issue(code, nodeId, itemName, expected, item, `${pointer}/${index}`);
        if (spec.of === 'string') {
          if (typeof item !== 'string') found.push(itemAt('PARAM_TYPE', 'a string'));
          else if (spec.choices && !spec.choices.includes(item))
            found.push(
              itemAt(
                'PARAM_INVALID_CHOICE',
                `one of ${spec.choices.map((c) => JSON.stringify(c)).join(', ')}`,
              ),
            );
        } else {
          const itemIssue = checkNumber(
            { kind: spec.of, default: 0, min: spec.min, max: spec.max },
            item,
            itemAt,
          );
          if (itemIssue) found.push(itemIssue);
        }
      });
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
  const resolved: Record<string, unknown> = {};
  for (const name of Object.keys(params)) {
    if (!(name in spec.params)) {
      issues.push({
        code: 'UNKNOWN_PARAM',
        nodeId,
        param: name,
        expected: `one of ${Object.keys(spec.params).join(', ') || '(no params)'}`,
        received: name,
        pointer: `${pointer}/${name}`,
        message: `Node "${nodeId}" (${spec.type}) has no param "${name}"`,
      });
    }
  }
  for (const [name, paramSpec] of Object.entries(spec.params)) {
    const given = Object.prototype.hasOwnProperty.call(params, name);
    const value = given ? params[name] : paramSpec.default;
    if (!given && paramSpec.kind === 'string' && paramSpec.required) {
      issues.push({
        code: 'PARAM_INVALID',
        nodeId,
        param: name,
        expected: 'a non-empty string',
        received: undefined,
        pointer: `${pointer}/${name}`,
        message: `Node "${nodeId}": ${name} is required`,
      });
      continue;
    }
    const found = given ? checkParam(nodeId, name, paramSpec, value, `${pointer}/${name}`) : [];
    issues.push(...found);
    resolved[name] = structuredClone(value);
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
