import { describe, expect, it } from 'vitest';
import {
  boundsOf,
  estimateNodeHeight,
  freePosition,
  legibleViewport,
  PLACEMENT_GAP,
  type Rect,
} from '../../renderer/src/pipeline/layout';

function overlap(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

const size = { width: 220, height: 120 };

describe('free space for a new node', () => {
  it('keeps the position asked for when it is free', () => {
    expect(freePosition({ x: 100, y: 100 }, size, [{ x: 500, y: 500, ...size }])).toEqual({ x: 100, y: 100 });
  });

  it('moves the nearest distance that clears every node, with the gap kept', () => {
    const occupied: Rect[] = [{ x: 0, y: 0, ...size }];
    const spot = freePosition({ x: 0, y: 0 }, size, occupied);
    const placed = { ...spot, ...size };
    expect(overlap(placed, occupied[0]!)).toBe(false);
    const gapped = {
      x: spot.x - PLACEMENT_GAP,
      y: spot.y - PLACEMENT_GAP,
      width: 220 + 2 * PLACEMENT_GAP,
      height: 120 + 2 * PLACEMENT_GAP,
    };
    expect(overlap(gapped, occupied[0]!)).toBe(false);
    // Nearest: straight below (120 + gap rounds up to 160 on the 40 px grid), not further away.
    expect(Math.hypot(spot.x, spot.y)).toBeLessThanOrEqual(160);
  });

  it('places one node after another without overlaps, each near the point asked for', () => {
    const occupied: Rect[] = [];
    for (let i = 0; i < 12; i++) {
      const spot = freePosition({ x: 300, y: 200 }, size, occupied);
      const rect = { ...spot, ...size };
      for (const other of occupied) expect(overlap(rect, other)).toBe(false);
      occupied.push(rect);
    }
    const extent = boundsOf(occupied);
    // Twelve 220 × 120 boxes with gaps fit in well under a 1400 px square around the point.
    expect(extent.width).toBeLessThan(1400);
    expect(extent.height).toBeLessThan(1400);
  });

  it('bounds rectangles and estimates heights from port rows and shown params', () => {
    expect(
      boundsOf([
        { x: 10, y: 20, width: 5, height: 5 },
        { x: -5, y: 0, width: 10, height: 10 },
      ]),
    ).toEqual({
      x: -5,
      y: 0,
      width: 20,
      height: 25,
    });
    expect(estimateNodeHeight(2, 0)).toBeLessThan(estimateNodeHeight(2, 3));
    expect(estimateNodeHeight(2, 9)).toBe(estimateNodeHeight(2, 4));
  });
});

describe('legible first view', () => {
  const view = { width: 1000, height: 400 };
  const options = { minZoom: 1, maxZoom: 1.25, padding: 20 };

  it('centres a graph that fits, zoomed in no further than the maximum', () => {
    const viewport = legibleViewport({ x: 0, y: 0, width: 400, height: 200 }, view, options);
    expect(viewport.zoom).toBe(1.25);
    expect(viewport.x).toBeCloseTo((1000 - 500) / 2);
    expect(viewport.y).toBeCloseTo((400 - 250) / 2);
  });

  it('keeps the minimum zoom for a wide graph and starts at its left and top edges', () => {
    const viewport = legibleViewport({ x: 100, y: -50, width: 2400, height: 600 }, view, options);
    expect(viewport.zoom).toBe(1);
    // The graph's left edge sits at the padding; it starts at flow y -50, shown at the padding too.
    expect(viewport.x).toBe(20 - 100);
    expect(viewport.y).toBe(20 + 50);
  });
});
