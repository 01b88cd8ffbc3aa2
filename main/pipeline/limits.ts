/**
 * The limits of a pipeline document, and the one walk over a parsed document that enforces them
 * before anything else reads it. The walk is iterative, so no document can exhaust the stack,
 * and it stops as soon as a document is too large, so the work it does is bounded by the limits
 * rather than by what was sent. Everything after it (validation, planning, fingerprints, saving)
 * may then assume a document of bounded depth and size whose numbers are all finite.
 */
import type { ValidationIssue } from '../../preload/contract';
import { pointerSegment } from './preview';

/** What a pipeline document may hold. */
export const PIPELINE_LIMITS = {
  /** Bytes of a pipeline file, or of a document as compact JSON (what an API call carries). */
  bytes: 16 * 1024 * 1024,
  /** Nesting of objects and arrays, the document itself being level 1. */
  depth: 64,
  /** Entries of `nodes`. */
  nodes: 100_000,
  /** Entries of `edges`: room for every input of the largest node types on every node. */
  edges: 400_000,
  /** Keys of any one object: a node type declares a few dozen params, a node four fields. */
  keys: 1_000,
  /** Issues one validation lists; the rest are counted in one last issue. */
  issues: 1_000,
} as const;

/** The limits a caller may override (tests and benchmarks use smaller ones). */
export type PipelineLimits = { readonly [K in keyof typeof PIPELINE_LIMITS]: number };

/** What one walk over a document found. */
export interface DocumentScan {
  /** The first issues found, at most `limits.issues` of them. */
  issues: ValidationIssue[];
  /** Further issues found but not listed. */
  omitted: number;
  /** Whether the document is refused whole (too large, too deep, or not JSON data). */
  fatal: boolean;
}

/** Bytes in "1,234,567" form, with the MiB figure when it is a whole number of them. */
function bytesText(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return `${Number.isInteger(mib) ? `${mib} MiB, ` : ''}${bytes.toLocaleString('en-US')} bytes`;
}

const ENCODER = new TextEncoder();

/** Text up to this many UTF-16 units is measured by encoding it: natively, ten times faster. */
const ENCODE_TO_MEASURE = 32 * 1024 * 1024;

/** Length of `text` in UTF-8 bytes. */
export function utf8Length(text: string): number {
  if (text.length <= ENCODE_TO_MEASURE) return ENCODER.encode(text).length;
  // Longer text is counted without a copy of it; it is over every limit anyway.
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x800) {
      // A surrogate pair is two UTF-16 units and four bytes: one extra byte for each unit.
      bytes += code >= 0xd800 && code <= 0xdfff ? 1 : 2;
    } else if (code >= 0x80) bytes += 1;
  }
  return bytes;
}

/** The issue for a file or document over the byte limit. */
export function tooManyBytesIssue(bytes: number | undefined, limit: number): ValidationIssue {
  return {
    code: 'PIPELINE_TOO_LARGE',
    pointer: '',
    expected: `at most ${bytesText(limit)}`,
    received: bytes ?? `more than ${limit} bytes`,
    message:
      bytes === undefined
        ? `The pipeline is larger than ${bytesText(limit)} as JSON, the most a pipeline may be`
        : `The pipeline is ${bytesText(bytes)}, over the limit of ${bytesText(limit)}`,
  };
}

/** Issues for `nodes` or `edges` arrays longer than the limits; cheap, so checked first. */
export function countIssues(doc: Record<string, unknown>, limits: PipelineLimits): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const field of ['nodes', 'edges'] as const) {
    const value = Object.hasOwn(doc, field) ? doc[field] : undefined;
    const limit = limits[field];
    if (Array.isArray(value) && value.length > limit) {
      issues.push({
        code: 'PIPELINE_TOO_LARGE',
        pointer: `/${field}`,
        expected: `at most ${limit.toLocaleString('en-US')} ${field}`,
        received: value.length,
        message: `The pipeline has ${value.length.toLocaleString('en-US')} ${field}, over the limit of ${limit.toLocaleString('en-US')}`,
      });
    }
  }
  return issues;
}

/** A container being walked: its entries are visited one by one from `next`. */
interface Frame {
  container: object;
  /** Own keys of an object; undefined for an array. */
  keys: string[] | undefined;
  length: number;
  next: number;
  /** The key this container has in its parent (unused for the document itself). */
  key: string | number;
}

/** Whether `value` is an object as JSON makes them: a prototype of Object.prototype or none. */
function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  // Realm-independent: Object.prototype is the one prototype whose own prototype is null.
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}

/**
 * Walks a parsed document once, iteratively: refuses nesting deeper than `limits.depth`, objects of
 * more than `limits.keys` keys, a size as compact JSON over `limits.bytes` (estimated from below,
 * so a file under the limit always passes), values JSON cannot hold (functions, BigInts, Maps, Dates, … — possible over IPC), and
 * numbers that are not finite (`1e999` parses as Infinity, and would be saved as null).
 */
export function scanDocument(doc: unknown, limits: PipelineLimits = PIPELINE_LIMITS): DocumentScan {
  const issues: ValidationIssue[] = [];
  let omitted = 0;
  let fatal = false;
  let bytes = 0;
  const stack: Frame[] = [];
  const pointerTo = (key: string | number | undefined): string => {
    let pointer = '';
    for (let i = 1; i < stack.length; i++) pointer += `/${pointerSegment(stack[i]!.key)}`;
    return key === undefined ? pointer : `${pointer}/${pointerSegment(key)}`;
  };
  const report = (make: () => ValidationIssue): void => {
    if (issues.length < limits.issues) issues.push(make());
    else omitted++;
  };
  const visit = (value: unknown, key: string | number | undefined): void => {
    switch (typeof value) {
      case 'string':
        bytes += value.length + 2;
        return;
      case 'number':
        bytes += 1;
        if (!Number.isFinite(value)) {
          report(() => {
            const pointer = pointerTo(key);
            return {
              code: 'NUMBER_NOT_FINITE',
              pointer,
              expected: 'a finite number',
              received: String(value),
              message: `${pointer || '/'}: ${String(value)} is not a finite number (a JSON number beyond ±1.8e308, such as 1e999, reads as Infinity, which JSON cannot store)`,
            };
          });
        }
        return;
      case 'boolean':
        bytes += 4;
        return;
      case 'undefined':
        // What JSON does with it: an absent key, or null in an array.
        return;
      case 'object':
        if (value === null) {
          bytes += 4;
          return;
        }
        if (Array.isArray(value) || isPlainObject(value)) {
          if (stack.length >= limits.depth) {
            fatal = true;
            report(() => {
              const pointer = pointerTo(key);
              return {
                code: 'PIPELINE_TOO_DEEP',
                pointer,
                expected: `at most ${limits.depth} levels of nested objects and arrays`,
                received: `more than ${limits.depth} levels`,
                message: `${pointer || '/'}: nested more than ${limits.depth} levels deep, the most a pipeline may nest`,
              };
            });
            return;
          }
          const keys = Array.isArray(value) ? undefined : Object.keys(value);
          if (keys && keys.length > limits.keys) {
            fatal = true;
            report(() => {
              const pointer = pointerTo(key);
              return {
                code: 'PIPELINE_TOO_LARGE',
                pointer,
                expected: `at most ${limits.keys.toLocaleString('en-US')} keys in an object`,
                received: keys.length,
                message: `${pointer || '/'}: an object of ${keys.length.toLocaleString('en-US')} keys, over the limit of ${limits.keys.toLocaleString('en-US')}`,
              };
            });
            return;
          }
          const length = keys ? keys.length : (value as unknown[]).length;
          bytes += 2 + Math.max(0, length - 1);
          stack.push({ container: value, keys, length, next: 0, key: key ?? '' });
          return;
        }
        break;
    }
    fatal = true;
    report(() => {
      const pointer = pointerTo(key);
      const kind =
        typeof value === 'object'
          ? `an instance of ${(value as object).constructor?.name ?? 'a class'}`
          : `a ${typeof value}`;
      return {
        code: 'PIPELINE_SCHEMA',
        pointer,
        expected: 'JSON data: objects, arrays, strings, numbers, true, false or null',
        received: kind,
        message: `${pointer || '/'}: ${kind} is not JSON data`,
      };
    });
  };

  visit(doc, undefined);
  while (stack.length > 0 && bytes <= limits.bytes) {
    const frame = stack[stack.length - 1]!;
    if (frame.next >= frame.length) {
      stack.pop();
      continue;
    }
    const index = frame.next++;
    if (frame.keys) {
      const key = frame.keys[index]!;
      bytes += key.length + 3;
      visit((frame.container as Record<string, unknown>)[key], key);
    } else {
      visit((frame.container as unknown[])[index], index);
    }
  }
  if (bytes > limits.bytes) {
    fatal = true;
    // First: with this one, the other issues found so far matter little.
    issues.unshift(tooManyBytesIssue(undefined, limits.bytes));
    if (issues.length > limits.issues) {
      issues.pop();
      omitted++;
    }
  }
  return { issues, omitted, fatal };
}
