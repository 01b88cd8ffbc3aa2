/**
 * File permissions only bind a process that is not root, and test machines often run as root. A
 * test of "this folder is read-only" therefore runs its subprocess as an unprivileged user when the
 * test itself is root (`nobody`, uid 65534), after handing that user the files the test made, so
 * that the mode bits the test sets are the ones that apply.
 */
import { chownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const NOBODY = 65534;

/** The uid/gid to run subprocesses as, so that permissions apply; undefined when not root. */
export function unprivilegedUser(): { uid: number; gid: number } | undefined {
  return process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : undefined;
}

/** Gives everything at and below `path` to the unprivileged user (nothing to do when not root). */
export function handOver(path: string): void {
  const user = unprivilegedUser();
  if (!user) return;
  chownSync(path, user.uid, user.gid);
  if (lstatSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) handOver(join(path, entry));
  }
}
