/**
 * Drag and drop from the palette onto the canvas (HTML drag and drop API). The palette side puts
 * the node type on the drag; the canvas side accepts only drags that carry one and reports where
 * it was dropped, in screen coordinates, for the canvas to project into the flow.
 */
import { ref } from 'vue';

export const NODE_TYPE_MIME = 'application/x-distillery-node-type';

export function usePaletteDrag() {
  function onDragStart(event: DragEvent, type: string): void {
    if (!event.dataTransfer) return;
    event.dataTransfer.setData(NODE_TYPE_MIME, type);
    event.dataTransfer.setData('text/plain', type);
    event.dataTransfer.effectAllowed = 'copy';
  }
  return { onDragStart };
}

export function useCanvasDrop(onDropType: (type: string, screen: { x: number; y: number }) => void) {
  const isOver = ref(false);

  function carriesNode(event: DragEvent): boolean {
    return event.dataTransfer?.types.includes(NODE_TYPE_MIME) ?? false;
  }

  function onDragOver(event: DragEvent): void {
    if (!carriesNode(event)) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    isOver.value = true;
  }

  function onDragLeave(event: DragEvent): void {
    const related = event.relatedTarget as Node | null;
    if (!related || !(event.currentTarget as Node).contains(related)) isOver.value = false;
  }

  function onDrop(event: DragEvent): void {
    isOver.value = false;
    const type = event.dataTransfer?.getData(NODE_TYPE_MIME);
    if (!type) return;
    event.preventDefault();
    onDropType(type, { x: event.clientX, y: event.clientY });
  }

  return { isOver, onDragOver, onDragLeave, onDrop };
}
