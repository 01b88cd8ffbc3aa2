import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  EventMap,
  EventName,
  MetricPointInfo,
  ModelVersionInfo,
  NodeSpecInfo,
  PipelineDoc,
  RequestName,
  RunInfo,
  TaskInfo,
} from '../../preload/contract';
import { setClient } from '../../renderer/src/api';
import {
  ClientError,
  Listeners,
  type ConnectionState,
  type DistilleryClient,
  type RequestParams,
  type RequestResult,
} from '../../renderer/src/api/client';
import { useCatalogStore } from '../../renderer/src/stores/catalog';
import { usePipelineStore, VALIDATION_DELAY_MS, WORKING_COPY_KEY } from '../../renderer/src/stores/pipeline';
import { filterAndSort, useRegistryStore } from '../../renderer/src/stores/registry';
import { runProgress, setFrameScheduler, useRunsStore } from '../../renderer/src/stores/runs';
import { SETTINGS_KEY, useSettingsStore } from '../../renderer/src/stores/settings';

type Handler = (params: never) => unknown;

/** A client answering from handlers, recording calls, and firing events on demand. */
class FakeClient implements DistilleryClient {
  readonly transport = 'http' as const;
  readonly connection: ConnectionState = 'open';
  readonly calls: Array<{ method: RequestName; params: unknown }> = [];
  private readonly events = new Map<string, Listeners<unknown>>();

  constructor(private readonly handlers: Partial<Record<RequestName, Handler>>) {}

  async request<K extends RequestName>(method: K, params: RequestParams<K>): Promise<RequestResult<K>> {
    this.calls.push({ method, params: structuredClone(params) });
    const handler = this.handlers[method];
    if (!handler) throw new ClientError('UNKNOWN_METHOD', `no fake for ${method}`);
    return (await handler(params as never)) as RequestResult<K>;
  }

  on<K extends EventName>(event: K, listener: (payload: EventMap[K]) => void): () => void {
    const set = this.events.get(event) ?? new Listeners<unknown>();
    this.events.set(event, set);
    return set.add(listener as (payload: unknown) => void);
  }

  emit<K extends EventName>(event: K, payload: EventMap[K]): void {
    this.events.get(event)?.fire(payload);
  }

  listenerCount(): number {
    return [...this.events.values()].reduce((sum, set) => sum + set.size, 0);
  }

  onConnectionChange(): () => void {
    return () => {};
  }

  fileUrl(path: string): string {
    return `/files?path=${path}`;
  }

  dispose(): void {}
}

class MemoryStorage {
  private readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}

const port = (type: 'dataset' | 'model') => ({ type });
const SPECS: NodeSpecInfo[] = [
  {
    type: 'dataset.mnist',
    version: 1,
    title: 'MNIST',
    category: 'data',
    help: 'digits',
    inputs: {},
    outputs: { dataset: port('dataset') },
    params: { trainLimit: { kind: 'integer', default: 0, min: 0, max: 60000 } },
  },
  {
    type: 'train',
    version: 1,
    title: 'Train',
    category: 'train',
    help: 'fit',
    inputs: { model: port('model'), dataset: port('dataset') },
    outputs: { model: port('model') },
    params: { epochs: { kind: 'integer', default: 3, min: 1, max: 10000 } },
  },
];

/** Validation as main would answer: one issue per out-of-range epochs and per unfed train input. */
function fakeValidate({ doc }: { doc: unknown }) {
  const pipeline = doc as PipelineDoc;
  const issues = [];
  for (const node of pipeline.nodes) {
    if (node.type !== 'train') continue;
    if (typeof node.params.epochs === 'number' && node.params.epochs > 10000)
      issues.push({
        code: 'PARAM_OUT_OF_RANGE',
        nodeId: node.id,
        param: 'epochs',
        message: 'epochs too big',
      });
    for (const input of ['model', 'dataset'])
      if (!pipeline.edges.some((edge) => edge.to === `${node.id}.${input}`))
        issues.push({ code: 'MISSING_INPUT', nodeId: node.id, port: input, message: `${input} missing` });
  }
  return issues;
}

let client: FakeClient;
let storage: MemoryStorage;

beforeEach(() => {
  vi.useFakeTimers();
  storage = new MemoryStorage();
  vi.stubGlobal('localStorage', storage);
  client = new FakeClient({ 'catalog.list': () => SPECS, 'pipelines.validate': fakeValidate });
  setClient(client);
  setActivePinia(createPinia());
});

afterEach(() => {
  setFrameScheduler(null);
  setClient(undefined);
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

async function pipelineStore() {
  await useCatalogStore().load();
  return usePipelineStore();
}

describe('pipeline store', () => {
  it('applies edits, undoes and redoes them, and tracks the dirty marker', async () => {
    const store = await pipelineStore();
    expect(store.dirty).toBe(false);
    const id = store.addNode('dataset.mnist', { x: 10.4, y: 20.6 });
    expect(id).toBe('mnist');
    expect(store.doc.nodes[0]).toEqual({
      id: 'mnist',
      type: 'dataset.mnist',
      params: {},
      ui: { x: 10, y: 21 },
    });
    expect(store.selection).toEqual(['mnist']);
    store.setParam('mnist', 'trainLimit', 1000);
    expect(store.dirty).toBe(true);
    expect(store.undoLabel).toBe('Set mnist.trainLimit');

    store.undo();
    expect(store.doc.nodes[0]!.params).toEqual({});
    store.undo();
    expect(store.doc.nodes).toEqual([]);
    expect(store.dirty).toBe(false);
    expect(store.canUndo).toBe(false);

    store.redo();
    store.redo();
    expect(store.doc.nodes[0]!.params).toEqual({ trainLimit: 1000 });
    expect(store.canRedo).toBe(false);
    store.undo();
    // A new edit after undo drops the redo stack.
    store.moveNodes([{ id: 'mnist', position: { x: 50, y: 60 } }]);
    expect(store.canRedo).toBe(false);
  });

  it('merges quick edits of one param into one undo step', async () => {
    const store = await pipelineStore();
    store.addNode('train', { x: 0, y: 0 });
    store.setParam('train', 'epochs', 1);
    store.setParam('train', 'epochs', 12);
    store.setParam('train', 'epochs', 123);
    store.undo();
    expect(store.doc.nodes[0]!.params).toEqual({});
    vi.advanceTimersByTime(5000);
    store.redo();
    store.setParam('train', 'epochs', 5);
    vi.advanceTimersByTime(5000);
    store.setParam('train', 'epochs', 6);
    store.undo();
    expect(store.doc.nodes[0]!.params).toEqual({ epochs: 5 });
  });

  it('validates the latest document once edits pause and blocks Run while issues remain', async () => {
    const store = await pipelineStore();
    store.addNode('dataset.mnist', { x: 0, y: 0 });
    store.addNode('train', { x: 200, y: 0 });
    store.setParam('train', 'epochs', 20000);
    expect(client.calls.filter((call) => call.method === 'pipelines.validate')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(VALIDATION_DELAY_MS);
    await store.settled();
    const validations = client.calls.filter((call) => call.method === 'pipelines.validate');
    expect(validations).toHaveLength(1);
    expect((validations[0]!.params as { doc: PipelineDoc }).doc.nodes).toHaveLength(2);
    expect(store.issues.map((issue) => issue.code).sort()).toEqual([
      'MISSING_INPUT',
      'MISSING_INPUT',
      'PARAM_OUT_OF_RANGE',
    ]);
    expect(store.issuesFor('train', 'epochs')).toHaveLength(1);
    expect(store.canRun).toBe(false);

    // An incompatible link is refused with a reason; the right one is made.
    const refused = store.connect({
      source: 'mnist',
      sourceHandle: 'dataset',
      target: 'train',
      targetHandle: 'model',
    });
    expect(refused.ok).toBe(false);
    const made = store.connect({
      source: 'mnist',
      sourceHandle: 'dataset',
      target: 'train',
      targetHandle: 'dataset',
    });
    expect(made.ok).toBe(true);
    expect(store.doc.edges).toEqual([{ from: 'mnist.dataset', to: 'train.dataset' }]);
    await vi.advanceTimersByTimeAsync(VALIDATION_DELAY_MS);
    await store.settled();
    expect(store.issues.map((issue) => issue.code).sort()).toEqual(['MISSING_INPUT', 'PARAM_OUT_OF_RANGE']);

    // Clicking an issue selects its node and asks the inspector to focus the param.
    store.reveal(store.issues.find((issue) => issue.param === 'epochs')!);
    expect(store.selection).toEqual(['train']);
    expect(store.focus).toMatchObject({ nodeId: 'train', param: 'epochs' });
  });

  it('copies and pastes a selection with its links, then deletes it as one undo step', async () => {
    const store = await pipelineStore();
    store.addNode('dataset.mnist', { x: 0, y: 0 });
    store.addNode('train', { x: 200, y: 0 });
    store.connect({ source: 'mnist', sourceHandle: 'dataset', target: 'train', targetHandle: 'dataset' });
    store.select(['mnist', 'train']);
    store.copy();
    const pasted = store.paste();
    expect(pasted).toEqual(['mnist-2', 'train-2']);
    expect(store.doc.edges).toContainEqual({ from: 'mnist-2.dataset', to: 'train-2.dataset' });
    expect(store.doc.nodes.find((node) => node.id === 'train-2')!.ui).toEqual({ x: 240, y: 40 });
    store.removeNodes(store.selection);
    expect(store.doc.nodes.map((node) => node.id)).toEqual(['mnist', 'train']);
    store.undo();
    expect(store.doc.nodes).toHaveLength(4);
    expect(store.doc.edges).toHaveLength(2);
  });

  it('deletes the selected links and nodes as one undo step', async () => {
    const store = await pipelineStore();
    store.addNode('dataset.mnist', { x: 0, y: 0 });
    store.addNode('train', { x: 200, y: 0 });
    store.addNode('train', { x: 200, y: 200 });
    store.connect({ source: 'mnist', sourceHandle: 'dataset', target: 'train', targetHandle: 'dataset' });
    store.connect({ source: 'mnist', sourceHandle: 'dataset', target: 'train-2', targetHandle: 'dataset' });
    const before = structuredClone(store.doc);
    store.selectEdges([{ from: 'mnist.dataset', to: 'train.dataset' }]);
    store.select(['train-2']);
    expect(store.deleteSelection()).toBe(true);
    expect(store.doc.nodes.map((node) => node.id)).toEqual(['mnist', 'train']);
    expect(store.doc.edges).toEqual([]);
    expect(store.selection).toEqual([]);
    store.undo();
    expect(store.doc).toEqual(before);
    expect(store.deleteSelection()).toBe(false);
  });

  it('autosaves the working copy and restores it', async () => {
    const store = await pipelineStore();
    store.addNode('train', { x: 0, y: 0 });
    await vi.advanceTimersByTimeAsync(1000);
    const saved = JSON.parse(storage.getItem(WORKING_COPY_KEY)!) as { doc: PipelineDoc };
    expect(saved.doc.nodes.map((node) => node.id)).toEqual(['train']);

    setActivePinia(createPinia());
    const fresh = await pipelineStore();
    expect(fresh.doc.nodes).toEqual([]);
    expect(fresh.restoreWorkingCopy()).toBe(true);
    expect(fresh.doc.nodes.map((node) => node.id)).toEqual(['train']);
    expect(fresh.dirty).toBe(true);
  });

  it('saves through main and clears the dirty marker', async () => {
    client = new FakeClient({
      'catalog.list': () => SPECS,
      'pipelines.validate': fakeValidate,
      'pipelines.save': ({ path }: { path: string }) => ({ path: `${path}.distillery.json` }),
    });
    setClient(client);
    setActivePinia(createPinia());
    const store = await pipelineStore();
    store.addNode('train', { x: 0, y: 0 });
    expect(store.dirty).toBe(true);
    expect(await store.saveAs('/tmp/p')).toBe('/tmp/p.distillery.json');
    expect(store.filePath).toBe('/tmp/p.distillery.json');
    expect(store.dirty).toBe(false);
  });

  it('opens a file only once the confirmation agrees, and keeps the edits when it does not', async () => {
    const onDisk: PipelineDoc = {
      format: 1,
      name: 'on-disk',
      seed: 1,
      nodes: [{ id: 'data', type: 'dataset.mnist', params: {} }],
      edges: [],
    };
    client = new FakeClient({
      'catalog.list': () => SPECS,
      'pipelines.validate': fakeValidate,
      'pipelines.load': () => ({ doc: onDisk, issues: [] }),
    });
    setClient(client);
    setActivePinia(createPinia());
    const store = await pipelineStore();
    store.addNode('train', { x: 0, y: 0 });
    const asked: string[] = [];
    expect(await store.openFile('/p.distillery.json', () => (asked.push('declined'), false))).toBeNull();
    expect(store.doc.nodes.map((node) => node.id)).toEqual(['train']);
    expect(store.dirty).toBe(true);
    expect(store.canUndo).toBe(true);
    expect(await store.openFile('/p.distillery.json', () => (asked.push('agreed'), true))).toEqual([]);
    expect(asked).toEqual(['declined', 'agreed']);
    expect(store.doc.name).toBe('on-disk');
    expect(store.filePath).toBe('/p.distillery.json');
    expect(store.dirty).toBe(false);
  });

  it('adds a node linked to a dragged link in one undo step, on the first port that fits', async () => {
    const store = await pipelineStore();
    store.addNode('dataset.mnist', { x: 0, y: 0 });
    const fromOutput = { nodeId: 'mnist', port: 'dataset', side: 'source', portType: 'dataset' } as const;
    expect(store.addConnectedNode('train', { x: 300, y: 0 }, fromOutput)).toBe('train');
    expect(store.doc.edges).toEqual([{ from: 'mnist.dataset', to: 'train.dataset' }]);
    expect(store.selection).toEqual(['train']);
    // Dragged out of train's model input: a new train feeds it through its model output.
    const fromInput = { nodeId: 'train', port: 'model', side: 'target', portType: 'model' } as const;
    expect(store.addConnectedNode('train', { x: 0, y: 300 }, fromInput)).toBe('train-2');
    expect(store.doc.edges).toContainEqual({ from: 'train-2.model', to: 'train.model' });
    // MNIST has no input that takes a model: nothing is added.
    expect(store.addConnectedNode('dataset.mnist', { x: 0, y: 600 }, fromOutput)).toBeNull();
    expect(store.doc.nodes).toHaveLength(3);
    store.undo();
    expect(store.doc.nodes.map((node) => node.id)).toEqual(['mnist', 'train']);
    expect(store.doc.edges).toEqual([{ from: 'mnist.dataset', to: 'train.dataset' }]);
  });

  it('duplicates nodes with the links among them, at the offset given, leaving the clipboard alone', async () => {
    const store = await pipelineStore();
    store.addNode('dataset.mnist', { x: 0, y: 0 });
    store.addNode('train', { x: 200, y: 0 });
    store.connect({ source: 'mnist', sourceHandle: 'dataset', target: 'train', targetHandle: 'dataset' });
    store.setParam('train', 'epochs', 7);
    expect(store.duplicate(['mnist', 'train'], { x: 0, y: 300 })).toEqual(['mnist-2', 'train-2']);
    expect(store.clipboard).toBeNull();
    const copy = store.doc.nodes.find((node) => node.id === 'train-2')!;
    expect(copy.ui).toEqual({ x: 200, y: 300 });
    expect(copy.params).toEqual({ epochs: 7 });
    expect(store.doc.edges).toContainEqual({ from: 'mnist-2.dataset', to: 'train-2.dataset' });
    expect(store.undoLabel).toBe('Duplicate 2 nodes');
  });
});

function task(overrides: Partial<TaskInfo> = {}): TaskInfo {
  return {
    id: 't1',
    runId: 'r1',
    nodeId: 'fit',
    nodeType: 'train',
    op: 'train',
    fingerprint: 'f',
    status: 'queued',
    reusedFrom: null,
    reusedFromRun: null,
    attempt: 1,
    progress: null,
    backend: null,
    startedAt: null,
    finishedAt: null,
    summary: null,
    error: null,
    checkpoint: null,
    models: {},
    taskDir: '/tmp/t1',
    executor: null,
    jobId: null,
    nodeName: null,
    warm: null,
    executorState: null,
    ...overrides,
  };
}

function run(overrides: Partial<RunInfo> = {}): RunInfo {
  return {
    id: 'r1',
    name: 'mnist-mlp',
    status: 'running',
    seed: 42,
    createdAt: '2025-01-01T00:00:00.000Z',
    startedAt: '2025-01-01T00:00:01.000Z',
    finishedAt: null,
    backend: null,
    versions: {},
    pipelineFile: null,
    pipeline: { format: 1, name: 'mnist-mlp', seed: 42, nodes: [], edges: [] },
    error: null,
    label: null,
    tags: [],
    note: '',
    tasks: [task(), task({ id: 't2', nodeId: 'score', status: 'queued' })],
    ...overrides,
  };
}

const point = (step: number, name = 'loss', value = 1 / (step + 1)): MetricPointInfo => ({
  step,
  name,
  value,
  time: 1000 + step,
});

describe('runs store', () => {
  it('keeps run and task records current from events', () => {
    const store = useRunsStore();
    const detach = store.attach();
    client.emit('run.status', run());
    client.emit('task.status', task({ status: 'running', progress: { done: 5, total: 10, etaSeconds: 3 } }));
    expect(store.byId.get('r1')!.tasks[0]!.status).toBe('running');
    expect(runProgress(store.byId.get('r1')!)).toBeCloseTo(0.25);
    client.emit('run.status', run({ id: 'r2', createdAt: '2025-01-02T00:00:00.000Z' }));
    expect(store.runs.map((r) => r.id)).toEqual(['r2', 'r1']);
    detach();
    expect(client.listenerCount()).toBe(0);
  });

  it('buffers metric points and flushes them once per frame', () => {
    const frames: Array<() => void> = [];
    setFrameScheduler((callback) => frames.push(callback));
    const store = useRunsStore();
    store.attach();
    client.emit('run.status', run());
    client.emit('task.metrics', { runId: 'r1', taskId: 't1', points: [point(0), point(1)] });
    client.emit('task.metrics', { runId: 'r1', taskId: 't1', points: [point(2), point(2, 'lr', 0.001)] });
    expect(frames).toHaveLength(1);
    expect(store.metricsVersion).toBe(0);
    frames.shift()!();
    expect(store.metricsVersion).toBe(1);
    expect(store.seriesOf('t1', 'loss')!.length).toBe(3);
    expect(store.metricNames('t1')).toEqual(['loss', 'lr']);
  });

  it('keeps the order of metric names as new ones arrive', () => {
    setFrameScheduler((callback) => callback());
    const store = useRunsStore();
    store.attach();
    client.emit('task.metrics', {
      runId: 'r1',
      taskId: 't1',
      points: [point(1, 'samples_per_second', 900), point(1, 'lr', 0.001), point(1)],
    });
    expect(store.metricNames('t1')).toEqual(['loss', 'lr', 'samples_per_second']);
    // The end of the first epoch brings names that would sort before lr: they go last instead.
    client.emit('task.metrics', {
      runId: 'r1',
      taskId: 't1',
      points: [point(2, 'val_loss', 0.5), point(2, 'epoch_loss', 0.6), point(2, 'accuracy', 0.8)],
    });
    expect(store.metricNames('t1')).toEqual([
      'loss',
      'lr',
      'samples_per_second',
      'epoch_loss',
      'accuracy',
      'val_loss',
    ]);
  });

  it('backfills history and keeps newer live points', async () => {
    setFrameScheduler((callback) => callback());
    const history = [point(0), point(1), point(2), point(0, 'accuracy', 0.5)];
    client = new FakeClient({ 'runs.metrics': () => history, 'runs.logs': () => [] });
    setClient(client);
    setActivePinia(createPinia());
    const store = useRunsStore();
    store.attach();
    client.emit('task.metrics', { runId: 'r1', taskId: 't1', points: [point(2), point(3)] });
    await store.loadTask('t1');
    expect(Array.from(store.seriesOf('t1', 'loss')!.toColumns().step)).toEqual([0, 1, 2, 3]);
    expect(store.seriesOf('t1', 'accuracy')!.length).toBe(1);
  });

  it('starts, cancels and resumes through the client', async () => {
    client = new FakeClient({
      'runs.start': () => run({ status: 'queued' }),
      'runs.cancel': () => run({ status: 'cancelled' }),
      'runs.resume': () => run({ status: 'running' }),
    });
    setClient(client);
    setActivePinia(createPinia());
    const store = useRunsStore();
    const doc: PipelineDoc = { format: 1, name: 'x', seed: 1, nodes: [], edges: [] };
    await store.start(doc);
    expect(store.byId.get('r1')!.status).toBe('queued');
    await store.cancel('r1');
    expect(store.byId.get('r1')!.status).toBe('cancelled');
    await store.resume('r1');
    expect(client.calls.map((call) => call.method)).toEqual(['runs.start', 'runs.cancel', 'runs.resume']);
  });
});

function model(overrides: Partial<ModelVersionInfo>): ModelVersionInfo {
  return {
    id: 'm1',
    name: 'fit',
    version: 1,
    kind: 'classifier',
    framework: 'tfjs',
    aliases: [],
    createdAt: '2025-01-01T00:00:00.000Z',
    runId: 'r1',
    taskId: 't1',
    nodeType: 'train',
    backend: 'wasm',
    paramCount: 1000,
    nonZeroParams: 1000,
    sizeBytes: 4000,
    params: {},
    metrics: {},
    metricRecords: [],
    meta: {},
    ...overrides,
  };
}

describe('registry store', () => {
  const models = [
    model({
      id: 'a',
      name: 'fit',
      version: 1,
      metrics: { accuracy: 0.9 },
      createdAt: '2025-01-01T00:00:00Z',
    }),
    model({
      id: 'b',
      name: 'fit',
      version: 2,
      metrics: { accuracy: 0.95 },
      aliases: ['best'],
      createdAt: '2025-01-02T00:00:00Z',
    }),
    model({ id: 'c', name: 'lenet', version: 1, backend: 'cpu', createdAt: '2025-01-03T00:00:00Z' }),
  ];

  it('filters by name, alias and backend, and sorts by any column', () => {
    expect(filterAndSort(models, 'best', 'createdAt', 'desc').map((m) => m.id)).toEqual(['b']);
    expect(filterAndSort(models, 'fit:v1', 'createdAt', 'desc').map((m) => m.id)).toEqual(['a']);
    expect(filterAndSort(models, 'cpu', 'createdAt', 'desc').map((m) => m.id)).toEqual(['c']);
    expect(filterAndSort(models, '', 'accuracy', 'desc').map((m) => m.id)).toEqual(['b', 'a', 'c']);
    expect(filterAndSort(models, '', 'name', 'asc').map((m) => m.id)).toEqual(['b', 'a', 'c']);
  });

  it('moves an alias, deletes, and surfaces a refused delete as a coded error', async () => {
    client = new FakeClient({
      'models.list': () => models,
      'models.tag': ({ ref, alias }: { ref: string; alias: string }) => ({
        ...models.find((m) => m.id === ref)!,
        aliases: [alias],
      }),
      'models.delete': ({ ref, force }: { ref: string; force?: boolean }) => {
        if (ref === 'a' && !force)
          throw new ClientError('MODEL_HAS_DESCENDANTS', 'fit:v1 has descendants', { children: ['b'] });
        return { deleted: [ref] };
      },
    });
    setClient(client);
    setActivePinia(createPinia());
    const store = useRegistryStore();
    await store.refresh();
    await store.tag('a', 'best');
    expect(store.models.find((m) => m.id === 'a')!.aliases).toEqual(['best']);
    expect(store.models.find((m) => m.id === 'b')!.aliases).toEqual([]);
    await expect(store.remove('a')).rejects.toMatchObject({
      code: 'MODEL_HAS_DESCENDANTS',
      details: { children: ['b'] },
    });
    expect(await store.remove('a', true)).toEqual(['a']);
    expect(store.models.map((m) => m.id)).toEqual(['b', 'c']);
    store.sortBy('accuracy');
    expect(store.rows.map((m) => m.id)).toEqual(['b', 'c']);
  });
});

describe('settings store', () => {
  it('persists chart defaults and the theme preference', async () => {
    const settings = useSettingsStore();
    expect(settings.smoothing).toBe(0.6);
    expect(settings.effectiveTheme).toBe('light');
    settings.smoothing = 0.9;
    settings.cycleTheme();
    await vi.runAllTimersAsync();
    await Promise.resolve();
    expect(JSON.parse(storage.getItem(SETTINGS_KEY)!)).toMatchObject({ smoothing: 0.9, theme: 'light' });
    setActivePinia(createPinia());
    expect(useSettingsStore().smoothing).toBe(0.9);
  });
});
