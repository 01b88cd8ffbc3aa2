/**
 * A fuzz corpus of pipeline files, generated from a fixed seed out of the shipped samples
 * (resources/pipelines/*.distillery.json) by mutations an adversary or a broken editor would make:
 * deep nesting, huge strings, names of Object.prototype members, non-finite numbers, type swaps,
 * cycles, duplicate ids, missing and extra fields, long chains, edges to missing nodes, names at
 * the registry's length limit, byte order marks, truncated text.
 *
 * Each file goes the way `distillery validate` takes it (parseJson, migrate, validatePipeline) and
 * must be either refused with coded issues (never INTERNAL, never an exception escaping) or
 * accepted as a pipeline that plans, whose every model name the registry accepts, that survives
 * JSON unchanged, and that saves and loads back with the same tasks.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { DistilleryError, isErrorCode } from '../../main/base/errors';
import { createDefaultCatalog } from '../../main/nodes/index';
import { PIPELINE_LIMITS } from '../../main/pipeline/limits';
import { MODEL_NAME_MAX_LENGTH } from '../../main/pipeline/names';
import {
  invalidPipelineError,
  migrate,
  parseJson,
  parsePipelineFile,
  serializePipeline,
} from '../../main/pipeline/pipeline-file';
import { planPipeline } from '../../main/pipeline/plan';
import { validatePipeline } from '../../main/pipeline/validate';
import { validateModelName } from '../../main/registry/model-refs';
import { seededRandom } from '../helpers/random';

const SEED = 0x5eed_2024;
const FILES = 1200;

const catalog = createDefaultCatalog();
const samplesDir = join(import.meta.dirname, '../../resources/pipelines');
const samples = readdirSync(samplesDir)
  .filter((file) => file.endsWith('.distillery.json'))
  .sort()
  .map((file) => readFileSync(join(samplesDir, file), 'utf8'));

type Json = unknown;
type Container = Record<string, Json> | Json[];

const random = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (p: number): boolean => random() < p;

const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  '__defineGetter__',
];
const STRANGE_STRINGS = [
  '',
  ' ',
  'a.b.c',
  '.x',
  'x.',
  '1abc',
  'ü',
  '\u0000',
  'a/b',
  'a:b',
  'a@b',
  'x'.repeat(65),
  '~0/1',
];

/** Every (container, key) place in a value, found without recursion. */
function places(root: Json): Array<[Container, string | number]> {
  const found: Array<[Container, string | number]> = [];
  const stack: Json[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        found.push([value, index]);
        stack.push(item);
      });
    } else if (typeof value === 'object' && value !== null) {
      for (const key of Object.keys(value)) {
        found.push([value as Record<string, Json>, key]);
        stack.push((value as Record<string, Json>)[key]);
      }
    }
  }
  return found;
}

function objectsIn(root: Json): Array<Record<string, Json>> {
  const found: Array<Record<string, Json>> =
    typeof root === 'object' && root !== null && !Array.isArray(root) ? [root as Record<string, Json>] : [];
  for (const [container, key] of places(root)) {
    const value = (container as Record<string, Json>)[key as string];
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      found.push(value as Record<string, Json>);
  }
  return found;
}

/** Sets a key as an own data property: assigning `__proto__` would set the prototype instead. */
function define(object: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Deep nesting is written into the text (see {@link expandNesting}): JSON.stringify itself
 * recurses, so the corpus could not be written otherwise. The marker is an ordinary string until then.
 */
function nested(depth: number, leaf: Json): Json {
  return `\u0001nest:${depth}:${chance(0.5) ? 'array' : 'object'}:${JSON.stringify(leaf)}`;
}

const NEST_MARKER = /"\\u0001nest:(\d+):(array|object):((?:[^"\\]|\\.)*)"/g;

function expandNesting(text: string): string {
  return text.replace(NEST_MARKER, (_, depth: string, kind: string, leaf: string) => {
    const inner = JSON.parse(`"${leaf}"`) as string;
    const count = Number(depth);
    return kind === 'array'
      ? `${'['.repeat(count)}${inner}${']'.repeat(count)}`
      : `${'{"v":'.repeat(count)}${inner}${'}'.repeat(count)}`;
  });
}

function anyValue(): Json {
  return pick<() => Json>([
    () => 0,
    () => -1,
    () => 1.5,
    () => 2 ** 53,
    () => 'text',
    () => pick(STRANGE_STRINGS),
    () => true,
    () => null,
    () => [],
    () => [1, 'two'],
    () => ({}),
    () => ({ x: 1 }),
  ])();
}

interface Doc {
  name?: Json;
  nodes?: Json;
  edges?: Json;
  [key: string]: Json;
}

const nodesOf = (doc: Doc): Array<Record<string, Json>> =>
  Array.isArray(doc.nodes)
    ? (doc.nodes.filter((node) => typeof node === 'object' && node !== null) as Array<Record<string, Json>>)
    : [];
const edgesOf = (doc: Doc): Json[] => (Array.isArray(doc.edges) ? doc.edges : []);
const idsOf = (doc: Doc): string[] => nodesOf(doc).map((node) => String(node.id));

/** Mutations of the parsed document. Each returns its name, for the failure report. */
const MUTATIONS: Array<(doc: Doc) => string> = [
  (doc) => {
    const target = pick(places(doc));
    const depth = pick([10, 60, 62, 63, 64, 65, 200, 5000]);
    (target[0] as Record<string, Json>)[target[1] as string] = nested(depth, anyValue());
    return `nest ${depth} at ${String(target[1])}`;
  },
  (doc) => {
    const strings = places(doc).filter(
      ([c, k]) => typeof (c as Record<string, Json>)[k as string] === 'string',
    );
    if (strings.length === 0) return 'no string';
    const [container, key] = pick(strings);
    const length = pick([100, 10_000, 1_000_000]);
    (container as Record<string, Json>)[key as string] = 'x'.repeat(length);
    return `huge string ${length} at ${String(key)}`;
  },
  (doc) => {
    // Names around the model-name limit: the longest pipeline name a node id still fits after.
    const longest = Math.max(1, ...idsOf(doc).map((id) => id.length));
    const length = MODEL_NAME_MAX_LENGTH - 1 - longest + pick([-1, 0, 1, 2]);
    doc.name = 'n'.repeat(Math.max(1, length));
    return `name of ${length}`;
  },
  (doc) => {
    const name = pick(PROTOTYPE_NAMES);
    const where = pick(objectsIn(doc));
    define(where, name, anyValue());
    return `own "${name}" key`;
  },
  (doc) => {
    const name = pick(PROTOTYPE_NAMES);
    const node = nodesOf(doc).length > 0 ? pick(nodesOf(doc)) : undefined;
    if (!node) return 'no node';
    const choice = pick(['type', 'id', 'param']);
    if (choice === 'param' && typeof node.params === 'object' && node.params !== null)
      define(node.params as Record<string, Json>, name, 1);
    else node[choice === 'param' ? 'type' : choice] = name;
    return `prototype name "${name}" as ${choice}`;
  },
  (doc) => {
    const edges = edgesOf(doc).filter((edge) => typeof edge === 'object' && edge !== null) as Array<
      Record<string, Json>
    >;
    if (edges.length === 0) return 'no edge';
    const edge = pick(edges);
    const side = pick(['from', 'to']);
    const [nodeId] = String(edge[side]).split('.');
    edge[side] = `${nodeId}.${pick(PROTOTYPE_NAMES)}`;
    return `prototype port on ${side}`;
  },
  (doc) => {
    const target = pick(places(doc));
    (target[0] as Record<string, Json>)[target[1] as string] = anyValue();
    return `type swap at ${String(target[1])}`;
  },
  (doc) => {
    // An edge from a later node's output back to an earlier node's input of the same type.
    const edges = edgesOf(doc).filter((edge) => typeof edge === 'object' && edge !== null) as Array<
      Record<string, string>
    >;
    if (edges.length < 2) return 'too few edges';
    const late = edges[edges.length - 1]!;
    const early = pick(edges);
    edges.push({ from: `${String(late.to).split('.')[0]}.model`, to: String(early.to) });
    (doc.edges as Json[]).push(edges[edges.length - 1]);
    return 'back edge';
  },
  (doc) => {
    // A node fed by its own output: an edge into a model input re-pointed at that node's model output.
    const edges = edgesOf(doc).filter(
      (edge) =>
        typeof edge === 'object' &&
        edge !== null &&
        String((edge as Record<string, Json>).to).endsWith('.model'),
    ) as Array<Record<string, Json>>;
    if (edges.length === 0) return 'no model edge';
    const edge = pick(edges);
    edge.from = `${String(edge.to).split('.')[0]}.model`;
    return 'self loop';
  },
  (doc) => {
    // A ring of train nodes, each fine-tuning the next one's model.
    const data = nodesOf(doc).find((node) => String(node.type).startsWith('dataset.'));
    if (!data || !Array.isArray(doc.nodes) || !Array.isArray(doc.edges)) return 'no dataset';
    const length = pick([2, 50, 5000]);
    for (let i = 0; i < length; i++) {
      doc.nodes.push({ id: `ring-${i}`, type: 'train', params: {} });
      doc.edges.push(
        { from: `ring-${(i + 1) % length}.model`, to: `ring-${i}.model` },
        { from: `${String(data.id)}.dataset`, to: `ring-${i}.dataset` },
      );
    }
    return `ring of ${length}`;
  },
  (doc) => {
    const nodes = nodesOf(doc);
    if (nodes.length < 2) return 'too few nodes';
    pick(nodes).id = pick(nodes).id;
    return 'duplicate id';
  },
  (doc) => {
    const [container, key] = pick(places(doc));
    if (Array.isArray(container)) container.splice(key as number, 1);
    else delete container[key as string];
    return `remove ${String(key)}`;
  },
  (doc) => {
    define(pick(objectsIn(doc)), pick(['extra', 'Params', 'ui', 'x', 'sweep', 'nodes']), anyValue());
    return 'extra field';
  },
  (doc) => {
    const where = pick(objectsIn(doc));
    const count = pick([20, PIPELINE_LIMITS.keys + 1]);
    for (let i = 0; i < count; i++) define(where, `key-${i}`, i);
    return `${count} keys`;
  },
  (doc) => {
    // A long chain of train nodes: valid when the sample has a model and a dataset to start from.
    const nodes = nodesOf(doc);
    const model = nodes.find((node) => node.type === 'model.mlp' || node.type === 'model.cnn');
    const data = nodes.find((node) => String(node.type).startsWith('dataset.'));
    if (!model || !data || !Array.isArray(doc.nodes) || !Array.isArray(doc.edges)) return 'no chain start';
    const length = pick([10, 300, 3000]);
    let previous = String(model.id);
    for (let i = 0; i < length; i++) {
      const id = `chain-${i}`;
      doc.nodes.push({ id, type: 'train', params: chance(0.5) ? {} : { epochs: 1 + (i % 3) } });
      doc.edges.push(
        { from: `${previous}.model`, to: `${id}.model` },
        { from: `${String(data.id)}.dataset`, to: `${id}.dataset` },
      );
      previous = id;
    }
    return `chain of ${length}`;
  },
  (doc) => {
    if (!Array.isArray(doc.edges)) return 'no edges';
    const count = pick([1, 50, 5000]);
    const ids = idsOf(doc);
    for (let i = 0; i < count; i++) {
      doc.edges.push(
        chance(0.5)
          ? { from: `ghost-${i}.model`, to: `${pick(ids.length ? ids : ['x'])}.model` }
          : { from: `${pick(ids.length ? ids : ['x'])}.model`, to: `ghost-${i}.model` },
      );
    }
    return `${count} edges to missing nodes`;
  },
  (doc) => {
    const numbers = places(doc).filter(
      ([c, k]) => typeof (c as Record<string, Json>)[k as string] === 'number',
    );
    if (numbers.length === 0) return 'no number';
    const [container, key] = pick(numbers);
    (container as Record<string, Json>)[key as string] = pick([
      -1,
      0,
      -0,
      0.5,
      1e308,
      -1e308,
      2 ** 32,
      4294967295,
      1e-320,
    ]);
    return `edge number at ${String(key)}`;
  },
  (doc) => {
    const nodes = nodesOf(doc);
    if (nodes.length === 0) return 'no node';
    pick(nodes).id = pick(STRANGE_STRINGS);
    return 'strange id';
  },
  (doc) => {
    if (Array.isArray(doc.nodes)) doc.nodes.reverse();
    if (Array.isArray(doc.edges)) doc.edges.reverse();
    return 'reversed';
  },
];

/** Mutations of the text, after the document is written. */
const TEXT_MUTATIONS: Array<(text: string) => [string, string]> = [
  (text) => [`\uFEFF${text}`, 'byte order mark'],
  (text) => {
    const numbers = [...text.matchAll(/(?<=[:,[]\s*)-?\d+(\.\d+)?(?=\s*[,\]}])/g)];
    if (numbers.length === 0) return [text, 'no number literal'];
    const match = pick(numbers);
    const replacement = pick(['1e999', '-1e999', '1E400']);
    return [
      `${text.slice(0, match.index)}${replacement}${text.slice(match.index + match[0].length)}`,
      `number → ${replacement}`,
    ];
  },
  (text) => {
    const at = Math.floor(random() * text.length);
    return [text.slice(0, at), `truncated at ${at}`];
  },
  (text) => [
    text.replace('"params": {', `"params": {"__proto__": ${pick(['1', '{}', 'null'])},`),
    '__proto__ param in text',
  ],
  (text) => {
    const depth = pick([64, 1000, 20_000]);
    return [
      text.replace('"seed":', `"seed": ${'['.repeat(depth)}0${']'.repeat(depth)}, "old-seed":`),
      `seed nested ${depth}`,
    ];
  },
];

interface Outcome {
  file: number;
  mutations: string[];
  ms: number;
  accepted: boolean;
  codes: string[];
}

function check(text: string): { accepted: boolean; codes: string[] } {
  let doc: unknown;
  try {
    doc = migrate(parseJson(text, 'fuzz.distillery.json'));
  } catch (error) {
    // A file that cannot be read as JSON at all is refused whole, with a code.
    if (
      !(error instanceof DistilleryError) ||
      !['PIPELINE_JSON_INVALID', 'PIPELINE_TOO_LARGE'].includes(error.code)
    )
      throw error;
    return { accepted: false, codes: [error.code] };
  }
  const { issues, pipeline } = validatePipeline(doc, catalog, 'fuzz.distillery.json');
  if (!pipeline) {
    if (issues.length === 0) throw new Error('refused without an issue');
    for (const issue of issues) {
      if (!isErrorCode(issue.code) || issue.code === 'INTERNAL')
        throw new Error(`issue with code ${issue.code}`);
      if (typeof issue.message !== 'string' || issue.message.length > 2000)
        throw new Error(`unbounded message for ${issue.code}`);
    }
    if (issues.length > PIPELINE_LIMITS.issues + 1) throw new Error(`${issues.length} issues listed`);
    // What `distillery validate --json` prints, and the error a run start throws, are both writable.
    const json = JSON.stringify(issues);
    if (json.length > 3 * text.length + 500_000)
      throw new Error(`issues take ${json.length} characters for ${text.length}`);
    const error = invalidPipelineError(issues);
    if (!isErrorCode(error.code)) throw new Error(`refusal coded ${String(error.code)}`);
    return { accepted: false, codes: [...new Set(issues.map((issue) => issue.code))] };
  }
  if (issues.length > 0) throw new Error('accepted with issues');
  // No wrong accept: it plans, its model names register, it survives JSON, and it reads back.
  const tasks = planPipeline(pipeline);
  if (tasks.length !== pipeline.nodes.length) throw new Error('a node is missing from the plan');
  const saved = pipeline.doc;
  for (const node of pipeline.nodes) {
    if (Object.values(node.spec.outputs).some((port) => port.type !== 'dataset'))
      validateModelName(`${saved.name}/${node.id}`);
    for (const param of Object.keys(node.explicitParams)) {
      if (!Object.hasOwn(node.spec.params, param))
        throw new Error(`undeclared param "${param}" kept on ${node.id}`);
    }
  }
  const text2 = serializePipeline(saved);
  expect(JSON.parse(text2)).toEqual(saved);
  const reread = planPipeline(parsePipelineFile(text2, 'fuzz.distillery.json', catalog));
  if (reread.map((task) => task.fingerprint).join() !== tasks.map((task) => task.fingerprint).join())
    throw new Error('fingerprints changed through save and load');
  return { accepted: true, codes: [] };
}

describe('pipeline fuzz corpus', () => {
  it(`validates ${FILES} mutated files without a crash, a wrong accept or an uncoded refusal`, () => {
    const outcomes: Outcome[] = [];
    const failures: string[] = [];
    for (let file = 0; file < FILES; file++) {
      const doc = JSON.parse(pick(samples)) as Doc;
      const mutations: string[] = [];
      // One file in ten is a sample unchanged but for its text; the rest take one to three mutations.
      const count = file % 10 === 0 ? 0 : 1 + Math.floor(random() * 3);
      for (let i = 0; i < count; i++) mutations.push(pick(MUTATIONS)(doc));
      let text = expandNesting(chance(0.5) ? JSON.stringify(doc, null, 2) : JSON.stringify(doc));
      if (file % 10 === 0 || chance(0.3)) {
        const [mutated, name] = pick(TEXT_MUTATIONS)(text);
        text = mutated;
        mutations.push(name);
      }
      const start = performance.now();
      try {
        const { accepted, codes } = check(text);
        outcomes.push({ file, mutations, ms: performance.now() - start, accepted, codes });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`#${file} [${mutations.join('; ')}]: ${message.slice(0, 300)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(outcomes).toHaveLength(FILES);

    const slowest = outcomes.reduce((a, b) => (b.ms > a.ms ? b : a));
    const accepted = outcomes.filter((outcome) => outcome.accepted).length;
    const seen = new Set(outcomes.flatMap((outcome) => outcome.codes));
    console.log(
      `pipeline fuzz: ${FILES} files (seed ${SEED}), ${accepted} accepted, ${FILES - accepted} refused; ` +
        `slowest ${slowest.ms.toFixed(1)} ms (#${slowest.file}: ${slowest.mutations.join('; ')}); codes: ${[...seen].sort().join(', ')}`,
    );
    // The corpus exercises both outcomes and the refusals this hardening added.
    expect(accepted).toBeGreaterThan(50);
    for (const code of [
      'PIPELINE_JSON_INVALID',
      'PIPELINE_TOO_DEEP',
      'NUMBER_NOT_FINITE',
      'UNKNOWN_PARAM',
      'UNKNOWN_FIELD',
      'UNKNOWN_PORT',
      'PIPELINE_TOO_LARGE',
      'UNKNOWN_NODE',
      'DUPLICATE_NODE_ID',
      'CYCLE',
      'MODEL_NAME_INVALID',
      'ISSUES_TRUNCATED',
    ]) {
      expect(seen, code).toContain(code);
    }
  });
});
