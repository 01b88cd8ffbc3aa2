/**
 * Where nodes go: positions for nodes that have none (columns by depth in the graph, rows in
 * document order), free space for a node added or pasted next to others, and a first view of a
 * graph that keeps its text legible.
 */
import type { PipelineEdge, PipelineNode } from '../../../preload/contract';
import { parseEndpoint } from '../../../preload/graph-rules';
import type { Position } from './changes';

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

/** A rectangle in flow coordinates. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A Vue Flow viewport: the flow point at the view's top-left is (-x / zoom, -y / zoom). */
export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

/**
 * The viewport that shows `bounds` in a `view` of the given size as large as fits, but never
 * smaller than `minZoom` (so text stays legible) nor larger than `maxZoom`. When the graph fits it
 * is centred; along an axis where it does not, it starts at the top or left edge (where a pipeline
 * starts), and the rest is a pan away.
 */
export function legibleViewport(
  bounds: Rect,
  view: { width: number; height: number },
  options: { minZoom: number; maxZoom: number; padding: number },
): Viewport {
  const { minZoom, maxZoom, padding } = options;
  const fit = Math.min(
    (view.width - 2 * padding) / Math.max(1, bounds.width),
    (view.height - 2 * padding) / Math.max(1, bounds.height),
  );
  const zoom = Math.min(maxZoom, Math.max(minZoom, fit));
  const place = (start: number, size: number, room: number) =>
    size * zoom + 2 * padding <= room ? (room - size * zoom) / 2 - start * zoom : padding - start * zoom;
  return {
    x: place(bounds.x, bounds.width, view.width),
    y: place(bounds.y, bounds.height, view.height),
    zoom,
  };
}

/** Space kept between a placed node and its neighbours. */
export const PLACEMENT_GAP = 24;
/** Distance between the positions tried when looking for free space (a multiple of the snap grid). */
export const PLACEMENT_STEP = 40;

/** Vertical centre of port row `row` (inputs and outputs side by side), from a node's top edge. */
export function portRowCenter(row: number): number {
  // Category bar (4) + header (40) + ports padding (4) + half a row (12), rows 24 px (PipelineNode.vue).
  return 60 + 24 * row;
}

/** A node's height before it is drawn: header, port rows and the first four params it sets. */
export function estimateNodeHeight(portRows: number, shownParams: number): number {
  const ports = portRows > 0 ? 8 + 24 * portRows : 0;
  const params = shownParams > 0 ? 14 + 17 * Math.min(4, shownParams) : 0;
  return 46 + ports + params;
}

function overlaps(a: Rect, b: Rect, gap: number): boolean {
  return (
    a.x < b.x + b.width + gap &&
    b.x < a.x + a.width + gap &&
    a.y < b.y + b.height + gap &&
    b.y < a.y + a.height + gap
  );
}

/**
 * The position nearest `desired` (on a PLACEMENT_STEP grid around it) where a box of `size`
 * overlaps none of `occupied`, keeping `gap` between them. Rings of candidates are tried outwards,
 * nearest first; `desired` itself when nothing is free within `rings` steps.
 */
export function freePosition(
  desired: Position,
  size: { width: number; height: number },
  occupied: readonly Rect[],
  options: { gap?: number; step?: number; rings?: number } = {},
): Position {
  const gap = options.gap ?? PLACEMENT_GAP;
  const step = options.step ?? PLACEMENT_STEP;
  const rings = options.rings ?? 60;
  const free = (x: number, y: number) =>
    !occupied.some((rect) => overlaps({ x, y, width: size.width, height: size.height }, rect, gap));
  if (free(desired.x, desired.y)) return desired;
  for (let ring = 1; ring <= rings; ring++) {
    const candidates: Position[] = [];
    for (let i = -ring; i <= ring; i++) {
      candidates.push({ x: i, y: -ring }, { x: i, y: ring });
      if (i !== -ring && i !== ring) candidates.push({ x: -ring, y: i }, { x: ring, y: i });
    }
    // Nearest first; on a tie prefer right, then below, where a pipeline grows.
    candidates.sort((a, b) => Math.hypot(a.x, a.y) - Math.hypot(b.x, b.y) || b.x - a.x || b.y - a.y);
    for (const cell of candidates) {
      const x = desired.x + cell.x * step;
      const y = desired.y + cell.y * step;
      if (free(x, y)) return { x, y };
    }
  }
  return desired;
}

/** The smallest rectangle holding every rectangle given (a zero rectangle at the origin for none). */
export function boundsOf(rects: readonly Rect[]): Rect {
  if (rects.length === 0) return { x: 0, y: 0, width: 0, height: 0 };
  const left = Math.min(...rects.map((rect) => rect.x));
  const top = Math.min(...rects.map((rect) => rect.y));
  const right = Math.max(...rects.map((rect) => rect.x + rect.width));
  const bottom = Math.max(...rects.map((rect) => rect.y + rect.height));
  return { x: left, y: top, width: right - left, height: bottom - top };
}
