/**
 * electron-vite (`npm start`, `npm run build`): the main process from main/electron/index.ts, the
 * preload bridge from preload/index.ts, and the renderer with the same config `npm run
 * build:renderer` uses for serve mode. Output: out/main/, out/preload/, out/renderer/.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'electron-vite';
import { rendererConfig } from './renderer/vite.config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  main: {
    build: {
      outDir: here('out/main'),
      // Native and optional modules (better-sqlite3, tfjs backends) load from node_modules at run time.
      externalizeDeps: true,
      // The worker is a second entry: the runner forks out/main/worker.js (see app/paths.ts).
      rollupOptions: {
        input: { index: here('main/electron/index.ts'), worker: here('main/worker/main.ts') },
      },
    },
  },
  // A sandboxed preload cannot load ES modules or npm packages: bundle everything but electron
  // into one CommonJS file.
  preload: {
    build: {
      outDir: here('out/preload'),
      externalizeDeps: false,
      rollupOptions: {
        input: { index: here('preload/index.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    ...rendererConfig,
    build: {
      ...rendererConfig.build,
      rollupOptions: { input: { index: here('renderer/index.html') } },
    },
  },
});
