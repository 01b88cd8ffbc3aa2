/**
 * What a lineage edge says: the operation and the params that made the child, those that differ
 * from the operation's defaults (a param at its default says nothing), in the spec's order.
 */
import type { NodeSpecInfo } from '../../../preload/contract';

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function shown(value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  if (typeof value === 'number') return String(Number(value.toPrecision(6)));
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** `key=value` for each edge param that differs from `spec`'s default (all of them without a spec). */
export function changedParams(params: Record<string, unknown>, spec: NodeSpecInfo | undefined): string[] {
  const keys = Object.keys(params).filter((key) => key !== 'port');
  const order = spec ? Object.keys(spec.params) : [];
  keys.sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib) || a.localeCompare(b);
  });
  return keys
    .filter((key) => {
      const declared = spec?.params[key];
      return !declared || !sameValue(params[key], declared.default);
    })
    .map((key) => `${key}=${shown(params[key])}`);
}

/**
 * The label of an edge cut to `maxChars` ("train · epochs=5 lr=0.01 …") and its full text for the
 * tooltip.
 */
export function edgeLabel(
  operation: string,
  params: Record<string, unknown>,
  spec: NodeSpecInfo | undefined,
  maxChars: number,
): { label: string; full: string } {
  const changed = changedParams(params, spec);
  const full = changed.length ? `${operation} · ${changed.join(' ')}` : operation;
  if (full.length <= maxChars) return { label: full, full };
  let label = operation;
  for (const [index, part] of changed.entries()) {
    const next = `${label}${index === 0 ? ' · ' : ' '}${part}`;
    if (next.length + 2 > maxChars) return { label: `${label} …`, full };
    label = next;
  }
  return { label, full };
}
