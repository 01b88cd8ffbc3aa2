/**
 * The stores behind the runs table and the registry pages, through a fake client: the table
 * loads summaries, follows run events (a run another process started gets a row at once and its
 * figures in one batched `runs.summaries` call), renames, deletes and re-runs from a node; the
 * registry's count follows `registry.changed` at once and its lists in one refetch.
 */
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  EventMap,
  EventName,
  ModelVersionInfo,
  RegisteredModelInfo,
  RequestName,
  RequestParams,
  RequestResult,
  RunInfo,
  RunSummaries,
} from '../../preload/contract';
import { setClient } from '../../renderer/src/api';
import {
  ClientError,
  Listeners,
  type ConnectionState,
  type DistilleryClient,
} from '../../renderer/src/api/client';
import { paramOf } from '../../renderer/src/runs/table';
import { useRegistryStore } from '../../renderer/src/stores/registry';
import { setFrameScheduler, useRunsStore } from '../../renderer/src/stores/runs';

type Handler = (params: never) => unknown;

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

  onConnectionChange(): () => void {
    return () => {};
  }

  fileUrl(path: string): string {
    return path;
  }

  dispose(): void {}
}

const summaries: RunSummaries = {
  total: 2,
  sharedParams: { 'fit.optimizer': 'adam' },
  runs: [
    {
      id: 'r2',
      name: 'mnist',
      label: null,
      tags: [],
      note: '',
      status: 'done',
      seed: 1,
      createdAt: '2025-01-02T00:00:00.000Z',
      startedAt: null,
      finishedAt: null,
      backend: 'wasm',
      pipelineFile: null,
      tasks: { total: 1, done: 1, reused: 0, failed: 0, running: 0 },
      nodes: { fit: 'train' },
      params: { 'fit.epochs': 3 },
      metrics: { 'fit.val_loss': 0.2 },
    },
  ],
};

function run(overrides: Partial<RunInfo> = {}): RunInfo {
  return {
    id: 'r9',
    name: 'mnist',
    status: 'running',
    seed: 1,
    createdAt: '2025-01-09T00:00:00.000Z',
    startedAt: '2025-01-09T00:00:00.000Z',
    finishedAt: null,
    backend: null,
    versions: {},
    pipelineFile: '/p/mnist.distillery.json',
    pipeline: {
      format: 1,
      name: 'mnist',
      seed: 1,
      nodes: [{ id: 'fit', type: 'train', params: {} }],
      edges: [],
    },
    error: null,
    tasks: [],
    label: null,
    tags: [],
    note: '',
    ...overrides,
  };
}

describe('runs table store', () => {
  let client: FakeClient;

  beforeEach(() => {
    vi.useFakeTimers();
    setFrameScheduler((callback) => callback());
  });

  afterEach(() => {
    vi.useRealTimers();
    setFrameScheduler(null);
    setClient(undefined);
  });

  it('loads summaries, adds a run it learns of by event, and fetches its figures once', async () => {
    client = new FakeClient({
      'runs.summaries': (params: { runIds?: string[] }) =>
        params.runIds
          ? {
              total: 1,
              sharedParams: { 'fit.optimizer': 'sgd', 'fit.epochs': 1 },
              runs: [{ ...summaries.runs[0]!, id: 'r9', params: {}, metrics: { 'fit.val_loss': 0.5 } }],
            }
          : summaries,
    });
    setClient(client);
    setActivePinia(createPinia());
    const store = useRunsStore();
    store.attach();
    await store.loadTable();
    expect(store.table.map((row) => row.id)).toEqual(['r2']);
    expect(paramOf(store.table[0]!, 'fit.optimizer')).toBe('adam');

    client.emit('run.status', run());
    expect(store.table.map((row) => row.id)).toEqual(['r9', 'r2']);
    client.emit('run.status', run({ status: 'done' }));
    await vi.advanceTimersByTimeAsync(300);
    const fetches = client.calls.filter((call) => call.method === 'runs.summaries');
    expect(fetches).toHaveLength(2);
    expect(fetches[1]!.params).toEqual({ runIds: ['r9'] });
    const added = store.table.find((row) => row.id === 'r9')!;
    expect(added.metrics).toEqual({ 'fit.val_loss': 0.5 });
    // Split against the table's shared params, so its differing ones show.
    expect(paramOf(added, 'fit.optimizer')).toBe('sgd');
    expect(store.tableTotal).toBe(3);
  });

  it('renames, deletes and re-runs from a node through the contract', async () => {
    client = new FakeClient({
      'runs.summaries': () => summaries,
      'runs.update': (params: { runId: string; label?: string | null }) =>
        run({ id: params.runId, label: params.label ?? null, status: 'done' }),
      'runs.delete': (params: { runId: string }) => ({
        deleted: params.runId,
        deletedModels: [],
        keptModels: [],
      }),
      'runs.start': () => run({ id: 'r10', status: 'queued' }),
    });
    setClient(client);
    setActivePinia(createPinia());
    const store = useRunsStore();
    await store.loadTable();
    await store.updateRun('r2', { label: 'best' });
    expect(store.byId.get('r2')!.label).toBe('best');
    expect(store.table.find((row) => row.id === 'r2')!.label).toBe('best');
    await store.deleteRun('r2', true);
    expect(client.calls.at(-1)).toEqual({
      method: 'runs.delete',
      params: { runId: 'r2', deleteModels: true },
    });
    expect(store.table).toHaveLength(0);
    const started = await store.rerun(run({ status: 'done' }), 'fit');
    expect(started.id).toBe('r10');
    expect(client.calls.at(-1)!.params).toEqual({
      doc: run().pipeline,
      forceNodes: ['fit'],
      pipelineFile: '/p/mnist.distillery.json',
    });
  });
});

describe('registry store', () => {
  afterEach(() => {
    vi.useRealTimers();
    setClient(undefined);
  });

  it('follows registry.changed: the count at once, the lists in one refetch', async () => {
    vi.useFakeTimers();
    const registered: RegisteredModelInfo[] = [
      {
        name: 'm/fit',
        kind: 'classifier',
        description: '',
        versionCount: 1,
        latestVersion: 1,
        latestId: 'mv_1',
        aliases: {},
        createdAt: '2025',
        updatedAt: '2025',
        nodeType: 'train',
      },
    ];
    const client = new FakeClient({
      'models.list': () => [] as ModelVersionInfo[],
      'models.registered': () => registered,
      'models.describe': (params: { name: string; description: string }) => ({
        ...registered[0]!,
        description: params.description,
      }),
    });
    setClient(client);
    setActivePinia(createPinia());
    const store = useRegistryStore();
    store.changed({ versions: 7, models: 3 });
    store.changed({ versions: 8, models: 3 });
    expect(store.versionCount).toBe(8);
    await vi.advanceTimersByTimeAsync(250);
    expect(client.calls.map((call) => call.method).sort()).toEqual(['models.list', 'models.registered']);
    expect(store.registered.map((model) => model.name)).toEqual(['m/fit']);
    await store.describe('m/fit', 'the one');
    expect(store.registered[0]!.description).toBe('the one');
  });
});
