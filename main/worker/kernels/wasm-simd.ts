/**
 * A few element-wise kernels as WebAssembly SIMD, assembled here and run on the tfjs-wasm heap.
 *
 * The tfjs kernels are each one pass over memory: an Adam step composed of them is fifteen passes
 * per variable, and a JavaScript loop fusing them runs scalar (measured: no faster than the
 * fifteen passes). This module assembles the fused loops as 4-lane SIMD functions that import
 * the tfjs module's own memory, so they read and write tensors in place by their heap offsets,
 * with no copy and no extra toolchain: the bytes are written below, instruction by instruction,
 * and validated by `WebAssembly.validate` before use.
 *
 * Every function computes in float32 with the same operations, in the same order, as the op-by-op
 * form it replaces; float32 +, −, ×, ÷ and √ are correctly rounded in SIMD lanes as they are in
 * tfjs' kernels, so results are bit for bit the same.
 */
import { F32, I32, unsignedLeb, utf8, vector } from './wasm-assembler';
import {
  columnSumFunction,
  maxPoolBackprop2x2Function,
  maxPoolBackpropFunction,
} from './wasm-gradient-functions';
import { adamFunction, lionFunction, momentumFunction } from './wasm-optimizer-functions';

/** The functions of the module, in export order, with their parameter counts (pointers, floats). */
const FUNCTIONS = {
  adam: { build: () => adamFunction('none'), arrays: 7, constants: 9 },
  adamCoupled: { build: () => adamFunction('coupled'), arrays: 7, constants: 9 },
  adamDecoupled: { build: () => adamFunction('decoupled'), arrays: 7, constants: 9 },
  lion: { build: () => lionFunction(false), arrays: 5, constants: 6 },
  lionDecayed: { build: () => lionFunction(true), arrays: 5, constants: 6 },
  momentum: { build: () => momentumFunction(false), arrays: 5, constants: 3 },
  momentumCoupled: { build: () => momentumFunction(true), arrays: 5, constants: 3 },
  columnSum: { build: columnSumFunction, arrays: 4, constants: 0 },
  maxPoolBackprop: { build: maxPoolBackpropFunction, arrays: 12, constants: 0 },
  maxPoolBackprop2x2: { build: maxPoolBackprop2x2Function, arrays: 8, constants: 0 },
} as const;

/** The name of one of the module's functions. */
export type SimdFunctionName = keyof typeof FUNCTIONS;

/** Pointers (heap byte offsets) and the element count, then the float constants. */
export type SimdFunction = (...args: number[]) => void;

/** The module's bytes, importing `env.memory` (shared for the threaded tfjs build). */
export function assembleSimdModule(sharedMemory: boolean): Uint8Array {
  const names = Object.keys(FUNCTIONS) as SimdFunctionName[];
  const types = names.map((name) => {
    const { arrays, constants } = FUNCTIONS[name];
    const params = [...Array<number>(arrays + 1).fill(I32), ...Array<number>(constants).fill(F32)];
    return [0x60, ...vector(params.map((type) => [type])), 0];
  });
  // Shared memories must declare a maximum: 65536 pages (4 GiB), the most wasm32 allows.
  const limits = sharedMemory ? [0x03, ...unsignedLeb(1), ...unsignedLeb(65536)] : [0x00, ...unsignedLeb(1)];
  const section = (id: number, content: number[]): number[] => [
    id,
    ...unsignedLeb(content.length),
    ...content,
  ];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(2, vector([[...utf8('env'), ...utf8('memory'), 0x02, ...limits]])),
    ...section(3, vector(names.map((_, index) => unsignedLeb(index)))),
    ...section(7, vector(names.map((name, index) => [...utf8(name), 0x00, ...unsignedLeb(index)]))),
    ...section(10, vector(names.map((name) => FUNCTIONS[name].build()))),
  ];
  return Uint8Array.from(bytes);
}

/** A WebAssembly.Memory, as far as this module uses one. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

/** The part of the WebAssembly JavaScript API used here; the node typings (no DOM lib) lack it. */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: object };
  Memory: abstract new (...args: never[]) => WasmMemory;
}

const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** Whether this engine accepts `bytes` as a module (it has wasm SIMD, for this module's). */
export function validateWasm(bytes: Uint8Array): boolean {
  return webAssembly.validate(bytes);
}

const instances = new WeakMap<WasmMemory, Record<SimdFunctionName, SimdFunction> | null>();

/**
 * The SIMD functions bound to `memory` (the tfjs-wasm heap), or null where this engine has no
 * wasm SIMD; the module is assembled once per memory.
 */
export function simdFunctions(memory: WasmMemory): Record<SimdFunctionName, SimdFunction> | null {
  const cached = instances.get(memory);
  if (cached !== undefined) return cached;
  const bytes = assembleSimdModule(memory.buffer instanceof SharedArrayBuffer);
  let functions: Record<SimdFunctionName, SimdFunction> | null = null;
  if (validateWasm(bytes)) {
    const instance = new webAssembly.Instance(new webAssembly.Module(bytes), { env: { memory } });
    functions = instance.exports as Record<SimdFunctionName, SimdFunction>;
  }
  instances.set(memory, functions);
  return functions;
}

interface EmscriptenModule {
  wasmMemory?: unknown;
  asm?: { memory?: unknown };
}

/** The tfjs-wasm backend's heap: exported by the single-threaded build, imported by the threaded one. */
export function wasmHeapMemory(backend: object): WasmMemory | undefined {
  const module = (backend as { wasm?: EmscriptenModule }).wasm;
  const memory = module?.wasmMemory ?? module?.asm?.memory;
  return memory instanceof webAssembly.Memory ? memory : undefined;
}
