/**
 * The validator against hostile documents: names the registry would refuse later, nesting that
 * would exhaust the stack, documents and lists too large to report one issue per element,
 * non-finite numbers, names of Object.prototype members, and a byte order mark.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PipelineDoc, ValidationIssue } from '../../preload/contract';
import { DistilleryError, isErrorCode } from '../../main/base/errors';
import { createDefaultCatalog } from '../../main/nodes/index';
import { findCycle, topologicalOrder } from '../../main/pipeline/graph';
import { jsonErrorPosition } from '../../main/pipeline/json-position';
import { PIPELINE_LIMITS, scanDocument } from '../../main/pipeline/limits';
import { MODEL_NAME_MAX_LENGTH, PIPELINE_NAME_MAX_LENGTH } from '../../main/pipeline/names';
import { parseJson, parsePipelineFile, serializePipeline } from '../../main/pipeline/pipeline-file';
import { planPipeline } from '../../main/pipeline/plan';
import { validatePipeline } from '../../main/pipeline/validate';
import { validateModelName } from '../../main/registry/model-refs';
import { mnistMlpPipeline } from '../helpers/pipelines';

const catalog = createDefaultCatalog();

function base(): PipelineDoc {
  return mnistMlpPipeline({
    data: { trainLimit: 2000 },
    net: { hidden: [32] },
    fit: { epochs: 1 },
  });
}

function issuesOf(doc: unknown): ValidationIssue[] {
  return validatePipeline(doc, catalog).issues;
}

/** The issues of a file's text, as `distillery validate` reads it. */
function issuesOfText(text: string): ValidationIssue[] {
  return validatePipeline(parseJson(text, 'x.distillery.json'), catalog).issues;
}

/** What `run` throws; undefined when it returns. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

function codes(issues: ValidationIssue[]): string[] {
  return issues.map((issue) => issue.code);
}

const nest = (depth: number, inner = '1') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;

describe('model names', () => {
  it('refuses a pipeline name that leaves no room for a node id in a model name', () => {
    const issues = issuesOf({ ...base(), name: 'p'.repeat(PIPELINE_NAME_MAX_LENGTH + 1) });
    expect(issues).toEqual([
      expect.objectContaining({
        code: 'PIPELINE_SCHEMA',
        pointer: '/name',
        expected: expect.stringContaining('198'),
      }),
    ]);
  });

  it('refuses, per node, the model names over the registry limit, and only for nodes that register models', () => {
    // With a name of 196 characters, "fit" makes a model name of exactly 200; "network" one of 204.
    // "data" and "score" are longer than "fit" but register no model.
    const name = 'p'.repeat(MODEL_NAME_MAX_LENGTH - 1 - 'fit'.length);
    const text = JSON.stringify({ ...base(), name }).replace(/"net([".])/g, '"network$1');
    const issues = issuesOfText(text);
    expect(issues.map((issue) => [issue.code, issue.nodeId, issue.pointer])).toEqual([
      ['MODEL_NAME_INVALID', 'network', '/nodes/1/id'],
    ]);
    expect(issues[0]!.message).toContain(
      `204 characters, over the registry's limit of ${MODEL_NAME_MAX_LENGTH}`,
    );
    expect(() => validateModelName(`${name}/network`)).toThrow(DistilleryError);
    expect(() => validateModelName(`${name}/fit`)).not.toThrow();
  });

  it('accepts the longest names whose every model name the registry accepts', () => {
    const doc = base();
    doc.name = 'p'.repeat(MODEL_NAME_MAX_LENGTH - 1 - 'score'.length);
    const { pipeline, issues } = validatePipeline(doc, catalog);
    expect(issues).toEqual([]);
    for (const task of planPipeline(pipeline!))
      expect(() => validateModelName(`${doc.name}/${task.nodeId}`)).not.toThrow();
  });
});

describe('nesting', () => {
  it('refuses 5,000 levels anywhere with PIPELINE_TOO_DEEP and the pointer of the level over the limit', () => {
    const places: Array<[string, (doc: string) => string]> = [
      ['a param value', (doc) => doc.replace('"epochs":1', `"epochs":${nest(5000)}`)],
      ['the name', (doc) => doc.replace('"name":"mnist-mlp"', `"name":${nest(5000)}`)],
      ['the format', (doc) => doc.replace('"format":1', `"format":${nest(5000)}`)],
      ['the seed', (doc) => doc.replace('"seed":42', `"seed":${nest(5000, '{}')}`)],
      ['an edge', (doc) => doc.replace('"from":"data.dataset"', `"from":${nest(5000)}`)],
      ['a node id', (doc) => doc.replace('"id":"data"', `"id":${nest(5000)}`)],
    ];
    for (const [place, mutate] of places) {
      const issues = issuesOfText(mutate(JSON.stringify(base())));
      expect(codes(issues), place).toEqual(['PIPELINE_TOO_DEEP']);
      const pointer = issues[0]!.pointer!;
      // The document is level 1, so the first refused level is the 65th.
      expect(pointer.split('/').length - 1, place).toBe(PIPELINE_LIMITS.depth);
      expect(issues[0]!.expected).toContain(String(PIPELINE_LIMITS.depth));
    }
  });

  it('accepts nesting up to the limit as data (refused then for its type, not its depth)', () => {
    const text = JSON.stringify(base()).replace('"epochs":1', `"epochs":${nest(PIPELINE_LIMITS.depth - 4)}`);
    expect(codes(issuesOfText(text))).toEqual(['PARAM_TYPE']);
  });

  it('finds a cycle of 5,000 nodes and writes a bounded message', () => {
    const doc = base();
    for (let i = 0; i < 5000; i++) {
      doc.nodes.push({ id: `t${i}`, type: 'train', params: {} });
      doc.edges.push(
        { from: `t${(i + 4999) % 5000}.model`, to: `t${i}.model` },
        { from: 'data.dataset', to: `t${i}.dataset` },
      );
    }
    const issues = issuesOf(doc);
    expect(codes(issues)).toEqual(['CYCLE']);
    const cycle = issues[0]!.received as string[];
    expect(cycle).toHaveLength(5001);
    expect(cycle[0]).toBe(cycle[5000]);
    expect(issues[0]!.message.length).toBeLessThan(300);
  });

  it('scans deeply nested invalid JSON for its error position without recursion', () => {
    const text = `${'['.repeat(100_000)}1,]`;
    expect(jsonErrorPosition(text)).toBe(100_002);
    expect(thrown(() => parseJson(text, 'deep.json'))).toMatchObject({ code: 'PIPELINE_JSON_INVALID' });
  });
});

describe('JSON error positions', () => {
  it('are where V8 reports them, whenever V8 reports one, for 2,000 corruptions of a sample', () => {
    const text = readFileSync(
      join(import.meta.dirname, '../../resources/pipelines/mnist-distill.distillery.json'),
      'utf8',
    );
    let state = 7;
    const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    let compared = 0;
    for (let k = 0; k < 2000; k++) {
      const at = Math.floor(next() * text.length);
      const corrupt = [
        text.slice(0, at),
        text.slice(0, at) + text.slice(at + 1),
        `${text.slice(0, at)}}${text.slice(at)}`,
        `${text.slice(0, at)}"${text.slice(at)}`,
      ][k % 4]!;
      let message: string | undefined;
      try {
        JSON.parse(corrupt);
      } catch (error) {
        message = (error as Error).message;
      }
      const found = jsonErrorPosition(corrupt);
      if (message === undefined) {
        expect(found, corrupt).toBe(-1);
        continue;
      }
      expect(found, message).toBeGreaterThanOrEqual(0);
      const reported = /at position (\d+)/.exec(message);
      if (reported) {
        expect(found, message).toBe(Number(reported[1]));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });
});

describe('graph algorithms', () => {
  it('order 50,000 nodes fanned out of a 2-cycle and find that cycle', () => {
    const ids = ['a', 'b', ...Array.from({ length: 50_000 }, (_, i) => `n${i}`)];
    const edges = [
      { from: 'a.out', to: 'b.in' },
      { from: 'b.out', to: 'a.in' },
      ...ids.slice(2).map((id) => ({ from: 'a.out', to: `${id}.in` })),
    ];
    const { order, cyclic } = topologicalOrder(ids, edges);
    expect(order).toEqual([]);
    expect(cyclic).toHaveLength(ids.length);
    expect(findCycle(cyclic, edges)).toEqual(['b', 'a', 'b']);
    expect(findCycle(['n1', 'n2'], edges)).toBeUndefined();
  });

  it('orders a chain of 100,000 nodes given in reverse', () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => `n${99_999 - i}`);
    const edges = Array.from({ length: 99_999 }, (_, i) => ({ from: `n${i}.out`, to: `n${i + 1}.in` }));
    const { order, cyclic } = topologicalOrder(ids, edges);
    expect(cyclic).toEqual([]);
    expect(order[0]).toBe('n0');
    expect(order[99_999]).toBe('n99999');
  });
});

describe('size', () => {
  const small = { ...PIPELINE_LIMITS, nodes: 5, edges: 6, bytes: 4096, issues: 10 };

  it('refuses more nodes or edges than the limits, naming the limit', () => {
    const doc = base();
    doc.nodes.push({ id: 'x', type: 'evaluate', params: {} }, { id: 'y', type: 'evaluate', params: {} });
    doc.edges.push({ from: 'fit.model', to: 'x.model' }, { from: 'fit.model', to: 'y.model' });
    const issues = validatePipeline(doc, catalog, undefined, small).issues;
    expect(issues.map((issue) => [issue.code, issue.pointer, issue.expected])).toEqual([
      ['PIPELINE_TOO_LARGE', '/nodes', 'at most 5 nodes'],
      ['PIPELINE_TOO_LARGE', '/edges', 'at most 6 edges'],
    ]);
  });

  it('refuses a file over the byte limit before parsing it, and a document over it as JSON', () => {
    const doc = { ...base(), description: 'x'.repeat(5000) };
    const text = JSON.stringify(doc);
    expect(thrown(() => parseJson(text, 'big.distillery.json', small))).toMatchObject({
      code: 'PIPELINE_TOO_LARGE',
      details: { file: 'big.distillery.json' },
    });
    expect(codes(validatePipeline(doc, catalog, undefined, small).issues)).toEqual(['PIPELINE_TOO_LARGE']);
    // Multi-byte characters count as the bytes they take.
    const accented = JSON.stringify({ ...base(), description: 'é'.repeat(2000) });
    expect(accented.length).toBeLessThan(small.bytes);
    expect(thrown(() => parseJson(accented, 'é.json', small))).toMatchObject({ code: 'PIPELINE_TOO_LARGE' });
  });

  it('refuses an object with more keys than any pipeline object has', () => {
    const params = Object.fromEntries(
      Array.from({ length: PIPELINE_LIMITS.keys + 1 }, (_, i) => [`p${i}`, i]),
    );
    const doc = base();
    doc.nodes[2]!.params = params;
    expect(issuesOf(doc)).toEqual([
      expect.objectContaining({ code: 'PIPELINE_TOO_LARGE', pointer: '/nodes/2/params', nodeId: 'fit' }),
    ]);
  });

  it('estimates a document from below, so that any file under the limit passes as a document too', () => {
    const dir = join(import.meta.dirname, '../../resources/pipelines');
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.distillery.json'))) {
      const doc: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      const limits = { ...PIPELINE_LIMITS, bytes: JSON.stringify(doc).length };
      expect(scanDocument(doc, limits).fatal, file).toBe(false);
      expect(scanDocument(doc, { ...limits, bytes: Math.floor(limits.bytes / 2) }).fatal, file).toBe(true);
    }
  });

  it('lists at most the first issues, then one issue counting the rest', () => {
    const doc = base();
    for (let i = 0; i < 30; i++) doc.edges.push({ from: `ghost${i}.model`, to: 'score.model' });
    const issues = validatePipeline(doc, catalog, 'f.json', { ...PIPELINE_LIMITS, issues: 10 }).issues;
    expect(issues).toHaveLength(11);
    expect(issues[10]).toMatchObject({ code: 'ISSUES_TRUNCATED', received: 30, file: 'f.json' });
    expect(issues[10]!.message).toContain('20 more were found');
  });

  it('keeps every message bounded: candidate lists, quoted values, list items and unknown params', () => {
    const doc = base();
    for (let i = 0; i < 200; i++) doc.nodes.push({ id: `extra${i}`, type: 'evaluate', params: {} });
    doc.edges.push({ from: `${'g'.repeat(60)}.model`, to: 'score.model' });
    doc.nodes.push({
      id: 'sample',
      type: 'diffusion.sample',
      params: { labels: Array.from({ length: 5000 }, () => -5) },
    });
    doc.nodes[2]!.params = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`unknown${i}`, 'x'.repeat(100_000)]),
    );
    doc.name = `bad name ${'x'.repeat(100_000)}`;
    const issues = issuesOf(doc);
    for (const issue of issues) {
      expect(issue.message.length, issue.code).toBeLessThan(600);
      expect((issue.expected ?? '').length, issue.code).toBeLessThan(600);
    }
    const unknownNode = issues.find((issue) => issue.code === 'UNKNOWN_NODE')!;
    expect(unknownNode.expected).toMatch(/^one of data, net, fit, score, extra0, .* and 195 more$/);
    expect(
      issues.filter((issue) => issue.nodeId === 'sample' && issue.param?.startsWith('labels[')),
    ).toHaveLength(10);
    expect(issues).toContainEqual(
      expect.objectContaining({ nodeId: 'sample', param: 'labels', received: '5000 wrong items' }),
    );
    expect(issues.filter((issue) => issue.code === 'UNKNOWN_PARAM' && issue.nodeId === 'fit')).toHaveLength(
      11,
    );
  });
});

describe('non-finite numbers', () => {
  it('refuses 1e999 in ui, seed and params with NUMBER_NOT_FINITE, the pointer and the node, once per place', () => {
    const text = JSON.stringify({ ...base(), seed: 0 })
      .replace('"seed":0', '"seed":1e999')
      .replace(
        '{"id":"data","type":"dataset.mnist","params":{"trainLimit":2000}}',
        '{"id":"data","type":"dataset.mnist","params":{"trainLimit":-1e999},"ui":{"x":1e999,"y":0}}',
      )
      .replace('"hidden":[32]', '"hidden":[32,1e999]');
    const issues = issuesOfText(text);
    expect(issues.map((issue) => [issue.code, issue.pointer, issue.nodeId, issue.received])).toEqual([
      ['NUMBER_NOT_FINITE', '/seed', undefined, 'Infinity'],
      ['NUMBER_NOT_FINITE', '/nodes/0/params/trainLimit', 'data', '-Infinity'],
      ['NUMBER_NOT_FINITE', '/nodes/0/ui/x', 'data', 'Infinity'],
      ['NUMBER_NOT_FINITE', '/nodes/1/params/hidden/1', 'net', 'Infinity'],
    ]);
    expect(issues[2]!.message).toContain('1e999');
    // The issues survive JSON (received is a string, not a number JSON would write as null).
    expect(JSON.parse(JSON.stringify(issues))).toEqual(issues);
  });

  it('refuses NaN and values JSON cannot hold, as a document sent over IPC may carry them', () => {
    const doc = base() as unknown as { nodes: Array<{ ui?: unknown; params: Record<string, unknown> }> };
    doc.nodes[0]!.ui = { x: NaN, y: 0 };
    expect(issuesOf(doc)).toEqual([
      expect.objectContaining({ code: 'NUMBER_NOT_FINITE', pointer: '/nodes/0/ui/x' }),
    ]);
    doc.nodes[0]!.ui = { x: 0, y: 0 };
    doc.nodes[2]!.params.epochs = new Map([[1, 2]]);
    expect(issuesOf(doc)).toEqual([
      expect.objectContaining({
        code: 'PIPELINE_SCHEMA',
        pointer: '/nodes/2/params/epochs',
        received: 'an instance of Map',
      }),
    ]);
    doc.nodes[2]!.params.epochs = 10n;
    expect(codes(issuesOf(doc))).toEqual(['PIPELINE_SCHEMA']);
  });
});

describe('names of Object.prototype members', () => {
  const prototypeNames = [
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'valueOf',
    'isPrototypeOf',
  ];

  it('are unknown params, unknown ports, unknown node types and unknown fields like any other name', () => {
    for (const name of prototypeNames) {
      const text = JSON.stringify(base())
        .replace('"params":{"epochs":1}', `"params":{"epochs":1,"${name}":1}`)
        .replace('"to":"score.model"', `"to":"score.${name}"`)
        .replace('"type":"evaluate"', `"type":"${name}"`)
        .replace('"seed":42', `"seed":42,"${name}":{}`);
      const issues = issuesOfText(text);
      expect(issues, name).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ code: 'UNKNOWN_FIELD', pointer: `/${name}`, received: name }),
          expect.objectContaining({
            code: 'UNKNOWN_PARAM',
            nodeId: 'fit',
            param: name,
            pointer: `/nodes/2/params/${name}`,
          }),
          expect.objectContaining({ code: 'UNKNOWN_NODE_TYPE', nodeId: 'score', received: name }),
        ]),
      );
      const wrongPort = JSON.stringify(base()).replace('"to":"fit.model"', `"to":"fit.${name}"`);
      expect(issuesOfText(wrongPort), name).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ code: 'UNKNOWN_PORT', nodeId: 'fit', port: name }),
        ]),
      );
      const wrongOutput = JSON.stringify(base()).replace('"from":"net.model"', `"from":"net.${name}"`);
      expect(codes(issuesOfText(wrongOutput)), name).toContain('UNKNOWN_PORT');
    }
  });

  it('may be node ids: such a pipeline plans, each node with its own inputs', () => {
    const text = JSON.stringify(base()).replace(/"fit/g, '"constructor').replace(/"net/g, '"__proto__');
    const { issues, pipeline } = validatePipeline(parseJson(text, 'x.json'), catalog);
    expect(issues).toEqual([]);
    const tasks = planPipeline(pipeline!);
    expect(tasks.map((task) => task.nodeId)).toEqual(['data', '__proto__', 'constructor', 'score']);
    expect(tasks[2]!.inputs).toEqual({
      dataset: { nodeId: 'data', port: 'dataset' },
      model: { nodeId: '__proto__', port: 'model' },
    });
    expect(tasks[2]!.dependsOn).toEqual(['data', '__proto__']);
  });
});

describe('byte order mark', () => {
  it('is skipped at the start of a file, and still refused anywhere else', () => {
    const text = serializePipeline(base());
    expect(parsePipelineFile(`\uFEFF${text}`, 'bom.distillery.json', catalog).nodes).toHaveLength(4);
    expect(thrown(() => parseJson(`\uFEFF\uFEFF${text}`, 'bom.json'))).toMatchObject({
      code: 'PIPELINE_JSON_INVALID',
      details: { line: 1, column: 1 },
    });
  });
});

describe('resolved params', () => {
  it('give each node its own copy of a list default, never the spec’s array', () => {
    const doc = base();
    doc.nodes[1]!.params = {};
    doc.nodes.push({ id: 'net2', type: 'model.mlp', params: {} });
    doc.edges.push({ from: 'data.dataset', to: 'net2.dataset' });
    const { pipeline } = validatePipeline(doc, catalog);
    const [first, second] = ['net', 'net2'].map((id) => pipeline!.nodes.find((node) => node.id === id)!);
    expect(first!.params.hidden).toEqual(first!.spec.params.hidden!.default);
    expect(first!.params.hidden).not.toBe(first!.spec.params.hidden!.default);
    expect(first!.params.hidden).not.toBe(second!.params.hidden);
  });
});

describe('issue codes', () => {
  it('are all error codes, so that a refusal is always coded', () => {
    const doc = JSON.parse(
      JSON.stringify(base())
        .replace('"seed":42', '"seed":1e999,"extra":1')
        .replace('"epochs":1', '"epochs":"x","__proto__":0'),
    ) as unknown;
    for (const issue of issuesOf(doc)) expect(isErrorCode(issue.code), issue.code).toBe(true);
  });
});
