/**
 * Files the server sends: the built renderer from its static folder (any other path is a route
 * of the single-page app) and files under the run folders, each compared as real paths so that a
 * symlink pointing outside its root serves nothing.
 */
import { constants as fsConstants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { extname, join, normalize, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};
/** The page may load its own scripts, styles, images and connect back to this server only. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

function within(root: string, path: string): boolean {
  const base = resolve(root) + sep;
  return (resolve(path) + sep).startsWith(base) || resolve(path) === resolve(root);
}

/** The real path (symlinks resolved), or undefined when there is none (missing, unreadable). */
async function realPathOf(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch {
    return undefined;
  }
}

/**
 * A file under one of the file roots. Compared as real paths: a symlink inside a run folder
 * that points outside it (to a file, or to a folder above) serves nothing.
 */
export async function serveFile(
  res: ServerResponse,
  path: string,
  fileRoots: readonly string[],
): Promise<void> {
  const real = path ? await realPathOf(path) : undefined;
  const roots = await Promise.all(fileRoots.map((root) => realPathOf(root)));
  if (!real || !roots.some((root) => root !== undefined && within(root, real))) {
    res.writeHead(404).end();
    return;
  }
  await sendFile(res, real, CONTENT_TYPES[extname(real)] ?? 'application/octet-stream', {
    'cache-control': 'no-store',
  });
}

/** A file of the built renderer in `staticDir`, or its index.html for any other path. */
export async function serveStatic(res: ServerResponse, pathname: string, staticDir: string): Promise<void> {
  const root = await realPathOf(staticDir);
  if (!root) {
    notBuilt(res);
    return;
  }
  const requested = normalize(join(root, pathname));
  let file = within(root, requested) ? await realPathOf(requested) : requested;
  if (file !== undefined && !within(root, file)) {
    res.writeHead(404).end();
    return;
  }
  // Anything that is not a file is a route of the single-page app.
  if (file === undefined || !(await sendable(file))) file = await realPathOf(join(root, 'index.html'));
  if (file === undefined || !within(root, file)) {
    notBuilt(res);
    return;
  }
  const headers: Record<string, string> = {};
  if (file.endsWith('.html')) {
    headers['content-security-policy'] = CSP;
    headers['cache-control'] = 'no-store';
  }
  await sendFile(res, file, CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', headers);
}

function notBuilt(res: ServerResponse): void {
  res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(
    'Distillery: the workbench is not built. Run "npm run build:renderer", then reload. The API at /api/ works.\n',
  );
}

async function sendable(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/**
 * Streams a regular file opened without following a final symlink, so one swapped in after
 * the real-path check is not followed; a file that cannot be opened is a 404, never a crash.
 */
async function sendFile(
  res: ServerResponse,
  path: string,
  contentType: string,
  headers: Record<string, string>,
): Promise<void> {
  let handle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch {
    res.writeHead(404).end();
    return;
  }
  const stat = await handle.stat().catch(() => undefined);
  if (!stat?.isFile()) {
    await handle.close();
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': contentType, 'content-length': String(stat.size), ...headers });
  // Either side failing (a read error, the client gone) closes both, and the file with them.
  pipeline(handle.createReadStream(), res, () => undefined);
}
