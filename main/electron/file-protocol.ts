/**
 * `distillery-file://files?path=<absolute path>`: lets the page show files that tasks wrote (sample
 * grids), the desktop counterpart of serve mode's `/files`. Only files inside the given roots.
 */
import { net, protocol } from 'electron';
import { resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

export const FILE_SCHEME = 'distillery-file';

export function registerFileProtocol(roots: string[]): void {
  const allowed = roots.map((root) => resolve(root) + sep);
  protocol.handle(FILE_SCHEME, (request) => {
    const path = resolve(new URL(request.url).searchParams.get('path') ?? '');
    if (!allowed.some((root) => path.startsWith(root))) return new Response('Not found', { status: 404 });
    return net.fetch(pathToFileURL(path).href);
  });
}
