/**
 * Vite config of the renderer, shared by `npm run build:renderer` (serve mode reads out/renderer/)
 * and by electron.vite.config.ts for the Electron window.
 */
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig, type UserConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export const rendererConfig: UserConfig = {
  root,
  base: './',
  plugins: [vue()],
  build: {
    outDir: fileURLToPath(new URL('../out/renderer', import.meta.url)),
    emptyOutDir: true,
    // electron-vite leaves renderer output unminified unless asked.
    minify: 'esbuild',
    chunkSizeWarningLimit: 1500,
  },
};

export default defineConfig(rendererConfig);
