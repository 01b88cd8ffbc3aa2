/** What each canvas node carries (editor and run view share PipelineNode.vue). */
import type { InjectionKey, Ref } from 'vue';
import type { PipelineEdge, PortType, TaskStatus } from '../../../preload/contract';
import type { ConnectionRequest } from '../pipeline/graph';

export interface PipelineNodeData {
  type: string;
  params: Record<string, unknown>;
  mode: 'edit' | 'run';
  status?: TaskStatus;
  /** Progress in [0, 1] of a running task. */
  progress?: number | null;
  /** One line under the title in the run view (ETA, reused from, error). */
  detail?: string;
  /** The node is bypassed: shown, not run. */
  bypass?: boolean;
}

export interface ConnectingFrom {
  nodeId: string;
  handleId: string;
  handleType: 'source' | 'target';
  portType: PortType | undefined;
}

/** Provided by the editor canvas: connection checks for handles, and the drag in progress. */
export interface CanvasConnection {
  isValid(request: ConnectionRequest): boolean;
  connecting: Ref<ConnectingFrom | null>;
}

/** A right-click on the editor's canvas: where (screen and flow coordinates) and on what. */
export type CanvasContext =
  | { kind: 'pane'; screen: { x: number; y: number }; at: { x: number; y: number } }
  | { kind: 'nodes'; screen: { x: number; y: number }; ids: string[] }
  | { kind: 'edge'; screen: { x: number; y: number }; edge: PipelineEdge };

export const CANVAS_CONNECTION: InjectionKey<CanvasConnection> = Symbol('canvas-connection');

export function formatParamValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value.toLocaleString('en-US');
    return Math.abs(value) < 0.001 ? value.toExponential(1) : String(Number(value.toPrecision(4)));
  }
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'string') return value.length > 18 ? `${value.slice(0, 16)}…` : value || '""';
  return JSON.stringify(value);
}
