/** Positions for nodes that have none: columns by depth in the graph, rows in document order. */
import type { PipelineEdge, PipelineNode } from '../../../preload/contract';
import { parseEndpoint } from '../../../preload/graph-rules';

export const NODE_WIDTH = 220;
export const COLUMN_GAP = 80;
export const ROW_HEIGHT = 200;

export function depths(ids: readonly string[], links: ReadonlyArray<[string, string]>): Map<string, number> {
  const depth = new Map<string, number>(ids.map((id) => [id, 0]));
  for (let pass = 0; pass < ids.length; pass++) {
    let changed = false;
    for (const [from, to] of links) {
      const next = (depth.get(from) ?? 0) + 1;
      if (depth.has(to) && next > depth.get(to)!) {
        depth.set(to, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return depth;
}

export function autoLayout(
  nodes: readonly Pick<PipelineNode, 'id'>[],
  edges: readonly PipelineEdge[],
): Map<string, { x: number; y: number }> {
  const depth = depths(
    nodes.map((node) => node.id),
    edges.flatMap((edge): Array<[string, string]> => {
      const from = parseEndpoint(edge.from);
      const to = parseEndpoint(edge.to);
      return from && to ? [[from.nodeId, to.nodeId]] : [];
    }),
  );
  const rows = new Map<number, number>();
  const positions = new Map<string, { x: number; y: number }>();
  for (const node of nodes) {
    const column = depth.get(node.id) ?? 0;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    positions.set(node.id, { x: column * (NODE_WIDTH + COLUMN_GAP), y: row * ROW_HEIGHT });
  }
  return positions;
}
