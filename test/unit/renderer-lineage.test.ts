/**
 * The lineage graph's layout and labels: columns by generation, no edge running behind a node (on
 * hand-made graphs and on random ones), fewer crossings after ordering, and edge labels that show
 * the params differing from their defaults, whichever were written first.
 */
import { describe, expect, it } from 'vitest';
import type { NodeSpecInfo } from '../../preload/contract';
import {
  labelPoint,
  layeredLayout,
  sampleCubic,
  type LayoutSize,
} from '../../renderer/src/pipeline/lineage-layout';
import { changedParams, edgeLabel } from '../../renderer/src/registry/lineage-labels';

const SIZE: LayoutSize = { width: 230, height: 64, columnGap: 250, rowGap: 30 };

/** Points along an edge's path, drawn as lineagePath draws it. */
function samplePath(
  source: { x: number; y: number },
  waypoints: Array<{ x: number; y: number }>,
  target: { x: number; y: number },
): Array<{ x: number; y: number }> {
  const points = [source, ...waypoints, target];
  const out: Array<{ x: number; y: number }> = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    for (let step = 0; step <= 40; step++) {
      const t = step / 40;
      if (i % 2 === 0 && i < points.length - 1)
        out.push({ x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t });
      else {
        const mid = (a.x + b.x) / 2;
        out.push(sampleCubic(a, { x: mid, y: a.y }, { x: mid, y: b.y }, b, t));
      }
    }
  }
  return out;
}

/** Edge paths that pass through the inside of a node box (other than their own ends). */
function edgesBehindNodes(ids: string[], links: Array<[string, string]>): string[] {
  const layout = layeredLayout(ids, links, SIZE);
  const box = new Map(layout.nodes.map((node) => [node.id, node]));
  const problems: string[] = [];
  for (const edge of layout.edges) {
    const from = box.get(edge.source)!;
    const to = box.get(edge.target)!;
    const path = samplePath({ x: from.x + SIZE.width, y: from.y + SIZE.height / 2 }, edge.waypoints, {
      x: to.x,
      y: to.y + SIZE.height / 2,
    });
    for (const node of layout.nodes) {
      const inside = path.some(
        (point) =>
          point.x > node.x + 1 &&
          point.x < node.x + SIZE.width - 1 &&
          point.y > node.y + 1 &&
          point.y < node.y + SIZE.height - 1,
      );
      if (inside) problems.push(`${edge.source}→${edge.target} behind ${node.id}`);
    }
  }
  return problems;
}

function crossings(ids: string[], links: Array<[string, string]>): number {
  const layout = layeredLayout(ids, links, SIZE);
  const at = new Map(layout.nodes.map((node) => [node.id, node]));
  let count = 0;
  for (let i = 0; i < links.length; i++)
    for (let j = i + 1; j < links.length; j++) {
      const [a, b] = links[i]!;
      const [c, d] = links[j]!;
      if (at.get(a)!.x !== at.get(c)!.x || at.get(b)!.x !== at.get(d)!.x) continue;
      if ((at.get(a)!.y - at.get(c)!.y) * (at.get(b)!.y - at.get(d)!.y) < 0) count += 1;
    }
  return count;
}

/** A seeded random DAG: edges only from lower to higher index. */
function randomDag(seed: number, size: number): { ids: string[]; links: Array<[string, string]> } {
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const ids = Array.from({ length: size }, (_, i) => `v${i}`);
  const links: Array<[string, string]> = [];
  for (let i = 1; i < size; i++) {
    const parents = 1 + Math.floor(random() * 2);
    for (let k = 0; k < parents; k++) {
      const parent = Math.floor(random() * i);
      if (!links.some(([a, b]) => a === `v${parent}` && b === `v${i}`)) links.push([`v${parent}`, `v${i}`]);
    }
  }
  return { ids, links };
}

describe('lineage layout', () => {
  it('puts versions in columns by generation and routes a long edge around the middle column', () => {
    // base → fit → pruned, and base → pruned directly (a merge's second parent): the long edge
    // would run straight through fit's box without its own slot.
    const ids = ['base', 'fit', 'pruned'];
    const links: Array<[string, string]> = [
      ['base', 'fit'],
      ['fit', 'pruned'],
      ['base', 'pruned'],
    ];
    const layout = layeredLayout(ids, links, SIZE);
    const x = Object.fromEntries(layout.nodes.map((node) => [node.id, node.x]));
    expect(x).toEqual({ base: 0, fit: 480, pruned: 960 });
    const long = layout.edges.find((edge) => edge.source === 'base' && edge.target === 'pruned')!;
    expect(long.waypoints).toHaveLength(2);
    expect(long.waypoints[0]!.x).toBe(480);
    expect(edgesBehindNodes(ids, links)).toEqual([]);
  });

  it('never draws an edge behind a node, on random lineages', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { ids, links } = randomDag(seed, 4 + (seed % 9));
      expect(edgesBehindNodes(ids, links), `seed ${seed}`).toEqual([]);
    }
  });

  it('orders rows to avoid crossings', () => {
    // Two parents whose children were listed crosswise.
    const ids = ['a', 'b', 'b-child', 'a-child'];
    const links: Array<[string, string]> = [
      ['a', 'a-child'],
      ['b', 'b-child'],
    ];
    expect(crossings(ids, links)).toBe(0);
  });

  it('puts a label in the first gap', () => {
    expect(labelPoint({ x: 230, y: 30 }, [], { x: 480, y: 90 })).toEqual({ x: 355, y: 60 });
  });
});

describe('lineage edge labels', () => {
  const spec = {
    type: 'train',
    params: {
      epochs: { kind: 'integer', default: 3 },
      optimizer: { kind: 'choice', default: 'adam', choices: ['adam', 'sgd'] },
      learningRate: { kind: 'number', default: 0.001 },
      hidden: { kind: 'list', of: 'integer', default: [300, 100] },
    },
  } as unknown as NodeSpecInfo;

  it('shows the params that differ from their defaults, in spec order, not the first written', () => {
    const params = { optimizer: 'adam', epochs: 3, learningRate: 0.01, hidden: [64], port: 'model' };
    expect(changedParams(params, spec)).toEqual(['learningRate=0.01', 'hidden=[64]']);
    expect(edgeLabel('train', params, spec, 80)).toEqual({
      label: 'train · learningRate=0.01 hidden=[64]',
      full: 'train · learningRate=0.01 hidden=[64]',
    });
    expect(edgeLabel('train', { epochs: 3 }, spec, 80).label).toBe('train');
  });

  it('cuts a long label and keeps the whole list for the tooltip', () => {
    const params = { epochs: 10, optimizer: 'sgd', learningRate: 0.5, hidden: [1, 2, 3] };
    const { label, full } = edgeLabel('train', params, spec, 30);
    expect(label).toBe('train · epochs=10 …');
    expect(label.length).toBeLessThanOrEqual(30);
    expect(full).toBe('train · epochs=10 optimizer=sgd learningRate=0.5 hidden=[1, 2, 3]');
    // Without a spec (a node type this build lacks) every param shows.
    expect(changedParams({ temperature: 4 }, undefined)).toEqual(['temperature=4']);
  });
});
