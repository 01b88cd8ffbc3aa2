/**
 * The names a pipeline puts into the registry. A run registers each model a node makes under
 * `<pipeline name>/<node id>`; the registry refuses a name these rules refuse, so the validator
 * checks every such name with the same rules before a run starts, and the registry imports them
 * from here: the two cannot drift.
 *
 * Pure: no imports.
 */

/** The longest model name, in characters. */
export const MODEL_NAME_MAX_LENGTH = 200;

const NAME_SEGMENT = '[A-Za-z0-9_][A-Za-z0-9._-]*';

/** A model name: segments of letters, digits, "_", "." and "-" joined by "/"; no ":" or "@". */
export const MODEL_NAME_PATTERN = new RegExp(`^${NAME_SEGMENT}(?:/${NAME_SEGMENT})*$`);

/** The model name rule in words, for messages. */
export const MODEL_NAME_EXPECTED = `letters, digits, "_", ".", "-" in segments joined by "/" (no ":" or "@"), at most ${MODEL_NAME_MAX_LENGTH} characters`;

/**
 * Whether `name` may name a model. ":" and "@" are refused because they separate a name from its
 * version number or alias in a reference (`name:3`, `name@best`).
 */
export function isModelName(name: string): boolean {
  return name.length > 0 && name.length <= MODEL_NAME_MAX_LENGTH && MODEL_NAME_PATTERN.test(name);
}

/** The registry name of the models that node `nodeId` of pipeline `pipelineName` registers. */
export function modelNameFor(pipelineName: string, nodeId: string): string {
  return `${pipelineName}/${nodeId}`;
}

/**
 * A pipeline name: a letter or digit first, then letters, digits, "_", "." or "-". Always a valid
 * first segment of a model name.
 */
export const PIPELINE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The longest pipeline name: a model name's limit less the "/" and at least one character of node
 * id. Which node ids fit after a given name is checked node by node.
 */
export const PIPELINE_NAME_MAX_LENGTH = MODEL_NAME_MAX_LENGTH - 2;

/** The pipeline name rule in words, for messages. */
export const PIPELINE_NAME_EXPECTED = `letters, digits, "_", "." or "-", starting with a letter or digit, at most ${PIPELINE_NAME_MAX_LENGTH} characters`;
