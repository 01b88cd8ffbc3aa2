/** The product's name and version as exported files record them (`generatedBy`, ONNX producer). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedVersion: string | undefined;

/**
 * The product version from the package.json named `distillery`, found by walking up from this
 * file: works from the sources (tsx, vitest) and from a bundle placed anywhere below the app root.
 */
export function productVersion(): string {
  if (cachedVersion) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  const root = parse(dir).root;
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'distillery' && typeof pkg.version === 'string') {
          cachedVersion = pkg.version;
          return pkg.version;
        }
      } catch {
        // Not ours or unreadable: keep walking up.
      }
    }
    if (dir === root) break;
    dir = dirname(dir);
  }
  cachedVersion = '0.0.0-unknown';
  return cachedVersion;
}

/** What exported files name as their producer, e.g. `Distillery 0.1.0`. */
export function producerName(): string {
  return `Distillery ${productVersion()}`;
}
