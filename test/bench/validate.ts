/**
 * `npm run bench:validate`: what reading and validating a pipeline costs, for a valid pipeline of
 * 100,000 nodes and for the adversarial shapes that once made validation quadratic or crash
 * (edges from missing nodes, a cycle fanned out to every node, a long cycle, deep nesting), and
 * for the largest documents the limits let through. Each line prints the time of
 * `parseJson` + `validatePipeline` next to `JSON.parse` of the same text, measured in the same
 * invocation, as a ratio: validation should cost a small multiple of parsing the text.
 *
 * Environment: BENCH_VALIDATE_NODES (100000) for the valid pipeline, BENCH_VALIDATE_REPEATS (3);
 * the best of the repeats is printed.
 */
import { performance } from 'node:perf_hooks';
import type { PipelineDoc, PipelineEdge, PipelineNode } from '../../preload/contract';
import { createDefaultCatalog } from '../../main/nodes/index';
import { PIPELINE_LIMITS } from '../../main/pipeline/limits';
import { parseJson } from '../../main/pipeline/pipeline-file';
import { planPipeline } from '../../main/pipeline/plan';
import { validatePipeline } from '../../main/pipeline/validate';

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const NODES = env('BENCH_VALIDATE_NODES', 100_000);
const REPEATS = env('BENCH_VALIDATE_REPEATS', 3);

const catalog = createDefaultCatalog();

function pipeline(nodes: PipelineNode[], edges: PipelineEdge[], name = 'bench'): PipelineDoc {
  return { format: 1, name, seed: 7, nodes, edges };
}

/**
 * One dataset, one MLP, then `count - 2` train nodes, each fine-tuning the previous one's model;
 * every tenth sets a param and a position. Ids are short so that 100,000 nodes fit the byte limit.
 */
function trainChain(count: number): PipelineDoc {
  const nodes: PipelineNode[] = [
    { id: 'data', type: 'dataset.mnist', params: { trainLimit: 1000, testLimit: 500 }, ui: { x: 0, y: 0 } },
    { id: 'net', type: 'model.mlp', params: { hidden: [64] }, ui: { x: 200, y: 0 } },
  ];
  const edges: PipelineEdge[] = [{ from: 'data.dataset', to: 'net.dataset' }];
  let previous = 'net';
  for (let i = 0; i < count - 2; i++) {
    const id = `t${i}`;
    nodes.push(
      i % 10 === 0
        ? { id, type: 'train', params: { epochs: 1 + (i % 5), learningRate: 0.001 }, ui: { x: i, y: 0 } }
        : { id, type: 'train', params: {} },
    );
    edges.push(
      { from: `${previous}.model`, to: `${id}.model` },
      { from: 'data.dataset', to: `${id}.dataset` },
    );
    previous = id;
  }
  return pipeline(nodes, edges);
}

/** `count` train nodes whose model inputs come from nodes that do not exist. */
function edgesFromMissingNodes(count: number): PipelineDoc {
  const doc = trainChain(2);
  for (let i = 0; i < count; i++) {
    doc.nodes.push({ id: `fit-${i}`, type: 'train', params: {} });
    doc.edges.push(
      { from: `ghost-${i}.model`, to: `fit-${i}.model` },
      { from: 'data.dataset', to: `fit-${i}.dataset` },
    );
  }
  return doc;
}

/** Two train nodes feeding each other, and `count` train nodes downstream of the pair. */
function fannedOutCycle(count: number): PipelineDoc {
  const doc = trainChain(2);
  doc.nodes.push({ id: 'a', type: 'train', params: {} }, { id: 'b', type: 'train', params: {} });
  doc.edges.push(
    { from: 'a.model', to: 'b.model' },
    { from: 'b.model', to: 'a.model' },
    { from: 'data.dataset', to: 'a.dataset' },
    { from: 'data.dataset', to: 'b.dataset' },
  );
  for (let i = 0; i < count; i++) {
    doc.nodes.push({ id: `fit-${i}`, type: 'train', params: {} });
    doc.edges.push(
      { from: 'a.model', to: `fit-${i}.model` },
      { from: 'data.dataset', to: `fit-${i}.dataset` },
    );
  }
  return doc;
}

/** `count` train nodes in one ring. */
function longCycle(count: number): PipelineDoc {
  const doc = trainChain(2);
  for (let i = 0; i < count; i++) {
    doc.nodes.push({ id: `fit-${i}`, type: 'train', params: {} });
    doc.edges.push(
      { from: `fit-${(i + count - 1) % count}.model`, to: `fit-${i}.model` },
      { from: 'data.dataset', to: `fit-${i}.dataset` },
    );
  }
  return doc;
}

/** A valid document with a param nested `depth` levels deep, as text. */
function deeplyNested(depth: number): string {
  const text = JSON.stringify(trainChain(3));
  return text.replace('"epochs":1', `"epochs":${'['.repeat(depth)}1${']'.repeat(depth)}`);
}

/** Repeats `unit` (a JSON value) inside an array until the text is just under the byte limit. */
function filledToTheLimit(prefix: string, unit: string, suffix: string): string {
  const room = PIPELINE_LIMITS.bytes - prefix.length - suffix.length;
  const count = Math.floor((room + 1) / (unit.length + 1));
  return `${prefix}${Array.from({ length: count }, () => unit).join(',')}${suffix}`;
}

interface Shape {
  name: string;
  text: string;
}

const shapes: Shape[] = [
  { name: `valid chain of ${NODES.toLocaleString('en-US')} nodes`, text: JSON.stringify(trainChain(NODES)) },
  { name: '10,000 edges from missing nodes', text: JSON.stringify(edgesFromMissingNodes(10_000)) },
  { name: '2-cycle fanned out to 50,000 nodes', text: JSON.stringify(fannedOutCycle(50_000)) },
  { name: 'cycle of 5,000 nodes', text: JSON.stringify(longCycle(5_000)) },
  { name: 'param nested 5,000 levels', text: deeplyNested(5_000) },
  {
    name: 'limit: 100,000 nodes of unknown type + 250,000 bad edges',
    text: JSON.stringify(
      pipeline(
        Array.from({ length: 100_000 }, (_, i) => ({ id: `n${i}`, type: 'x', params: {} })),
        Array.from({ length: 250_000 }, (_, i) => ({ from: `n${i % 100_000}.o`, to: `m${i}.i` })),
      ),
    ),
  },
  {
    name: 'limit: 16 MiB of unknown fields on one node',
    text: filledToTheLimit(
      '{"format":1,"name":"bench","seed":1,"edges":[],"nodes":[{"id":"a","type":"train","params":{',
      '"p0000000":0',
      '}}]}',
    ).replace(
      /"p0000000"/g,
      (() => {
        let i = 0;
        return () => `"p${(i++).toString(36).padStart(7, '0')}"`;
      })(),
    ),
  },
  {
    name: 'limit: 16 MiB of 1e999 in a list param',
    text: filledToTheLimit(
      '{"format":1,"name":"bench","seed":1,"edges":[],"nodes":[{"id":"a","type":"diffusion.sample","params":{"labels":[',
      '1e999',
      ']}}]}',
    ),
  },
  {
    name: 'limit: 16 MiB of wrong list items',
    text: filledToTheLimit(
      '{"format":1,"name":"bench","seed":1,"edges":[],"nodes":[{"id":"a","type":"diffusion.sample","params":{"labels":[',
      '-5',
      ']}}]}',
    ),
  },
  {
    name: 'limit: 70,000 distill nodes, 3 inputs each (210,000 edges)',
    text: JSON.stringify(
      pipeline(
        [
          { id: 'd', type: 'dataset.mnist', params: {} },
          { id: 'm', type: 'model.mlp', params: {} },
          ...Array.from({ length: 70_000 }, (_, i) => ({ id: `k${i}`, type: 'distill', params: {} })),
        ],
        [
          { from: 'd.dataset', to: 'm.dataset' },
          ...Array.from({ length: 70_000 }, (_, i) => [
            { from: i === 0 ? 'm.model' : `k${i - 1}.model`, to: `k${i}.teacher` },
            { from: 'm.model', to: `k${i}.student` },
            { from: 'd.dataset', to: `k${i}.dataset` },
          ]).flat(),
        ],
      ),
    ),
  },
  {
    name: 'limit: 100,000 nodes with bad ids',
    text: JSON.stringify(
      pipeline(
        Array.from({ length: 100_000 }, (_, i) => ({ id: `${i}`, type: 'train', params: {} })),
        [],
      ),
    ),
  },
];

/** The best of the repeats: wall-clock milliseconds, and the process's CPU milliseconds then. */
function measure(run: () => void): { wall: number; cpu: number } {
  let fastest = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < REPEATS; i++) {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    run();
    const wall = performance.now() - start;
    const cpu = process.cpuUsage(cpuStart);
    if (wall < fastest.wall) fastest = { wall, cpu: (cpu.user + cpu.system) / 1000 };
  }
  return fastest;
}

const best = (run: () => void): number => measure(run).wall;

console.log(
  `Validation cost, best of ${REPEATS} (Node ${process.version}, ${process.arch}); target: a valid 100,000-node pipeline in ≤ 1,000 ms`,
);
console.log(
  'shape | bytes | JSON.parse ms (reference) | parseJson ms | validatePipeline ms (CPU ms) | (parseJson + validate) / JSON.parse | issues (codes)',
);
for (const shape of shapes) {
  const reference = best(() => {
    JSON.parse(shape.text);
  });
  let doc: unknown;
  let refused: string | undefined;
  const parse = best(() => {
    try {
      doc = parseJson(shape.text, 'bench.distillery.json');
    } catch (thrown) {
      refused = (thrown as { code?: string }).code ?? String(thrown);
    }
  });
  let issues: Array<{ code: string }> = [];
  const { wall: validate, cpu } = refused
    ? { wall: 0, cpu: 0 }
    : measure(() => (issues = validatePipeline(doc, catalog).issues));
  const codes = [...new Set(issues.map((issue) => issue.code))].slice(0, 4).join(', ');
  console.log(
    [
      shape.name,
      shape.text.length.toLocaleString('en-US'),
      reference.toFixed(1),
      parse.toFixed(1),
      `${validate.toFixed(1)} (${cpu.toFixed(0)})`,
      ((parse + validate) / reference).toFixed(2),
      refused ? `refused by parseJson: ${refused}` : `${issues.length} (${codes || 'valid'})`,
    ].join(' | '),
  );
}

const valid = validatePipeline(JSON.parse(shapes[0]!.text), catalog).pipeline;
if (valid) {
  const plan = best(() => planPipeline(valid));
  console.log(
    `planning the valid chain (fingerprints of ${valid.nodes.length.toLocaleString('en-US')} tasks): ${plan.toFixed(1)} ms`,
  );
}
