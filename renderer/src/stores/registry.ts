/**
 * The model registry: every version, filtered and sorted for the table; one version's details and
 * lineage for the model view; tag, delete (refused while others derive from it unless forced) and
 * export.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { LineageGraph, ModelVersionInfo } from '../../../preload/contract';
import { errorMessage, useClient } from '../api';

export type SortKey =
  'name' | 'version' | 'createdAt' | 'accuracy' | 'paramCount' | 'nonZeroParams' | 'sizeBytes' | 'backend';

/** Export formats the exporters register (main/export); the dialog also accepts others by name. */

export function accuracyOf(model: ModelVersionInfo): number | undefined {
  const value = model.metrics.accuracy ?? model.metrics.test_accuracy ?? model.metrics.val_accuracy;
  return typeof value === 'number' ? value : undefined;
}

function sortValue(model: ModelVersionInfo, key: SortKey): string | number {
  switch (key) {
    case 'name':
      return model.name.toLowerCase();
    case 'version':
      return model.version;
    case 'createdAt':
      return model.createdAt;
    case 'accuracy':
      return accuracyOf(model) ?? Number.NEGATIVE_INFINITY;
    case 'backend':
      return model.backend ?? '';
    default:
      return model[key];
  }
}

/** Filters by every word of `query` (name, alias, node type, backend, `name:v3`) and sorts. */
export function filterAndSort(
  models: readonly ModelVersionInfo[],
  query: string,
  key: SortKey,
  direction: 'asc' | 'desc',
): ModelVersionInfo[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const filtered = models.filter((model) => {
    const haystack = [
      model.name,
      `${model.name}:v${model.version}`,
      model.id,
      model.nodeType ?? '',
      model.backend ?? '',
      model.kind,
      ...model.aliases,
    ]
      .join(' ')
      .toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
  const sign = direction === 'asc' ? 1 : -1;
  return filtered.sort((a, b) => {
    const left = sortValue(a, key);
    const right = sortValue(b, key);
    const order =
      typeof left === 'number' && typeof right === 'number'
        ? left - right
        : String(left).localeCompare(String(right));
    return sign * order || b.createdAt.localeCompare(a.createdAt);
  });
}

export const useRegistryStore = defineStore('registry', () => {
  const client = useClient();
  const models = shallowRef<ModelVersionInfo[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const query = ref('');
  const sortKey = ref<SortKey>('createdAt');
  const sortDirection = ref<'asc' | 'desc'>('desc');
  const lineages = shallowRef<Record<string, LineageGraph>>({});

  const rows = computed(() => filterAndSort(models.value, query.value, sortKey.value, sortDirection.value));

  function sortBy(key: SortKey): void {
    if (sortKey.value === key) sortDirection.value = sortDirection.value === 'asc' ? 'desc' : 'asc';
    else {
      sortKey.value = key;
      sortDirection.value = key === 'name' || key === 'backend' ? 'asc' : 'desc';
    }
  }

  async function refresh(): Promise<void> {
    loading.value = true;
    try {
      models.value = await client.request('models.list', {});
      error.value = null;
    } catch (caught) {
      error.value = errorMessage(caught);
    } finally {
      loading.value = false;
    }
  }

  function upsert(model: ModelVersionInfo): void {
    const index = models.value.findIndex((existing) => existing.id === model.id);
    const next = [...models.value];
    if (index < 0) next.unshift(model);
    else next[index] = model;
    models.value = next;
  }

  async function get(ref: string): Promise<ModelVersionInfo> {
    const model = await client.request('models.get', { ref });
    upsert(model);
    return model;
  }

  async function lineage(ref: string): Promise<LineageGraph> {
    const graph = await client.request('models.lineage', { ref });
    lineages.value = { ...lineages.value, [ref]: graph };
    return graph;
  }

  async function tag(ref: string, alias: string): Promise<ModelVersionInfo> {
    const model = await client.request('models.tag', { ref, alias });
    // An alias moves: drop it from whichever version held it before.
    models.value = models.value.map((existing) =>
      existing.id === model.id
        ? model
        : { ...existing, aliases: existing.aliases.filter((a) => a !== alias) },
    );
    return model;
  }

  /** Deletes a version; without `force` main refuses (MODEL_HAS_DESCENDANTS) when others derive from it. */
  async function remove(ref: string, force = false): Promise<string[]> {
    const { deleted } = await client.request('models.delete', { ref, ...(force ? { force: true } : {}) });
    const gone = new Set(deleted);
    models.value = models.value.filter((model) => !gone.has(model.id));
    return deleted;
  }

  async function exportModel(ref: string, format: string, outDir: string): Promise<string[]> {
    const { files } = await client.request('models.export', { ref, format, outDir });
    return files;
  }

  return {
    models,
    loading,
    error,
    query,
    sortKey,
    sortDirection,
    lineages,
    rows,
    sortBy,
    refresh,
    get,
    lineage,
    tag,
    remove,
    exportModel,
  };
});
