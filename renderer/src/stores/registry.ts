/**
 * The model registry: every version, filtered and sorted for the table; one version's details and
 * lineage for the model view; tag, delete (refused while others derive from it unless forced) and
 * export.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type {
  LineageGraph,
  ModelVersionInfo,
  RegisteredModelInfo,
  RegistryChange,
} from '../../../preload/contract';
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
  /** Registered models: one per name, with their versions counted and current aliases. */
  const registered = shallowRef<RegisteredModelInfo[]>([]);
  /** Versions in the registry, as `registry.changed` last said (or the last list). */
  const versionCount = ref(0);

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
      // Both at once; the version list stands on its own if the grouped list fails.
      const names = client.request('models.registered', {}).then(
        (list) => list,
        () => null,
      );
      const versions = await client.request('models.list', {});
      models.value = versions;
      versionCount.value = versions.length;
      error.value = null;
      registered.value = (await names) ?? registered.value;
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

  /** `force` replaces what the folder holds even when it is another model's export. */
  /** One registered model's versions, newest first. */
  async function listVersions(name: string): Promise<ModelVersionInfo[]> {
    const list = await client.request('models.list', { name });
    for (const model of list) upsert(model);
    return list;
  }

  /** Removes an alias from the version that carries it. */
  async function untag(ref: string, alias: string): Promise<ModelVersionInfo> {
    const model = await client.request('models.untag', { ref, alias });
    upsert(model);
    registered.value = registered.value.map((entry) => {
      if (entry.name !== model.name) return entry;
      const aliases = { ...entry.aliases };
      delete aliases[alias];
      return { ...entry, aliases };
    });
    return model;
  }

  /** Sets a registered model's description. */
  async function describe(name: string, description: string): Promise<RegisteredModelInfo> {
    const model = await client.request('models.describe', { name, description });
    registered.value = registered.value.map((entry) => (entry.name === name ? model : entry));
    return model;
  }

  let changeTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * `registry.changed` (this process's runs or another's): the count follows at once, the lists
   * in one refetch however many changes arrive together.
   */
  function changed(count: RegistryChange): void {
    versionCount.value = count.versions;
    changeTimer ??= setTimeout(() => {
      changeTimer = undefined;
      void refresh();
    }, 250);
  }

  async function exportModel(ref: string, format: string, outDir: string, force = false): Promise<string[]> {
    const { files } = await client.request('models.export', {
      ref,
      format,
      outDir,
      ...(force ? { force } : {}),
    });
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
    registered,
    versionCount,
    untag,
    describe,
    listVersions,
    changed,
    sortBy,
    refresh,
    get,
    lineage,
    tag,
    remove,
    exportModel,
  };
});
