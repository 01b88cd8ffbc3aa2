/** The node catalog, fetched once as data (`catalog.list`): the palette and inspector read it. */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { NodeSpecInfo, SampleEntry } from '../../../preload/contract';
import { errorMessage, useClient } from '../api';

/** Palette order of categories, with their display names. */
export const CATEGORIES: ReadonlyArray<{ id: NodeSpecInfo['category']; title: string }> = [
  { id: 'data', title: 'Data' },
  { id: 'model', title: 'Models' },
  { id: 'train', title: 'Training' },
  { id: 'compress', title: 'Compression' },
  { id: 'diffusion', title: 'Diffusion' },
  { id: 'evaluate', title: 'Evaluation' },
  { id: 'export', title: 'Export' },
];

/** Case-insensitive match of every word of `query` against a spec's type, title, category and help. */
export function matchesQuery(spec: NodeSpecInfo, query: string): boolean {
  const haystack = `${spec.type} ${spec.title} ${spec.category} ${spec.help}`.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => haystack.includes(word));
}

/** Ranks matches: title prefix, then type prefix, then title substring, then anywhere. */
export function searchSpecs(specs: readonly NodeSpecInfo[], query: string): NodeSpecInfo[] {
  const q = query.trim().toLowerCase();
  if (!q) return [...specs];
  const score = (spec: NodeSpecInfo) => {
    const titleLower = spec.title.toLowerCase();
    if (titleLower.startsWith(q)) return 0;
    if (spec.type.toLowerCase().startsWith(q)) return 1;
    if (titleLower.includes(q) || spec.type.includes(q)) return 2;
    return 3;
  };
  return specs
    .filter((spec) => matchesQuery(spec, q))
    .map((spec) => ({ spec, rank: score(spec) }))
    .sort((a, b) => a.rank - b.rank || a.spec.title.localeCompare(b.spec.title))
    .map(({ spec }) => spec);
}

export const useCatalogStore = defineStore('catalog', () => {
  const client = useClient();
  const specs = shallowRef<NodeSpecInfo[]>([]);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const byType = computed(() => new Map(specs.value.map((spec) => [spec.type, spec])));

  const grouped = computed(() =>
    CATEGORIES.map((category) => ({
      ...category,
      specs: specs.value.filter((spec) => spec.category === category.id),
    })).filter((group) => group.specs.length > 0),
  );

  async function load(): Promise<void> {
    loading.value = true;
    try {
      specs.value = await client.request('catalog.list', {});
      error.value = null;
    } catch (caught) {
      error.value = errorMessage(caught);
    } finally {
      loading.value = false;
    }
  }

  function spec(type: string): NodeSpecInfo | undefined {
    return byType.value.get(type);
  }

  /** Sample pipelines shipped in resources/pipelines/ ("New from sample"). */
  const samples = shallowRef<SampleEntry[]>([]);

  async function loadSamples(): Promise<void> {
    try {
      samples.value = await client.request('pipelines.samples', {});
    } catch (caught) {
      console.warn('No samples', caught);
    }
  }

  return { specs, loading, error, byType, grouped, samples, load, loadSamples, spec };
});
