/**
 * Picks the tfjs backend the worker trains on: tfjs-node-gpu → tfjs-node → webgpu → wasm → cpu, or
 * the one the user forced, and reports what it got and why it skipped the faster ones
 * (ARCHITECTURE.md, "Backends"; ENGINE-NOTES.md for what each one is worth on a given machine).
 */
import * as tf from '@tensorflow/tfjs';
import type * as TfjsBackendWasm from '@tensorflow/tfjs-backend-wasm';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DistilleryError } from '../base/errors';
import { installWasmKernelFixes } from './kernels/index';
import {
  MAX_WASM_THREADS,
  prepareWasmThreads,
  WASM_THREADS_ENV_VAR,
  wasmThreadsFromEnv,
} from './kernels/wasm-threads';
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
  { name: 'webgpu', package: '@tensorflow/tfjs-backend-webgpu', activate: activateWebgpu },
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

/** What the adapter probe prints: the adapter's description, or null when there is none. */
interface AdapterProbe {
  adapter: { vendor: string; architecture: string; device: string; description: string } | null;
}

/**
 * Asks Dawn for an adapter in a child process. Without a usable GPU, Dawn's native code writes its
 * driver search (e.g. "Couldn't load Vulkan") to stderr, which no JavaScript can silence in this
 * process; the child keeps that out of the user's terminal, and a driver that crashes takes the
 * child down rather than the worker. The first stderr line becomes the reason when there is no
 * adapter.
 */
function probeWebgpuAdapter(dawnEntry: string): Promise<AdapterProbe['adapter']> {
  const script = `
    const { create, globals } = await import(${JSON.stringify(pathToFileURL(dawnEntry).href)});
    Object.assign(globalThis, globals);
    const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
    const info = adapter?.info ?? {};
    const pick = (key) => (typeof info[key] === 'string' ? info[key] : '');
    process.stdout.write(JSON.stringify({ adapter: adapter ? {
      vendor: pick('vendor'), architecture: pick('architecture'), device: pick('device'),
      description: pick('description'),
    } : null }));
    process.exit(0);
  `;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 30_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const firstLine = stderr
          .split('\n')
          .find((line) => line.trim() !== '')
          ?.trim();
        if (error) {
          reject(
            new BackendLoadError(
              `webgpu adapter probe failed: ${firstLine ?? error.message.split('\n')[0] ?? 'no output'}`,
            ),
          );
          return;
        }
        try {
          resolve((JSON.parse(stdout) as AdapterProbe).adapter);
        } catch {
          reject(new BackendLoadError(`webgpu adapter probe printed no answer: ${firstLine ?? stdout}`));
        }
      },
    );
  });
}

interface Dawn {
  create(options: string[]): object;
  globals: Record<string, unknown>;
}

/** Gives tfjs-backend-webgpu the browser globals it looks for: `navigator.gpu` and the GPU enums. */
function installWebgpuGlobals(dawn: Dawn): void {
  const scope = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(dawn.globals)) if (!(name in scope)) scope[name] = value;
  const existing = scope.navigator as Record<string, unknown> | undefined;
  if (existing?.gpu !== undefined) return;
  const gpu = dawn.create([]);
  if (existing !== undefined && Object.isExtensible(existing)) {
    Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true });
    return;
  }
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(existing ?? {}), gpu },
    configurable: true,
    writable: true,
  });
}

async function activateWebgpu(): Promise<BackendInfo['features']> {
  const packageName = '@tensorflow/tfjs-backend-webgpu';
  resolvePackage(packageName);
  const adapter = await probeWebgpuAdapter(resolvePackage('webgpu'));
  if (adapter === null) {
    throw new BackendLoadError('no WebGPU adapter on this machine (requestAdapter() returned null)');
  }
  installWebgpuGlobals((await importPackage('webgpu')) as Dawn);
  // Registers the 'webgpu' backend, which it does only when navigator.gpu exists at import time.
  await importPackage(packageName);
  await activate('webgpu', packageName);
  const description = [adapter.vendor, adapter.architecture, adapter.device, adapter.description]
    .filter((part) => part !== '')
    .join(' ');
  return { gpu: true, adapter: description || 'unnamed adapter', kernelFixes: false };
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
  const requested = wasmThreadsFromEnv();
  let threadsError: string | undefined;
  const restore = prepareWasmThreads(wasm, requested);
  try {
    await activate('wasm', packageName);
  } catch (error) {
    if (requested === 1) throw error;
    // The threaded build did not start (no SharedArrayBuffer, workers refused, …): one thread
    // still trains, and the features say why it is one.
    threadsError = reasonOf(error);
    restore();
    prepareWasmThreads(wasm, 1);
    await activate('wasm', packageName);
  } finally {
    restore();
  }
  installWasmKernelFixes();
  const threadsCount = wasm.getThreadsCount();
  return {
    simd: (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true,
    threads: threadsCount > 1,
    threadsCount,
    ...(threadsError === undefined ? {} : { threadsError }),
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
 * Activates a tfjs backend. 'auto' takes the first of tfjs-node-gpu, tfjs-node, webgpu, wasm, cpu that
 * loads and lists the others it tried in `skipped`; a named backend that cannot be loaded throws
 * BACKEND_UNAVAILABLE and leaves the active backend as it was.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  const skipped: BackendInfo['skipped'] = [];
  const candidates = choice === 'auto' ? CANDIDATES : CANDIDATES.filter((c) => c.name === choice);
  if (candidates.length === 0) throw invalidChoice(choice, 'initBackend');
  // A mistyped thread count is the user's error to see, not a reason to fall back to cpu.
  if (candidates.some((candidate) => candidate.name === 'wasm')) checkWasmThreadsEnv();
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

function checkWasmThreadsEnv(): void {
  try {
    wasmThreadsFromEnv();
  } catch (error) {
    throw new DistilleryError(
      'BACKEND_UNAVAILABLE',
      (error as Error).message,
      {
        param: WASM_THREADS_ENV_VAR,
        expected: `an integer from 1 to ${MAX_WASM_THREADS}`,
        received: process.env[WASM_THREADS_ENV_VAR],
      },
      { cause: error },
    );
  }
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
