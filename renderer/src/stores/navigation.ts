/** Hash routes (`#/runs/<id>`), so reloads and the back button work in the browser and Electron. */
import { defineStore } from 'pinia';
import { ref } from 'vue';

export type Route =
  | { name: 'editor' }
  | { name: 'runs' }
  | { name: 'run'; runId: string }
  | { name: 'compare'; runIds: string[] }
  | { name: 'sweeps' }
  | { name: 'sweep'; sweepId: string }
  | { name: 'registry' }
  | { name: 'registered'; modelName: string }
  | { name: 'model'; ref: string };

export function parseHash(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case 'runs':
      return parts[1] ? { name: 'run', runId: parts[1] } : { name: 'runs' };
    case 'sweeps':
      return parts[1] ? { name: 'sweep', sweepId: parts[1] } : { name: 'sweeps' };
    case 'compare':
      return {
        name: 'compare',
        runIds: new URLSearchParams(query).get('runs')?.split(',').filter(Boolean) ?? [],
      };
    case 'registry':
      return parts[1] ? { name: 'registered', modelName: parts[1] } : { name: 'registry' };
    case 'models':
      return parts[1] ? { name: 'model', ref: parts[1] } : { name: 'registry' };
    default:
      return { name: 'editor' };
  }
}

export function formatHash(route: Route): string {
  switch (route.name) {
    case 'editor':
      return '#/editor';
    case 'runs':
      return '#/runs';
    case 'run':
      return `#/runs/${encodeURIComponent(route.runId)}`;
    case 'compare':
      return `#/compare?runs=${route.runIds.map(encodeURIComponent).join(',')}`;
    case 'sweeps':
      return '#/sweeps';
    case 'sweep':
      return `#/sweeps/${encodeURIComponent(route.sweepId)}`;
    case 'registry':
      return '#/registry';
    case 'registered':
      return `#/registry/${encodeURIComponent(route.modelName)}`;
    case 'model':
      return `#/models/${encodeURIComponent(route.ref)}`;
  }
}

export const useNavigationStore = defineStore('navigation', () => {
  const hasWindow = typeof window !== 'undefined';
  const route = ref<Route>(hasWindow ? parseHash(window.location.hash) : { name: 'editor' });

  if (hasWindow) window.addEventListener('hashchange', () => (route.value = parseHash(window.location.hash)));

  function go(next: Route): void {
    route.value = next;
    if (hasWindow && window.location.hash !== formatHash(next)) window.location.hash = formatHash(next);
  }

  return { route, go };
});
