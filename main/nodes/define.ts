/**
 * Node types are data: ports, and params with defaults, ranges and help. A spec is the one place a
 * param is declared; the TypeScript type of a node's resolved params is inferred from its param
 * builders (`ParamsOf<typeof trainNode>`), so the worker's op receives exactly what the spec
 * declares. The catalog serves the specs to the editor as plain JSON (`catalog.list`).
 */
import type { NodeSpecInfo, ParamVisibility, PortSpecInfo, PortType } from '../../preload/contract';

export type PortSpec = PortSpecInfo;

interface ParamCommon {
  help?: string;
  /**
   * When the param applies: each named param of the same node must have one of the listed values
   * (see ParamVisibility). The editor hides it otherwise; validation is the same either way.
   */
  visibleWhen?: ParamVisibility;
}

export interface NumberParamSpec extends ParamCommon {
  kind: 'number';
  default: number;
  min?: number;
  max?: number;
  exclusiveMax?: boolean;
}

export interface IntegerParamSpec extends ParamCommon {
  kind: 'integer';
  default: number;
  min?: number;
  max?: number;
}

export interface ChoiceParamSpec<T extends string = string> extends ParamCommon {
  kind: 'choice';
  default: T;
  choices: T[];
}

export interface BooleanParamSpec extends ParamCommon {
  kind: 'boolean';
  default: boolean;
}

export interface StringParamSpec extends ParamCommon {
  kind: 'string';
  default: string;
  required?: boolean;
  pattern?: string;
}

/** A list of numbers or strings; `T` is the item type (a union of names when `choices` is set). */
export interface ListParamSpec<T extends number | string = number | string> extends ParamCommon {
  kind: 'list';
  of: 'integer' | 'number' | 'string';
  default: T[];
  min?: number;
  max?: number;
  minLength?: number;
  maxLength?: number;
  /** For lists of strings: the names an item may be. */
  choices?: string[];
}

export type ParamSpec =
  NumberParamSpec | IntegerParamSpec | ChoiceParamSpec | BooleanParamSpec | StringParamSpec | ListParamSpec;

export type ParamSpecs = Record<string, ParamSpec>;

/** The value a param resolves to. */
export type ParamValue<S extends ParamSpec> =
  S extends ChoiceParamSpec<infer T> ? T : S extends ListParamSpec<infer T> ? T[] : S['default'];

/** A node's params after `resolveParams`: every declared param present, defaults applied. */
export type ParamValues<P extends ParamSpecs> = { [K in keyof P]: ParamValue<P[K]> };

/** Resolved params of a node whose type is known only at run time (the runner's view). */
export type NodeParams = ParamValues<ParamSpecs>;

/** A problem found by a spec's cross-param `check`. */
export interface ParamProblem {
  param: string;
  expected: string;
  received: unknown;
  message: string;
}

export interface NodeSpec<P extends ParamSpecs = ParamSpecs> {
  /** Stable id written in pipeline files (`train`, `dataset.mnist`); the worker's op is keyed by it. */
  type: string;
  /** Bumped when the op's results change for the same params: part of every task's fingerprint. */
  version: number;
  title: string;
  category: NodeSpecInfo['category'];
  help: string;
  inputs: Record<string, PortSpec>;
  outputs: Record<string, PortSpec>;
  params: P;
  /**
   * Cross-param rules the per-param specs cannot express (e.g. `minLearningRate` below
   * `learningRate`), given params that passed the per-param checks. Every problem is returned.
   */
  check?(params: ParamValues<P>): ParamProblem[];
  /**
   * Names of the params always put on the lineage edges of the models this node makes, besides
   * those written explicitly (e.g. distill's temperature and alpha at their defaults).
   */
  lineageParams?(params: ParamValues<P>): string[];
  /**
   * Names of the scalar metrics this node's task reports (its op's `ctx.metric` calls), which a
   * sweep objective may name; the last value reported under a name is the task's figure. Names
   * starting with `val_` are measured on the validation split once per epoch, so a sweep scheduler
   * may stop or exploit a trial on them. Some names are reported only for some params (`val_*`
   * need a validation split); absent means the node reports no metric a sweep can read.
   */
  metrics?: readonly string[];
  /**
   * What the task changes outside its task folder: `external` names the params that hold a path
   * (folder or file) it writes. The runner records the files there when the task finishes and
   * reuses the task only while they are unchanged (see NodeEffects in the contract).
   */
  effects?: { external: readonly string[] };
}

/** The resolved, typed params of a node type: `ParamsOf<typeof trainNode>`. */
export type ParamsOf<N> = N extends NodeSpec<infer P> ? ParamValues<P> : never;

export function defineNodeType<P extends ParamSpecs>(spec: NodeSpec<P>): NodeSpec<P> {
  return spec;
}

/**
 * A port. `multiple` (inputs only) lets it take many links, at least `minLinks` once connected; the
 * op reads them with `requireInputs`, in edge order.
 */
export function port(
  type: PortType,
  options: { help?: string; optional?: boolean; multiple?: true; minLinks?: number } = {},
): PortSpec {
  return { type, ...options };
}

export function number(options: Omit<NumberParamSpec, 'kind'>): NumberParamSpec {
  return { kind: 'number', ...options };
}

export function integer(options: Omit<IntegerParamSpec, 'kind'>): IntegerParamSpec {
  return { kind: 'integer', ...options };
}

export function choice<const T extends string>(options: {
  default: NoInfer<T>;
  choices: readonly T[];
  help?: string;
  visibleWhen?: ParamVisibility;
}): ChoiceParamSpec<T> {
  return {
    kind: 'choice',
    default: options.default,
    choices: [...options.choices],
    ...(options.help ? { help: options.help } : {}),
    ...(options.visibleWhen ? { visibleWhen: options.visibleWhen } : {}),
  };
}

export function boolean(options: Omit<BooleanParamSpec, 'kind'>): BooleanParamSpec {
  return { kind: 'boolean', ...options };
}

export function string(options: {
  default?: string;
  required?: boolean;
  pattern?: string;
  help?: string;
  visibleWhen?: ParamVisibility;
}): StringParamSpec {
  return { kind: 'string', ...options, default: options.default ?? '' };
}

interface ListOptions<T> {
  default: T[];
  min?: number;
  max?: number;
  minLength?: number;
  maxLength?: number;
  help?: string;
  visibleWhen?: ParamVisibility;
}

export function list<const T extends string>(
  options: ListOptions<NoInfer<T>> & { of: 'string'; choices: readonly T[] },
): ListParamSpec<T>;
export function list(options: ListOptions<string> & { of: 'string' }): ListParamSpec<string>;
export function list(options: ListOptions<number> & { of: 'integer' | 'number' }): ListParamSpec<number>;
export function list(
  options: ListOptions<number | string> & { of: ListParamSpec['of']; choices?: readonly string[] },
): ListParamSpec {
  const { choices, ...rest } = options;
  return { kind: 'list', ...rest, ...(choices ? { choices: [...choices] } : {}) };
}

/**
 * A group of params that applies only when `when` holds, besides each param's own `visibleWhen`
 * (e.g. quantize's fine-tuning params, only for mode "qat").
 */
export function applyWhen<P extends ParamSpecs>(when: ParamVisibility, params: P): P {
  const out: Record<string, ParamSpec> = {};
  for (const [name, spec] of Object.entries(params))
    out[name] = { ...spec, visibleWhen: { ...spec.visibleWhen, ...when } };
  return out as P;
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
            : spec.maxLength !== undefined
              ? ` (at most ${spec.maxLength} items)`
              : '';
      const items = spec.choices
        ? `names from ${spec.choices.map((c) => JSON.stringify(c)).join(', ')}`
        : spec.of === 'integer'
          ? 'integers'
          : spec.of === 'number'
            ? 'numbers'
            : 'strings';
      return `a list of ${items}${range}${length}`;
    }
  }
}
