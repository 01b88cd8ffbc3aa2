/**
 * Graph rules that the engine (main/pipeline) and the editor (renderer) must apply identically: what
 * a node id may be, how an edge endpoint is written, which ports may be linked and when a param
 * applies (`visibleWhen`). They live here,
 * beside the contract, because both sides may import preload/ and neither may import the other; a
 * rule declared once cannot drift (an id the inspector accepts is an id the validator accepts).
 *
 * Pure: no Node built-ins, no DOM, no value imports.
 */
import type { ParamSpecInfo, ParamVisibility, PortType } from './contract';

/** The longest node id, in characters; ids appear in file names, logs and registry lineage. */
export const NODE_ID_MAX_LENGTH = 64;

/**
 * A node id: a letter or "_" first (so an id never reads as a number), then letters, digits, "_" or
 * "-", at most {@link NODE_ID_MAX_LENGTH} characters in all. No dots: ids are the left side of
 * `"nodeId.port"` endpoints.
 */
export const NODE_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** The node id rule in words, for messages; the engine and the editor both show this text. */
export const describeNodeIdRule = `letters, digits, "_" or "-", starting with a letter or "_", at most ${NODE_ID_MAX_LENGTH} characters`;

/** Whether `value` is a string that satisfies {@link NODE_ID_PATTERN}. */
export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && NODE_ID_PATTERN.test(value);
}

/** One end of an edge: a node and one of its ports. */
export interface Endpoint {
  nodeId: string;
  port: string;
}

/**
 * Splits `"nodeId.port"`: exactly one dot with something on both sides. Returns undefined for any
 * other shape (`"fit"`, `".model"`, `"fit."`, `"a.b.c"`) rather than guessing which part is which.
 */
export function parseEndpoint(value: string): Endpoint | undefined {
  const dot = value.indexOf('.');
  if (dot <= 0 || dot !== value.lastIndexOf('.') || dot === value.length - 1) return undefined;
  return { nodeId: value.slice(0, dot), port: value.slice(dot + 1) };
}

/** Writes an endpoint as `"nodeId.port"`, the inverse of {@link parseEndpoint}. */
export function formatEndpoint(endpoint: Endpoint): string {
  return `${endpoint.nodeId}.${endpoint.port}`;
}

/**
 * Whether an output of type `from` may feed an input of type `to`. Types must match exactly: a
 * diffusion model and a classifier share no weights layout, and a dataset is never a model.
 */
export function portsCompatible(from: PortType, to: PortType): boolean {
  return from === to;
}

/**
 * True when the param applies: every param its `visibleWhen` names has one of the listed values.
 * `valueOf` gives a param's value as written, else its default.
 */
export function isParamVisible(
  spec: Pick<ParamSpecInfo, 'visibleWhen'>,
  valueOf: (name: string) => unknown,
): boolean {
  const when = spec.visibleWhen;
  if (!when) return true;
  return Object.entries(when).every(([name, values]) => {
    const value = valueOf(name);
    return values.some((candidate) => candidate === value);
  });
}

/** "optimizer is momentum", "schedule is cosine or warmup-cosine and earlyStopping is true". */
export function describeVisibility(when: ParamVisibility): string {
  return Object.entries(when)
    .map(([name, values]) => `${name} is ${values.map((value) => String(value)).join(' or ')}`)
    .join(' and ');
}

/**
 * The value of each param of a node as the inspector and the validator see it: as written when
 * written, else the spec's default.
 */
export function paramValueOf(
  params: Readonly<Record<string, unknown>>,
  specs: Readonly<Record<string, Pick<ParamSpecInfo, 'default'>>>,
): (name: string) => unknown {
  return (name) => (Object.prototype.hasOwnProperty.call(params, name) ? params[name] : specs[name]?.default);
}
