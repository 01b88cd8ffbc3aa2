/**
 * Where the editor puts nodes it adds on the user's behalf (quick search, paste, duplicate): near
 * the place asked for, but never on top of a node already there. Sizes are the ones the canvas
 * measured; a node not drawn yet gets an estimate from its spec (pipeline/layout.ts).
 */
import { useVueFlow } from '@vue-flow/core';
import type { Clip } from '../pipeline/graph';
import { boundsOf, estimateNodeHeight, freePosition, NODE_WIDTH, type Rect } from '../pipeline/layout';
import type { Position } from '../pipeline/changes';
import { useCatalogStore } from '../stores/catalog';

/** Offset of a paste that has no better place: beside the copied nodes. */
const PASTE_SHIFT = 40;

export function useNodePlacement() {
  const flow = useVueFlow('editor');
  const catalog = useCatalogStore();

  /** Height of a node of `type` showing `params` set params, before it is drawn. */
  function estimatedHeight(type: string, params: number): number {
    const spec = catalog.spec(type);
    const rows = spec ? Math.max(Object.keys(spec.inputs).length, Object.keys(spec.outputs).length) : 0;
    return estimateNodeHeight(rows, params);
  }

  /** Every node on the canvas as a rectangle in flow coordinates. */
  function occupied(): Rect[] {
    return flow.getNodes.value.map((node) => {
      const data = node.data as { type?: string; params?: Record<string, unknown> } | undefined;
      return {
        x: node.position.x,
        y: node.position.y,
        width: node.dimensions.width || NODE_WIDTH,
        height:
          node.dimensions.height || estimatedHeight(data?.type ?? '', Object.keys(data?.params ?? {}).length),
      };
    });
  }

  /** Top-left corner for a new node of `type`, as near `desired` as free space allows. */
  function placeNode(type: string, desired: Position): Position {
    return freePosition(desired, { width: NODE_WIDTH, height: estimatedHeight(type, 0) }, occupied());
  }

  /**
   * The offset that moves a clip's nodes into free space: with their top-left corner as near
   * `at` as possible (a paste at the pointer), else just beside where they were copied from.
   */
  function pasteOffset(clip: Clip, at?: Position): Position {
    const rects = clip.nodes.map((node, index) => {
      // The same fallback position pasteChange gives a node without one.
      const ui = node.ui ?? { x: index * 40, y: index * 40 };
      const drawn = flow.findNode(node.id);
      const sameNode = drawn && drawn.position.x === ui.x && drawn.position.y === ui.y;
      return {
        x: ui.x,
        y: ui.y,
        width: (sameNode && drawn.dimensions.width) || NODE_WIDTH,
        height:
          (sameNode && drawn.dimensions.height) ||
          estimatedHeight(node.type, Object.keys(node.params).length),
      };
    });
    const bounds = boundsOf(rects);
    const desired = at ?? { x: bounds.x + PASTE_SHIFT, y: bounds.y + PASTE_SHIFT };
    const spot = freePosition(desired, bounds, occupied());
    return { x: Math.round(spot.x - bounds.x), y: Math.round(spot.y - bounds.y) };
  }

  return { placeNode, pasteOffset, occupied };
}
