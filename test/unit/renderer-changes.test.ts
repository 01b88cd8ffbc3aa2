import { describe, expect, it } from 'vitest';
import type { NodeSpecInfo, PipelineDoc } from '../../preload/contract';
import {
  applyChange,
  applyChanges,
  type ChangeError,
  type PipelineChange,
} from '../../renderer/src/pipeline/changes';
import {
  addConnectedChange,
  checkConnection,
  connectChange,
  copySelection,
  newNodeId,
  pasteChange,
  portFor,
  specsAccepting,
} from '../../renderer/src/pipeline/graph';

function sample(): PipelineDoc {
  return {
    format: 1,
    name: 'mnist-mlp',
    seed: 42,
    description: 'LeNet-300-100',
    nodes: [
      { id: 'data', type: 'dataset.mnist', params: { trainLimit: 2000 }, ui: { x: 0, y: 120 } },
      { id: 'net', type: 'model.mlp', params: {}, ui: { x: 260, y: 0 } },
      { id: 'fit', type: 'train', params: { epochs: 3 }, ui: { x: 520, y: 120 } },
      { id: 'score', type: 'evaluate', params: {} },
    ],
    edges: [
      { from: 'data.dataset', to: 'net.dataset' },
      { from: 'data.dataset', to: 'fit.dataset' },
      { from: 'net.model', to: 'fit.model' },
      { from: 'fit.model', to: 'score.model' },
      { from: 'data.dataset', to: 'score.dataset' },
    ],
  };
}

const port = (type: 'dataset' | 'model') => ({ type });
const SPECS: NodeSpecInfo[] = [
  {
    type: 'dataset.mnist',
    version: 1,
    title: 'MNIST',
    category: 'data',
    help: '',
    inputs: {},
    outputs: { dataset: port('dataset') },
    params: {},
  },
  {
    type: 'model.mlp',
    version: 1,
    title: 'MLP',
    category: 'model',
    help: '',
    inputs: { dataset: port('dataset') },
    outputs: { model: port('model') },
    params: {},
  },
  {
    type: 'train',
    version: 1,
    title: 'Train',
    category: 'train',
    help: '',
    inputs: { model: port('model'), dataset: port('dataset') },
    outputs: { model: port('model') },
    params: {},
  },
  {
    type: 'evaluate',
    version: 1,
    title: 'Evaluate',
    category: 'evaluate',
    help: '',
    inputs: { model: port('model'), dataset: port('dataset') },
    outputs: {},
    params: {},
  },
];
const specs = (type: string) => SPECS.find((spec) => spec.type === type);

/** Applies a change, checks the inverse restores the original exactly, and redoing gives the same result. */
function roundTrip(doc: PipelineDoc, change: PipelineChange): PipelineDoc {
  const before = structuredClone(doc);
  const { doc: after, inverse } = applyChange(doc, change);
  expect(doc).toEqual(before); // never mutated
  const { doc: undone, inverse: redo } = applyChange(after, inverse);
  expect(undone).toEqual(before);
  expect(applyChange(undone, redo).doc).toEqual(after);
  return after;
}

describe('pipeline change union', () => {
  it('adds a node and undoes it', () => {
    const after = roundTrip(sample(), {
      type: 'addNode',
      node: { id: 'fit-2', type: 'train', params: {}, ui: { x: 1, y: 2 } },
    });
    expect(after.nodes.map((node) => node.id)).toEqual(['data', 'net', 'fit', 'score', 'fit-2']);
  });

  it('removes nodes with their edges and restores both at their old positions', () => {
    const after = roundTrip(sample(), { type: 'removeNodes', ids: ['net', 'data'] });
    expect(after.nodes.map((node) => node.id)).toEqual(['fit', 'score']);
    expect(after.edges).toEqual([{ from: 'fit.model', to: 'score.model' }]);
  });

  it('moves nodes, including ones that had no position', () => {
    const after = roundTrip(sample(), {
      type: 'moveNodes',
      moves: [
        { id: 'fit', position: { x: 10, y: 20 } },
        { id: 'score', position: { x: 900, y: 100 } },
      ],
    });
    expect(after.nodes[2]!.ui).toEqual({ x: 10, y: 20 });
    expect(after.nodes[3]!.ui).toEqual({ x: 900, y: 100 });
    expect(
      'ui' in
        applyChange(after, { type: 'moveNodes', moves: [{ id: 'score', position: null }] }).doc.nodes[3]!,
    ).toBe(false);
  });

  it('sets, overrides and clears params', () => {
    const set = roundTrip(sample(), {
      type: 'updateParam',
      nodeId: 'fit',
      param: 'learningRate',
      value: 0.01,
    });
    expect(set.nodes[2]!.params).toEqual({ epochs: 3, learningRate: 0.01 });
    const cleared = roundTrip(sample(), {
      type: 'updateParam',
      nodeId: 'fit',
      param: 'epochs',
      value: undefined,
    });
    expect(cleared.nodes[2]!.params).toEqual({});
  });

  it('connects and disconnects, keeping edge order on undo', () => {
    const disconnected = roundTrip(sample(), {
      type: 'disconnect',
      edges: [
        { from: 'data.dataset', to: 'fit.dataset' },
        { from: 'fit.model', to: 'score.model' },
      ],
    });
    expect(disconnected.edges).toHaveLength(3);
    const connected = roundTrip(disconnected, {
      type: 'connect',
      edge: { from: 'fit.model', to: 'score.model' },
    });
    expect(connected.edges.at(-1)).toEqual({ from: 'fit.model', to: 'score.model' });
  });

  it('renames a node and every edge endpoint naming it', () => {
    const after = roundTrip(sample(), { type: 'renameNode', from: 'data', to: 'digits' });
    expect(after.nodes[0]!.id).toBe('digits');
    expect(after.edges.filter((edge) => edge.from === 'digits.dataset')).toHaveLength(3);
  });

  it('pastes nodes with fresh ids and the links among them', () => {
    const doc = sample();
    const clip = copySelection(doc, ['net', 'fit']);
    expect(clip.edges).toEqual([{ from: 'net.model', to: 'fit.model' }]);
    const change = pasteChange(doc, clip, { x: 40, y: 40 });
    expect(change.nodes.map((node) => node.id)).toEqual(['net-2', 'fit-2']);
    expect(change.nodes[0]!.ui).toEqual({ x: 300, y: 40 });
    expect(change.edges).toEqual([{ from: 'net-2.model', to: 'fit-2.model' }]);
    roundTrip(doc, change);
  });

  it('edits meta and replaces the document', () => {
    roundTrip(sample(), { type: 'setMeta', name: 'renamed', seed: 7, description: null });
    roundTrip(sample(), {
      type: 'replaceDoc',
      doc: { format: 1, name: 'blank', seed: 1, nodes: [], edges: [] },
    });
  });

  it('undoes a batch as one step, in reverse order', () => {
    const after = roundTrip(sample(), {
      type: 'batch',
      changes: [
        { type: 'addNode', node: { id: 'x', type: 'evaluate', params: {} } },
        { type: 'connect', edge: { from: 'fit.model', to: 'x.model' } },
        { type: 'renameNode', from: 'x', to: 'y' },
        { type: 'updateParam', nodeId: 'y', param: 'split', value: 'train' },
      ],
    });
    expect(after.edges.at(-1)).toEqual({ from: 'fit.model', to: 'y.model' });
  });

  it('replays a long random edit sequence and undoes it all back to the start', () => {
    let doc = sample();
    const start = structuredClone(doc);
    const inverses: PipelineChange[] = [];
    let seed = 1;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 300; i++) {
      const ids = doc.nodes.map((node) => node.id);
      const pick = ids[Math.floor(random() * ids.length)];
      const options: PipelineChange[] = [
        {
          type: 'addNode',
          node: { id: newNodeId(doc, 'train'), type: 'train', params: {}, ui: { x: i, y: i } },
        },
      ];
      if (pick) {
        options.push(
          { type: 'updateParam', nodeId: pick, param: 'epochs', value: i },
          { type: 'moveNodes', moves: [{ id: pick, position: { x: i * 2, y: -i } }] },
          { type: 'removeNodes', ids: [pick] },
          { type: 'renameNode', from: pick, to: `n${i}` },
          pasteChange(doc, copySelection(doc, ids.slice(0, 2)), { x: 5, y: 5 }),
        );
      }
      const change = options[Math.floor(random() * options.length)]!;
      const applied = applyChange(doc, change);
      inverses.push(applied.inverse);
      doc = applied.doc;
    }
    expect(applyChanges(doc, inverses.reverse())).toEqual(start);
  });

  it('refuses changes that do not fit the document with a coded error', () => {
    const doc = sample();
    const codeOf = (change: PipelineChange) => {
      try {
        applyChange(doc, change);
      } catch (error) {
        return (error as ChangeError).code;
      }
      return 'applied';
    };
    expect(codeOf({ type: 'addNode', node: { id: 'fit', type: 'train', params: {} } })).toBe('NODE_ID_TAKEN');
    expect(codeOf({ type: 'addNode', node: { id: 'a.b', type: 'train', params: {} } })).toBe(
      'NODE_ID_INVALID',
    );
    expect(codeOf({ type: 'removeNodes', ids: ['nope'] })).toBe('NODE_NOT_FOUND');
    expect(codeOf({ type: 'disconnect', edges: [{ from: 'fit.model', to: 'net.dataset' }] })).toBe(
      'EDGE_NOT_FOUND',
    );
    expect(codeOf({ type: 'connect', edge: { from: 'net.model', to: 'fit.model' } })).toBe('EDGE_EXISTS');
    expect(codeOf({ type: 'renameNode', from: 'fit', to: 'net' })).toBe('NODE_ID_TAKEN');
  });
});

describe('connection checks', () => {
  it('refuses incompatible port types with a reason naming both ends', () => {
    const check = checkConnection(sample(), specs, {
      source: 'data',
      sourceHandle: 'dataset',
      target: 'fit',
      targetHandle: 'model',
    });
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toMatch(
      /Train \(fit\)\.model expects a classifier model \(model\).*MNIST \(data\)\.dataset gives a dataset/,
    );
  });

  it('refuses cycles and self links', () => {
    const doc = applyChange(sample(), {
      type: 'addNode',
      node: { id: 'fit-2', type: 'train', params: {} },
    }).doc;
    const linked = applyChange(doc, { type: 'connect', edge: { from: 'fit.model', to: 'fit-2.model' } }).doc;
    const cycle = checkConnection(linked, specs, {
      source: 'fit-2',
      sourceHandle: 'model',
      target: 'fit',
      targetHandle: 'model',
    });
    expect(!cycle.ok && cycle.reason).toMatch(/cycle/);
    const self = checkConnection(linked, specs, {
      source: 'fit',
      sourceHandle: 'model',
      target: 'fit',
      targetHandle: 'model',
    });
    expect(self.ok).toBe(false);
  });

  it('replaces the link into an input that is already fed', () => {
    const doc = applyChange(sample(), {
      type: 'addNode',
      node: { id: 'net-2', type: 'model.mlp', params: {} },
    }).doc;
    const check = checkConnection(doc, specs, {
      source: 'net-2',
      sourceHandle: 'model',
      target: 'fit',
      targetHandle: 'model',
    });
    expect(check.ok && check.replaces).toEqual([{ from: 'net.model', to: 'fit.model' }]);
    if (!check.ok) return;
    const after = roundTrip(doc, connectChange(check));
    expect(after.edges.filter((edge) => edge.to === 'fit.model')).toEqual([
      { from: 'net-2.model', to: 'fit.model' },
    ]);
  });

  it('makes readable unique ids', () => {
    expect(newNodeId(sample(), 'dataset.mnist')).toBe('mnist');
    expect(newNodeId(sample(), 'train')).toBe('train');
    const doc = applyChange(sample(), {
      type: 'addNode',
      node: { id: 'train', type: 'train', params: {} },
    }).doc;
    expect(newNodeId(doc, 'train')).toBe('train-2');
  });
});

describe('links dropped on empty canvas', () => {
  it('offers the node types that can take the link, on their first fitting port', () => {
    const fromDataset = { side: 'source', portType: 'dataset' } as const;
    expect(specsAccepting(SPECS, fromDataset).map((spec) => spec.type)).toEqual([
      'model.mlp',
      'train',
      'evaluate',
    ]);
    expect(portFor(specs('train')!, fromDataset)).toBe('dataset');
    // Out of an input that takes a model: node types with a model output.
    const intoModel = { side: 'target', portType: 'model' } as const;
    expect(specsAccepting(SPECS, intoModel).map((spec) => spec.type)).toEqual(['model.mlp', 'train']);
    expect(portFor(specs('evaluate')!, intoModel)).toBeUndefined();
  });

  it('adds the node and its link as one change that undoes whole', () => {
    const doc = sample();
    const node = { id: 'fit-2', type: 'train', params: {}, ui: { x: 800, y: 0 } };
    const change = addConnectedChange(doc, specs, node, {
      nodeId: 'net',
      port: 'model',
      side: 'source',
      portType: 'model',
    })!;
    const after = roundTrip(doc, change);
    expect(after.nodes.at(-1)).toEqual(node);
    expect(after.edges.at(-1)).toEqual({ from: 'net.model', to: 'fit-2.model' });
  });

  it('replaces the link into an input it feeds, and refuses a type with no fitting port', () => {
    const doc = sample();
    const into = { nodeId: 'score', port: 'model', side: 'target', portType: 'model' } as const;
    const node = { id: 'fit-2', type: 'train', params: {}, ui: { x: 0, y: 400 } };
    const after = roundTrip(doc, addConnectedChange(doc, specs, node, into)!);
    expect(after.edges.filter((edge) => edge.to === 'score.model')).toEqual([
      { from: 'fit-2.model', to: 'score.model' },
    ]);
    const mnist = { id: 'mnist', type: 'dataset.mnist', params: {} };
    expect(addConnectedChange(doc, specs, mnist, into)).toBeNull();
    expect(addConnectedChange(doc, specs, { ...mnist, type: 'unknown' }, into)).toBeNull();
  });
});
