/** Model names, aliases and references (`name`, `name:3`, `name@alias`, version ids), and new ids. */
import { randomBytes } from 'node:crypto';
import { DistilleryError } from '../base/errors';
import { isModelName, MODEL_NAME_EXPECTED } from '../pipeline/names';

// The model name rule is the validator's too: declared once in main/pipeline/names.ts.
export { isModelName };

/** A model reference, parsed: `name`, `name:3` or `name@alias` (version ids are tried first). */
export type ParsedModelRef =
  | { type: 'latest'; name: string }
  | { type: 'version'; name: string; version: number }
  | { type: 'alias'; name: string; alias: string };

const ALIAS = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const MAX_ALIAS_LENGTH = 100;
export const VERSION_NUMBER = /^[1-9][0-9]*$/;
export const VERSION_ID = /^mv_[0-9a-z]{10}$/;
const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Checks a model name; throws MODEL_REF_INVALID naming what is allowed. */
export function validateModelName(name: string): void {
  if (!isModelName(name)) {
    throw new DistilleryError(
      'MODEL_REF_INVALID',
      `Invalid model name ${JSON.stringify(name)}: use ${MODEL_NAME_EXPECTED}`,
      {
        expected: MODEL_NAME_EXPECTED,
        received: name,
      },
    );
  }
}

/** Checks an alias; throws ALIAS_INVALID. */
export function validateAlias(alias: string): void {
  if (alias.length === 0 || alias.length > MAX_ALIAS_LENGTH || !ALIAS.test(alias)) {
    const expected = `a letter, then letters, digits, "_", "." or "-" (at most ${MAX_ALIAS_LENGTH})`;
    throw new DistilleryError(
      'ALIAS_INVALID',
      `Invalid alias ${JSON.stringify(alias)}: expected ${expected}`,
      {
        param: 'alias',
        expected,
        received: alias,
      },
    );
  }
}

/** Parses `name`, `name:version` or `name@alias`; throws MODEL_REF_INVALID when malformed. */
export function parseModelRef(ref: string): ParsedModelRef {
  const invalid = (expected: string) =>
    new DistilleryError(
      'MODEL_REF_INVALID',
      `Invalid model reference ${JSON.stringify(ref)}: expected ${expected}`,
      {
        expected,
        received: ref,
      },
    );
  const at = ref.indexOf('@');
  const colon = ref.indexOf(':');
  if (at >= 0 && colon >= 0) throw invalid('one of "name:version" or "name@alias", not both');
  if (at >= 0) {
    const name = ref.slice(0, at);
    const alias = ref.slice(at + 1);
    if (!isModelName(name) || alias.length > MAX_ALIAS_LENGTH || !ALIAS.test(alias)) {
      throw invalid('"name@alias", the alias starting with a letter');
    }
    return { type: 'alias', name, alias };
  }
  if (colon >= 0) {
    const name = ref.slice(0, colon);
    const version = ref.slice(colon + 1);
    if (!isModelName(name) || !VERSION_NUMBER.test(version) || !Number.isSafeInteger(Number(version))) {
      throw invalid('"name:version" with a version number ≥ 1');
    }
    return { type: 'version', name, version: Number(version) };
  }
  if (!isModelName(ref)) throw invalid(`a version id or a model name of ${MODEL_NAME_EXPECTED}`);
  return { type: 'latest', name: ref };
}

/** `mv_` + 10 random base32 characters (50 bits). */
export function newId(prefix: string): string {
  const bytes = randomBytes(10);
  let out = prefix;
  for (const byte of bytes) out += ID_ALPHABET[byte & 31] ?? '0';
  return out;
}
