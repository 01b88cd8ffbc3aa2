/**
 * Picks the tfjs backend the worker trains on: tfjs-node-gpu → tfjs-node → wasm → cpu, or the one
 * the user forced, and reports what it got and why it skipped the faster ones (ARCHITECTURE.md,
 * "Backends"; ENGINE-NOTES.md for what each one is worth on a given machine).
 */
import * as tf from '@tensorflow/tfjs';
import type * as TfjsBackendWasm from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { DistilleryError } from '../base/errors';
import { installWasmKernelFixes } from './kernels/index';
import type { BackendInfo, BackendName } from './protocol';

/** What the user asks for: a backend by name, or the fastest one that loads. */
export type BackendChoice = 'auto' | BackendName;

/** Environment variable a user (or the runner) sets to force a backend. */
export const BACKEND_ENV_VAR = 'DISTILLERY_BACKEND';

const requireFromHere = createRequire(import.meta.url);

interface Candidate {
  name: BackendName;
  /** npm package that provides it. */
  package: string;
  /** Loads and activates the backend; resolves to its features or throws why it cannot. */
  activate(): Promise<BackendInfo['features']>;
}

/** Preference order for 'auto'. */
const CANDIDATES: readonly Candidate[] = [
  {
    name: 'tensorflow-gpu',
    package: '@tensorflow/tfjs-node-gpu',
    activate: () => activateTensorflow('@tensorflow/tfjs-node-gpu', true),
  },
  {
    name: 'tensorflow',
    package: '@tensorflow/tfjs-node',
    activate: () => activateTensorflow('@tensorflow/tfjs-node', false),
  },
  { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', activate: activateWasm },
  { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', activate: activateCpu },
];

const BACKEND_NAMES: readonly BackendName[] = CANDIDATES.map((candidate) => candidate.name);

/** A backend that could not be loaded, with the sentence that says why. */
class BackendLoadError extends Error {}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND';
}

/** The package's entry file, or a BackendLoadError saying it is not installed. */
function resolvePackage(packageName: string): string {
  try {
    return requireFromHere.resolve(packageName);
  } catch (error) {
    if (isModuleNotFound(error)) throw new BackendLoadError(`${packageName} is not installed`);
    throw error;
  }
}

async function importPackage(packageName: string): Promise<unknown> {
  resolvePackage(packageName);
  try {
    return (await import(packageName)) as unknown;
  } catch (error) {
    // Installed but unloadable: typically libtensorflow missing or the wrong CUDA/cuDNN.
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new BackendLoadError(`${packageName} is installed but failed to load: ${message}`);
  }
}

async function activate(tfjsBackend: string, packageName: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(tfjsBackend);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new BackendLoadError(`${packageName} loaded but backend '${tfjsBackend}' failed: ${message}`);
  }
  if (!ok)
    throw new BackendLoadError(`${packageName} loaded but backend '${tfjsBackend}' failed to initialise`);
  await tf.ready();
}

async function activateTensorflow(packageName: string, gpu: boolean): Promise<BackendInfo['features']> {
  // Importing tfjs-node(-gpu) registers the 'tensorflow' backend with the shared tfjs engine.
  await importPackage(packageName);
  await activate('tensorflow', packageName);
  return { gpu, kernelFixes: false };
}

/** setWasmPaths throws once the wasm backend has initialised; set them only once. */
let wasmPathsSet = false;

async function activateWasm(): Promise<BackendInfo['features']> {
  const packageName = '@tensorflow/tfjs-backend-wasm';
  const wasm = (await importPackage(packageName)) as typeof TfjsBackendWasm;
  if (!wasmPathsSet) {
    // The .wasm binaries sit beside the package's entry file in dist/; name that folder
    // explicitly so they are found wherever node_modules is (asar-unpacked, test runners).
    wasm.setWasmPaths(path.dirname(resolvePackage(packageName)) + path.sep);
    wasmPathsSet = true;
  }
  await activate('wasm', packageName);
  installWasmKernelFixes();
  return {
    simd: (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true,
    // tfjs-backend-wasm hard-codes multithreading off under Node.
    threads: (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true,
    threadsCount: wasm.getThreadsCount(),
    kernelFixes: true,
  };
}

async function activateCpu(): Promise<BackendInfo['features']> {
  await activate('cpu', '@tensorflow/tfjs-backend-cpu');
  return { kernelFixes: false };
}

function reasonOf(error: unknown): string {
  if (error instanceof BackendLoadError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Activates a tfjs backend. 'auto' takes the first of tfjs-node-gpu, tfjs-node, wasm, cpu that
 * loads and lists the others it tried in `skipped`; a named backend that cannot be loaded throws
 * BACKEND_UNAVAILABLE and leaves the active backend as it was.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  const skipped: BackendInfo['skipped'] = [];
  const candidates = choice === 'auto' ? CANDIDATES : CANDIDATES.filter((c) => c.name === choice);
  if (candidates.length === 0) throw invalidChoice(choice, 'initBackend');
  const previous = tf.engine().backendName as string | null;
  for (const candidate of candidates) {
    try {
      const features = await candidate.activate();
      return { name: candidate.name, package: candidate.package, skipped, features };
    } catch (error) {
      if (choice !== 'auto') {
        // A failed setBackend leaves the engine pointing at a backend that did not start.
        if (previous && tf.getBackend() !== previous) await tf.setBackend(previous);
        throw new DistilleryError(
          'BACKEND_UNAVAILABLE',
          `Backend "${choice}" is not available: ${reasonOf(error)}`,
          { expected: `${choice} (${candidate.package})`, received: reasonOf(error) },
          { cause: error },
        );
      }
      skipped.push({ name: candidate.name, reason: reasonOf(error) });
    }
  }
  throw new DistilleryError(
    'BACKEND_UNAVAILABLE',
    `No tfjs backend could be loaded: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`,
    { expected: BACKEND_NAMES.join(' | '), received: skipped },
  );
}

function invalidChoice(received: unknown, param: string): DistilleryError {
  const expected = ['auto', ...BACKEND_NAMES].join(', ');
  return new DistilleryError(
    'BACKEND_UNAVAILABLE',
    `${param} must be one of ${expected}, got ${JSON.stringify(received)}`,
    { param, expected: `one of ${expected}`, received },
  );
}

/**
 * Reads the backend the user forced through DISTILLERY_BACKEND ('auto' when unset or empty).
 * Throws BACKEND_UNAVAILABLE for a value that names no backend.
 */
export function backendChoiceFromEnv(env: NodeJS.ProcessEnv = process.env): BackendChoice {
  const raw = env[BACKEND_ENV_VAR]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return 'auto';
  if (raw === 'auto') return 'auto';
  const name = BACKEND_NAMES.find((candidate) => candidate === raw);
  if (name === undefined) throw invalidChoice(env[BACKEND_ENV_VAR], BACKEND_ENV_VAR);
  return name;
}

function installedVersion(packageName: string): string | undefined {
  try {
    const manifest = requireFromHere(`${packageName}/package.json`) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Versions recorded with every run: tfjs itself, its core, and each installed backend package
 * (the active backend's among them).
 */
export function tfjsVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const [name, version] of Object.entries(tf.version)) {
    versions[`@tensorflow/${name}`] = version;
  }
  for (const candidate of CANDIDATES) {
    const version = versions[candidate.package] ?? installedVersion(candidate.package);
    if (version !== undefined) versions[candidate.package] = version;
  }
  return versions;
}
