/**
 * The README's `mnist-mlp` pipeline as a fixture: data → net → fit → score, linked by the README's
 * five edges. Each call returns a fresh document, so a test may change it in place.
 */
import type { PipelineDoc, PipelineEdge, PipelineNode } from '../../preload/contract';

type Params = Record<string, unknown>;
type NodeUi = { x: number; y: number };

/** The node ids of the pipeline, in document order. */
export type MnistMlpNodeId = 'data' | 'net' | 'fit' | 'score';

export interface MnistMlpOptions {
  name?: string;
  seed?: number;
  description?: string;
  /** The dataset node's params, in place of the README's (not merged with them). */
  data?: Params;
  /** The model node's params, in place of the README's. */
  net?: Params;
  /** The model node's type: `model.cnn` keeps the pipeline's shape with another architecture. */
  netType?: string;
  /** The train node's params, in place of the README's. */
  fit?: Params;
  /** The evaluate node's params, in place of the README's; `false` leaves the node and its links out. */
  score?: Params | false;
  /** Canvas positions, for the nodes that have one. */
  ui?: Partial<Record<MnistMlpNodeId, NodeUi>>;
  sweep?: PipelineDoc['sweep'];
  executor?: PipelineDoc['executor'];
}

/** The README's params for each node. */
const README_PARAMS = {
  data: { trainLimit: 2000, testLimit: 1000 },
  net: { hidden: [300, 100] },
  fit: { epochs: 3, batchSize: 64, optimizer: 'adam', learningRate: 0.001 },
  score: {},
} as const;

/** A fresh copy, so that no two documents share a params object (tests edit them in place). */
function copy(params: Params): Params {
  return structuredClone(params);
}

/**
 * The README's `mnist-mlp` pipeline (name `mnist-mlp`, seed 42), with any of its name, seed,
 * params or positions replaced, and an optional `sweep` or `executor` block.
 */
export function mnistMlpPipeline(options: MnistMlpOptions = {}): PipelineDoc {
  const node = (id: MnistMlpNodeId, type: string, params: Params): PipelineNode => {
    const ui = options.ui?.[id];
    return { id, type, params: copy(params), ...(ui ? { ui: { ...ui } } : {}) };
  };
  const nodes: PipelineNode[] = [
    node('data', 'dataset.mnist', options.data ?? README_PARAMS.data),
    node('net', options.netType ?? 'model.mlp', options.net ?? README_PARAMS.net),
    node('fit', 'train', options.fit ?? README_PARAMS.fit),
  ];
  const edges: PipelineEdge[] = [
    { from: 'data.dataset', to: 'net.dataset' },
    { from: 'data.dataset', to: 'fit.dataset' },
    { from: 'net.model', to: 'fit.model' },
  ];
  if (options.score !== false) {
    nodes.push(node('score', 'evaluate', options.score ?? README_PARAMS.score));
    edges.push({ from: 'fit.model', to: 'score.model' }, { from: 'data.dataset', to: 'score.dataset' });
  }
  return {
    format: 1,
    name: options.name ?? 'mnist-mlp',
    seed: options.seed ?? 42,
    ...(options.description !== undefined ? { description: options.description } : {}),
    nodes,
    edges,
    ...(options.sweep !== undefined ? { sweep: options.sweep } : {}),
    ...(options.executor !== undefined ? { executor: options.executor } : {}),
  };
}

/**
 * A one-node pipeline whose IDX dataset points at files that do not exist: its worker starts, fails
 * with DATASET_NOT_FOUND on `trainImages` and exits, without training anything.
 */
export function missingFilesPipeline(): PipelineDoc {
  return {
    format: 1,
    name: 'missing-files',
    seed: 1,
    nodes: [
      {
        id: 'data',
        type: 'dataset.idx',
        params: {
          trainImages: '/nonexistent/train-images.gz',
          trainLabels: '/nonexistent/train-labels.gz',
        },
      },
    ],
    edges: [],
  };
}
