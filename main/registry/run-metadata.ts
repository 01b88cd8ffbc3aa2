/** A run's user-facing fields (label, tags, note): what they may be changed to, and the check of it. */
import {
  RUN_LABEL_MAX_LENGTH,
  RUN_NOTE_MAX_LENGTH,
  RUN_TAG_MAX_LENGTH,
  RUN_TAGS_MAX,
} from '../../preload/contract';
import { DistilleryError } from '../base/errors';

/** What a run's user-facing fields may be changed to (`runs.update`); absent fields stay. */
export interface RunMetadataPatch {
  label?: string | null;
  tags?: string[];
  note?: string;
}

/** A tag is trimmed; it may not be empty, hold a comma or a line break, or exceed the limit. */
const TAG = /^[^,\r\n]+$/;

/** Checks and normalises a run's user-facing fields; throws RUN_METADATA_INVALID naming the field. */
export function normalizeRunMetadata(patch: RunMetadataPatch): RunMetadataPatch {
  const invalid = (field: string, expected: string, received: unknown) =>
    new DistilleryError('RUN_METADATA_INVALID', `Run ${field} must be ${expected}`, {
      param: field,
      expected,
      received,
    });
  const out: RunMetadataPatch = {};
  if (patch.label !== undefined) {
    const label = patch.label === null ? '' : patch.label.trim();
    if (label.length > RUN_LABEL_MAX_LENGTH || /[\r\n]/.test(label))
      throw invalid('label', `one line of at most ${RUN_LABEL_MAX_LENGTH} characters`, patch.label);
    out.label = label === '' ? null : label;
  }
  if (patch.tags !== undefined) {
    const tags = [...new Set(patch.tags.map((tag) => tag.trim()))].sort();
    if (tags.length > RUN_TAGS_MAX) throw invalid('tags', `at most ${RUN_TAGS_MAX} tags`, tags.length);
    for (const tag of tags) {
      if (!TAG.test(tag) || tag.length > RUN_TAG_MAX_LENGTH)
        throw invalid(
          'tags',
          `non-empty, at most ${RUN_TAG_MAX_LENGTH} characters, without commas or line breaks`,
          tag,
        );
    }
    out.tags = tags;
  }
  if (patch.note !== undefined) {
    if (patch.note.length > RUN_NOTE_MAX_LENGTH)
      throw invalid('note', `at most ${RUN_NOTE_MAX_LENGTH} characters`, patch.note.length);
    out.note = patch.note;
  }
  return out;
}
