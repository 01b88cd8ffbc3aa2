/**
 * Bounded text for messages about documents. A message quotes what it received; when that is a
 * megabyte string, a 60-level object or one of 100,000 node ids, the message must still be a line,
 * so every quote here has a length limit and every list a count limit.
 */

/** Characters a quoted value takes in a message before it is cut with "…". */
export const PREVIEW_LENGTH = 80;

/** Items a message lists (node ids, candidates) before it says "and N more". */
export const LISTED_ITEMS = 10;

/** How deep a preview shows nested values before writing `[…]` or `{…}`. */
const PREVIEW_DEPTH = 3;

function previewOf(value: unknown, budget: number, depth: number): string {
  switch (typeof value) {
    case 'undefined':
      return 'nothing';
    case 'string':
      return value.length > budget ? `${JSON.stringify(value.slice(0, budget))}…` : JSON.stringify(value);
    case 'number':
      // String(), not JSON.stringify: Infinity and NaN read as themselves rather than as null.
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'boolean':
      return String(value);
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    case 'object':
      break;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    if (depth === 0) return value.length === 0 ? '[]' : '[…]';
    const parts: string[] = [];
    let used = 2;
    for (const item of value as unknown[]) {
      if (used >= budget) {
        parts.push('…');
        break;
      }
      const text = previewOf(item, budget - used, depth - 1);
      parts.push(text);
      used += text.length + 1;
    }
    return `[${parts.join(',')}]`;
  }
  const parts: string[] = [];
  let used = 2;
  let any = false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    any = true;
    if (depth === 0) break;
    if (used >= budget) {
      parts.push('…');
      break;
    }
    const text = `${previewOf(key, budget - used, 0)}:${previewOf((value as Record<string, unknown>)[key], budget - used, depth - 1)}`;
    parts.push(text);
    used += text.length + 1;
  }
  if (depth === 0) return any ? '{…}' : '{}';
  return `{${parts.join(',')}}`;
}

/**
 * A value as compact JSON-like text of at most about `length` characters: strings quoted, numbers
 * as JavaScript writes them (so `Infinity` shows), nested values cut with "…".
 */
export function preview(value: unknown, length = PREVIEW_LENGTH): string {
  const text = previewOf(value, length, PREVIEW_DEPTH);
  return text.length > length + 3 ? `${text.slice(0, length)}…` : text;
}

/** `a, b, c` — or, past `max` items, the first `max` and "and N more". */
export function listSome(items: readonly string[], max = LISTED_ITEMS): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** One key as a JSON pointer segment (RFC 6901: "~" is written "~0" and "/" is written "~1"). */
export function pointerSegment(key: string | number): string {
  return typeof key === 'number' ? String(key) : key.replace(/~/g, '~0').replace(/\//g, '~1');
}
