/** One item of a list param, typed from its text as the list editor (ListField.vue) reads it. */
import type { ParamSpecInfo } from '../../../preload/contract';

/** The list variant of a param spec. */
export type ListSpec = Extract<ParamSpecInfo, { kind: 'list' }>;

/** Parses one item; a string is the error to show next to it. */
export function parseListItem(spec: ListSpec, text: string): { value: number | string } | string {
  if (spec.of === 'string') {
    if (spec.choices?.length && !spec.choices.includes(text)) return `One of ${spec.choices.join(', ')}`;
    return { value: text };
  }
  const trimmed = text.trim();
  if (trimmed === '') return 'A number is needed';
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return 'Not a number';
  if (spec.of === 'integer' && !Number.isInteger(value)) return 'Must be a whole number';
  if (spec.min !== undefined && value < spec.min) return `At least ${spec.min}`;
  if (spec.max !== undefined && value > spec.max) return `At most ${spec.max}`;
  return { value };
}
