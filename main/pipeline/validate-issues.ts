/**
 * The issue list of pipeline validation and the document-reading helpers every part of it shares:
 * own-property field reads, value descriptions for messages, and the cap past which issues are
 * only counted.
 */
import type { ValidationIssue } from '../../preload/contract';
import { isNodeId } from './graph';
import { pointerSegment, preview } from './preview';

/** A JSON object of the document, read field by field. */
export type Json = Record<string, unknown>;

/** Whether a value is a JSON object (not null, not an array). */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A field of a document object, read only when the object has it as its own property: every
 * object inherits `constructor` and `toString`, and neither is a field of a pipeline.
 */
export function field(object: Json, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

/** What a value is, for a message: its kind, and a preview of a primitive. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${preview(value)}`;
}

/** Codes that complain about a value's type: said already when the value is a non-finite number. */
const VALUE_TYPE_CODES = new Set(['PIPELINE_SCHEMA', 'PARAM_TYPE']);

/** An issue, or what builds it: built only while the list has room. */
export type IssueSource = ValidationIssue | (() => ValidationIssue);

/** A PIPELINE_SCHEMA issue. */
export function schemaIssue(
  pointer: string,
  expected: string,
  received: unknown,
  message: string,
  extra: Partial<ValidationIssue> = {},
): ValidationIssue {
  return { code: 'PIPELINE_SCHEMA', pointer, expected, received, message, ...extra };
}

/** The issues of one validation: listed up to the cap, counted past it. */
export class IssueList {
  private readonly items: ValidationIssue[] = [];
  private omitted = 0;
  /** Set when checks were skipped because the list was full: the count is then a lower bound. */
  partial = false;
  /** Pointers of the non-finite numbers reported, so that no second issue repeats one. */
  private readonly nonFinite = new Set<string>();

  constructor(
    private readonly file: string | undefined,
    private readonly max: number,
  ) {}

  /** Issues found, listed or not. */
  get size(): number {
    return this.items.length + this.omitted;
  }

  /** Whether the list is full: from then on issues are counted, never built. */
  get full(): boolean {
    return this.items.length >= this.max;
  }

  add(source: IssueSource): void {
    if (this.full) {
      this.omitted++;
      return;
    }
    const item = typeof source === 'function' ? source() : source;
    if (item.pointer !== undefined) {
      if (item.code === 'NUMBER_NOT_FINITE') this.nonFinite.add(item.pointer);
      else if (VALUE_TYPE_CODES.has(item.code) && this.nonFinite.has(item.pointer)) return;
    }
    this.items.push(this.file ? { ...item, file: this.file } : item);
  }

  /** Counts issues found but not built (the document scan stops building them past the cap). */
  skip(count: number): void {
    this.omitted += count;
  }

  /** The listed issues, and one last issue counting the others when there were too many. */
  list(): ValidationIssue[] {
    if (this.omitted === 0) return this.items;
    const summary: ValidationIssue = {
      code: 'ISSUES_TRUNCATED',
      expected: `at most ${this.max} issues listed`,
      received: this.size,
      message: `Only the first ${this.max} issues are listed; ${this.omitted} more ${this.omitted === 1 ? 'was' : 'were'} found${this.partial ? ', and the params of the nodes after that were not checked' : ''}`,
    };
    return [...this.items, this.file ? { ...summary, file: this.file } : summary];
  }

  unknownFields(
    value: Json,
    allowed: string[],
    pointer: string,
    where: string,
    extra: Partial<ValidationIssue> = {},
  ): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.add(() => ({
          code: 'UNKNOWN_FIELD',
          pointer: `${pointer}/${pointerSegment(key)}`,
          expected: `one of ${allowed.join(', ')}`,
          received: key,
          message: `${where}: unknown field ${preview(key)}`,
          ...extra,
        }));
      }
    }
  }
}

const NODE_POINTER = /^\/nodes\/(\d+)(?:\/|$)/;

/** Adds the node id to an issue of the document scan that points into a node with a valid id. */
export function withNodeId(issue: ValidationIssue, doc: unknown): ValidationIssue {
  const match = issue.pointer === undefined ? null : NODE_POINTER.exec(issue.pointer);
  if (!match || !isObject(doc)) return issue;
  const nodes = field(doc, 'nodes');
  const node = Array.isArray(nodes) ? (nodes[Number(match[1])] as unknown) : undefined;
  const id = isObject(node) ? field(node, 'id') : undefined;
  return isNodeId(id) ? { ...issue, nodeId: id } : issue;
}
