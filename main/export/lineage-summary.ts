/**
 * The provenance an exported file carries in words (ONNX `doc_string`): the version and, parent by
 * parent, the operation and key params that made each one. From the registry's lineage graph when
 * exporting a registered version; from the model's own distillery.json otherwise.
 */
import type { LineageGraph, ModelVersionInfo } from '../../preload/contract';

/** Longest rendering of one edge's params; the full params stay in the registry. */
const MAX_PARAMS_LENGTH = 240;

function compact(value: unknown): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > MAX_PARAMS_LENGTH ? `${text.slice(0, MAX_PARAMS_LENGTH - 1)}…` : text;
}

function describeVersion(version: ModelVersionInfo | undefined, id: string): string {
  if (!version) return id;
  const metrics = Object.entries(version.metrics)
    .filter(([name]) => ['accuracy', 'loss', 'val_accuracy'].includes(name))
    .map(([name, value]) => `${name} ${Number(value.toFixed(4))}`);
  return `${version.name} v${version.version} (${id}${metrics.length ? `; ${metrics.join(', ')}` : ''})`;
}

/** One line per ancestor, indented by generation, root first. */
export function lineageSummary(graph: LineageGraph): string {
  const versions = new Map(graph.nodes.map((node) => [node.id, node]));
  const parents = new Map<string, LineageGraph['edges']>();
  for (const edge of graph.edges) parents.set(edge.childId, [...(parents.get(edge.childId) ?? []), edge]);
  const lines: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string, depth: number, via: string): void => {
    const version = versions.get(id);
    const made = version?.nodeType ? `made by ${version.nodeType}` : '';
    lines.push(`${'  '.repeat(depth)}${via}${describeVersion(version, id)}${made ? `, ${made}` : ''}`);
    if (seen.has(id)) return;
    seen.add(id);
    for (const edge of parents.get(id) ?? []) {
      visit(edge.parentId, depth + 1, `← ${edge.operation} ${compact(edge.params)} from `);
    }
  };
  visit(graph.root, 0, '');
  return lines.join('\n');
}

/** What a model directory's distillery.json says about how the model was made. */
export function describeModelMeta(meta: Record<string, unknown> | undefined): string {
  if (!meta) return 'A TensorFlow.js layers model without Distillery metadata.';
  const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);
  const parts = [
    `${text(meta.kind, 'model')} ${text(meta.architecture, '')} ${compact(meta.architectureParams ?? {})}`.trim(),
    meta.trained === true ? 'trained' : 'untrained',
  ];
  for (const key of ['pruning', 'structuredPruning', 'quantization'] as const) {
    if (meta[key] !== undefined) parts.push(`${key} ${compact(meta[key])}`);
  }
  return parts.join('; ');
}
