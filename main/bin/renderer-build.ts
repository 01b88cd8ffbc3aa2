/**
 * The built renderer (out/renderer/, what `distillery serve` serves): whether it is older than its
 * sources, and building it. Shared by the launcher (main/bin/start.ts) and the browser tests.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The built page; written by every build, so its time is the build's. */
export function builtIndex(root: string): string {
  return join(root, 'out', 'renderer', 'index.html');
}

/** Files outside renderer/ that the renderer bundles. */
const SHARED_SOURCES = [
  'preload/contract.ts',
  'preload/graph-rules.ts',
  'preload/bridge.ts',
  'preload/units.ts',
];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(join(path, entry.name)));
  }
  return newest;
}

/** Newest modification time (ms) of anything the renderer is built from. */
export function rendererSourcesChangedAt(root: string): number {
  return Math.max(
    newestMtime(join(root, 'renderer')),
    ...SHARED_SOURCES.map((file) => newestMtime(join(root, file))),
  );
}

/** Modification time (ms) of the last build; null when there is none. */
export function rendererBuiltAt(root: string): number | null {
  const index = builtIndex(root);
  return existsSync(index) ? statSync(index).mtimeMs : null;
}

/** Builds the renderer into out/renderer with its own Vite config (warnings and errors only). */
export async function buildRenderer(root: string): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: join(root, 'renderer', 'vite.config.ts'), logLevel: 'warn' });
}
