/**
 * A layered layout for the lineage graph (Sugiyama, in short): versions in columns by generation,
 * every edge that skips columns given a placeholder slot in each column it crosses, rows ordered by
 * the mean row of their parents and children to cut crossings, and edge paths that pass each
 * crossed column through their own empty slot. No edge therefore runs behind a node: between two
 * columns a path stays in the gap, and inside a column it stays in a slot no node occupies.
 */
import { depths } from './layout';

export interface LayoutSize {
  /** Node box. */
  width: number;
  height: number;
  /** Horizontal gap between columns, where edges and their labels go. */
  columnGap: number;
  /** Vertical gap between rows. */
  rowGap: number;
}

export interface LaidOutNode {
  id: string;
  x: number;
  y: number;
}

export interface LaidOutEdge {
  source: string;
  target: string;
  /** Points the path goes through between the source's right side and the target's left side. */
  waypoints: Array<{ x: number; y: number }>;
}

export interface LineageLayout {
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
  /** Size of the whole drawing. */
  width: number;
  height: number;
}

interface Slot {
  /** A node id, or a placeholder of an edge (`edge index` + column). */
  id: string;
  edge?: number;
}

/** Lays out `ids` with `links` (parent, child); the result keeps the input's node order for ties. */
export function layeredLayout(
  ids: readonly string[],
  links: ReadonlyArray<readonly [string, string]>,
  size: LayoutSize,
): LineageLayout {
  const known = new Set(ids);
  const edges = links.filter(([from, to]) => known.has(from) && known.has(to) && from !== to);
  const depth = depths(
    ids,
    edges.map(([from, to]) => [from, to]),
  );
  const columnCount = Math.max(0, ...[...depth.values()].map((value) => value + 1));
  const columns: Slot[][] = Array.from({ length: columnCount }, () => []);
  for (const id of ids) columns[depth.get(id) ?? 0]!.push({ id });
  // A placeholder in every column an edge crosses, so that it has a slot of its own there.
  const chains = edges.map(([from, to], index) => {
    const chain: string[] = [from];
    for (let column = (depth.get(from) ?? 0) + 1; column < (depth.get(to) ?? 0); column++) {
      const id = `\u0000edge${index}@${column}`;
      columns[column]!.push({ id, edge: index });
      chain.push(id);
    }
    chain.push(to);
    return chain;
  });

  // Neighbours in the previous and next columns, through placeholders.
  const up = new Map<string, string[]>();
  const down = new Map<string, string[]>();
  for (const chain of chains) {
    for (let i = 0; i + 1 < chain.length; i++) {
      const a = chain[i]!;
      const b = chain[i + 1]!;
      down.set(a, [...(down.get(a) ?? []), b]);
      up.set(b, [...(up.get(b) ?? []), a]);
    }
  }
  const row = new Map<string, number>();
  const renumber = () =>
    columns.forEach((column) => column.forEach((slot, index) => row.set(slot.id, index)));
  renumber();
  const barycenter = (id: string, neighbours: Map<string, string[]>): number | undefined => {
    const list = neighbours.get(id);
    if (!list || list.length === 0) return undefined;
    return list.reduce((sum, other) => sum + row.get(other)!, 0) / list.length;
  };
  for (let sweep = 0; sweep < 8; sweep++) {
    const downward = sweep % 2 === 0;
    const order = downward ? columns.keys() : [...columns.keys()].reverse();
    for (const index of order) {
      const column = columns[index]!;
      const keyed = column.map((slot, position) => ({
        slot,
        key: barycenter(slot.id, downward ? up : down) ?? position,
        position,
      }));
      keyed.sort((a, b) => a.key - b.key || a.position - b.position);
      columns[index] = keyed.map((entry) => entry.slot);
      renumber();
    }
  }

  // Columns are centred on the tallest one, so a lone root sits level with its children.
  const rowsTall = Math.max(1, ...columns.map((column) => column.length));
  const pitch = size.height + size.rowGap;
  const position = new Map<string, { x: number; y: number }>();
  columns.forEach((column, index) => {
    const offset = ((rowsTall - column.length) * pitch) / 2;
    column.forEach((slot, r) =>
      position.set(slot.id, { x: index * (size.width + size.columnGap), y: offset + r * pitch }),
    );
  });

  return {
    nodes: ids.map((id) => ({ id, ...position.get(id)! })),
    edges: chains.map((chain) => ({
      source: chain[0]!,
      target: chain.at(-1)!,
      // Each placeholder: enter and leave its slot at its vertical centre.
      waypoints: chain.slice(1, -1).flatMap((id) => {
        const at = position.get(id)!;
        const y = at.y + size.height / 2;
        return [
          { x: at.x, y },
          { x: at.x + size.width, y },
        ];
      }),
    })),
    width: columnCount * (size.width + size.columnGap) - size.columnGap,
    height: rowsTall * pitch - size.rowGap,
  };
}

/**
 * The SVG path of an edge: from (sx, sy) through its waypoints to (tx, ty), a horizontal-tangent
 * cubic across each gap between columns and a straight line through each crossed slot.
 */
export function lineagePath(
  source: { x: number; y: number },
  waypoints: ReadonlyArray<{ x: number; y: number }>,
  target: { x: number; y: number },
): string {
  const points = [source, ...waypoints, target];
  let path = `M ${source.x} ${source.y}`;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    // Waypoints come in pairs inside a slot (odd index → even index): a straight line there.
    if (i % 2 === 0 && i < points.length - 1) path += ` L ${b.x} ${b.y}`;
    else {
      const mid = (a.x + b.x) / 2;
      path += ` C ${mid} ${a.y}, ${mid} ${b.y}, ${b.x} ${b.y}`;
    }
  }
  return path;
}

/** Where an edge's label goes: the middle of its first gap. */
export function labelPoint(
  source: { x: number; y: number },
  waypoints: ReadonlyArray<{ x: number; y: number }>,
  target: { x: number; y: number },
): { x: number; y: number } {
  const next = waypoints[0] ?? target;
  return { x: (source.x + next.x) / 2, y: (source.y + next.y) / 2 };
}

/** A point of a cubic bezier, for tests that check paths against node boxes. */
export function sampleCubic(
  a: { x: number; y: number },
  c1: { x: number; y: number },
  c2: { x: number; y: number },
  b: { x: number; y: number },
  t: number,
): { x: number; y: number } {
  const u = 1 - t;
  return {
    x: u * u * u * a.x + 3 * u * u * t * c1.x + 3 * u * t * t * c2.x + t * t * t * b.x,
    y: u * u * u * a.y + 3 * u * u * t * c1.y + 3 * u * t * t * c2.y + t * t * t * b.y,
  };
}
