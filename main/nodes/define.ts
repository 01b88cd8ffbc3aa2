/**
 * Node types are data: ports, params with defaults, ranges and help, and the name of the worker op
 * that runs them. The catalog serves them to the editor as plain JSON (`catalog.list`).
 */
import type { NodeSpecInfo, ParamSpecInfo, PortSpecInfo, PortType } from '../../preload/contract';

export type ParamSpec = ParamSpecInfo;
export type PortSpec = PortSpecInfo;

export interface NodeSpec extends NodeSpecInfo {
  /**
   * Cross-param checks that the per-param specs cannot express (e.g. `minLearningRate` below
   * `learningRate`). Returns issues as {param, expected, received, message}.
   */
  check?: (
    params: Record<string, unknown>,
  ) => Array<{ param: string; expected: string; received: unknown; message: string }>;
  /**
   * Names of the params always put on the lineage edges of the models this node makes, besides
   * those written explicitly (e.g. distill's temperature and alpha at their defaults), given the
   * node's params with defaults applied.
   */
  lineageParams?: (params: Record<string, unknown>) => string[];
}

export function defineNodeType(spec: NodeSpec): NodeSpec {
  return spec;
}

export function port(type: PortType, options: { help?: string; optional?: boolean } = {}): PortSpec {
  return { type, ...options };
}

export function number(options: {
  default: number;
  min?: number;
  max?: number;
  exclusiveMax?: boolean;
  help?: string;
}): ParamSpec {
  return { kind: 'number', ...options };
}

export function integer(options: { default: number; min?: number; max?: number; help?: string }): ParamSpec {
  return { kind: 'integer', ...options };
}

export function choice<const T extends string>(options: {
  default: T;
  choices: readonly T[];
  help?: string;
}): ParamSpec {
  return {
    kind: 'choice',
    default: options.default,
    choices: [...options.choices],
    ...(options.help ? { help: options.help } : {}),
  };
}

export function boolean(options: { default: boolean; help?: string }): ParamSpec {
  return { kind: 'boolean', ...options };
}

export function string(options: {
  default?: string;
  required?: boolean;
  pattern?: string;
  help?: string;
}): ParamSpec {
  return { kind: 'string', default: options.default ?? '', ...options };
}

export function list(options: {
  of: 'integer' | 'number' | 'string';
  default: Array<number | string>;
  min?: number;
  max?: number;
  minLength?: number;
  maxLength?: number;
  help?: string;
}): ParamSpec {
  return { kind: 'list', ...options };
}

/** Describes a param's accepted values in words, for messages and the inspector. */
export function describeParam(spec: ParamSpec): string {
  switch (spec.kind) {
    case 'number':
    case 'integer': {
      const noun = spec.kind === 'integer' ? 'an integer' : 'a number';
      const upper = spec.kind === 'number' && spec.exclusiveMax ? '<' : '≤';
      if (spec.min !== undefined && spec.max !== undefined)
        return `${noun} with ${spec.min} ≤ value ${upper} ${spec.max}`;
      if (spec.min !== undefined) return `${noun} ≥ ${spec.min}`;
      if (spec.max !== undefined) return `${noun} ${upper} ${spec.max}`;
      return noun;
    }
    case 'choice':
      return `one of ${spec.choices.map((c) => JSON.stringify(c)).join(', ')}`;
    case 'boolean':
      return 'true or false';
    case 'string':
      return spec.required ? 'a non-empty string' : 'a string';
    case 'list': {
      const range =
        spec.min !== undefined && spec.max !== undefined
          ? ` between ${spec.min} and ${spec.max}`
          : spec.min !== undefined
            ? ` ≥ ${spec.min}`
            : '';
      const length =
        spec.minLength !== undefined && spec.maxLength !== undefined
          ? ` (${spec.minLength} to ${spec.maxLength} items)`
          : spec.minLength !== undefined
            ? ` (at least ${spec.minLength} items)`
            : '';
      return `a list of ${spec.of === 'integer' ? 'integers' : spec.of === 'number' ? 'numbers' : 'strings'}${range}${length}`;
    }
  }
}
