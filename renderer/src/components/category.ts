/** Colour and icon of each node category (palette, nodes, minimap). */
import type { NodeSpecInfo } from '../../../preload/contract';
import type { IconName } from './icons';

export const CATEGORY_ICON: Record<NodeSpecInfo['category'], IconName> = {
  data: 'data',
  model: 'model',
  train: 'train',
  compress: 'compress',
  diffusion: 'diffusion',
  evaluate: 'evaluate',
  export: 'export',
};

export function categoryColor(category: string | undefined): string {
  return category ? `var(--cat-${category}, var(--cat-export))` : 'var(--cat-export)';
}

/** Solid colours for canvas-drawn things (the minimap cannot read CSS variables). */
export const CATEGORY_HEX: Record<string, string> = {
  data: '#0d9488',
  model: '#6366f1',
  train: '#ea7a1b',
  compress: '#9b5de5',
  diffusion: '#db2777',
  evaluate: '#16a34a',
  export: '#64748b',
};

/** Colour of a port type (`dataset`, `model`, `diffusion-model`); unknown types are grey. */
export function portColor(type: string): string {
  return `var(--port-${type}, var(--muted))`;
}
