/**
 * What backend selection should report on this machine, worked out from what is installed here
 * rather than hard-coded: a machine with tfjs-node installed picks it, one without falls back to
 * wasm, and both are right.
 */
import { createRequire } from 'node:module';
import { expect } from 'vitest';

/** The backends `initBackend('auto')` tries, fastest first, and the package each needs. */
export const BACKEND_PREFERENCE = [
  { name: 'tensorflow-gpu', package: '@tensorflow/tfjs-node-gpu' },
  { name: 'tensorflow', package: '@tensorflow/tfjs-node' },
  { name: 'webgpu', package: '@tensorflow/tfjs-backend-webgpu' },
  { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm' },
  { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu' },
] as const;

/** The native backends, which are optional installs. */
export const NATIVE_BACKENDS = BACKEND_PREFERENCE.slice(0, 2);

const requireFromHere = createRequire(import.meta.url);

/** Whether `packageName` resolves from this package, as the worker resolves it. */
export function isInstalled(packageName: string): boolean {
  try {
    requireFromHere.resolve(packageName);
    return true;
  } catch {
    return false;
  }
}

/** A backend choice as a worker's `ready` or a run record reports it. */
export interface ReportedBackend {
  name: string;
  package: string;
  skipped: ReadonlyArray<{ name: string; reason: string }>;
}

/**
 * Checks an `auto` backend choice against this machine: it is one of the known backends, with its
 * package; the skipped ones are exactly the faster ones, in order, each with a reason (and a
 * package that is not installed says so); it never goes past wasm, which is a dependency.
 */
export function expectAutoBackendChoice(backend: ReportedBackend): void {
  const order: readonly string[] = BACKEND_PREFERENCE.map((candidate) => candidate.name);
  const chosen = order.indexOf(backend.name);
  expect(chosen, `unknown backend "${backend.name}"`).toBeGreaterThanOrEqual(0);
  expect(chosen, 'wasm is installed with the app and must load').toBeLessThanOrEqual(order.indexOf('wasm'));
  expect(backend.package).toBe(BACKEND_PREFERENCE[chosen]!.package);
  expect(backend.skipped.map((skipped) => skipped.name)).toEqual(order.slice(0, chosen));
  for (const [index, skipped] of backend.skipped.entries()) {
    const packageName = BACKEND_PREFERENCE[index]!.package;
    if (isInstalled(packageName)) expect(skipped.reason, skipped.name).toMatch(/\S/);
    else expect(skipped.reason, skipped.name).toBe(`${packageName} is not installed`);
  }
  for (const native of NATIVE_BACKENDS) {
    if (!isInstalled(native.package)) expect(backend.name).not.toBe(native.name);
  }
}
