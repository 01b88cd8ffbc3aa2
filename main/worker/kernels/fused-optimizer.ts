/**
 * One kernel per optimiser update. Written with tfjs ops, an Adam step is about fifteen kernels per
 * variable, each a pass over the variable's memory and a new tensor; on small layers the
 * per-kernel cost dominates the step. These kernels read θ, g and the slots once and write θ' and
 * the new slots in the same pass.
 *
 * Every intermediate is rounded to float32 (`Math.fround`) in the order the op-by-op form
 * computes it (main/worker/train/optimizers.ts), and float32 +, −, ×, ÷ and √ are correctly
 * rounded on every backend, so the fused update gives the same bits as the ops it replaces:
 * switching between them does not change a run.
 *
 * Registered for the backends whose tensors live in memory that JavaScript can address: `wasm`
 * (its heap: the loops run as SIMD functions from kernels/wasm-simd.ts, or in JavaScript where
 * the engine has no wasm SIMD) and `cpu` (typed arrays, JavaScript loops). Elsewhere the
 * optimisers keep the op-by-op form.
 */
import * as tf from '@tensorflow/tfjs';
import { simdFunctions, wasmHeapMemory, type SimdFunction, type SimdFunctionName } from './wasm-simd';

/** Kernel names, declared once for the optimisers and the kernels. */
export const FUSED_KERNELS = {
  adam: 'DistilleryAdamUpdate',
  lion: 'DistilleryLionUpdate',
  momentum: 'DistilleryMomentumUpdate',
} as const;

/** Backends that these kernels are registered for. */
export const FUSED_BACKENDS = ['wasm', 'cpu'] as const;

/** Attributes of the Adam / AdamW update (`t` is the 1-based step). */
export interface AdamAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** AdamW (decay applied to θ) rather than Adam with coupled L2 (decay added to g). */
  decoupled: boolean;
  learningRate: number;
  t: number;
}

/** Attributes of the Lion update. */
export interface LionAttrs {
  beta1: number;
  beta2: number;
  weightDecay: number;
  learningRate: number;
}

/** Attributes of the heavy-ball update. */
export interface MomentumAttrs {
  momentum: number;
  weightDecay: number;
  learningRate: number;
}

const f32 = Math.fround;

type Arrays = Float32Array[];

/** θ', m', v' from θ, g, m, v: the op sequence of Adam.update, element by element. */
function adamLoop([theta, grad, m, v]: Arrays, [thetaOut, mOut, vOut]: Arrays, attrs: AdamAttrs): void {
  const beta1 = f32(attrs.beta1);
  const oneMinusBeta1 = f32(1 - attrs.beta1);
  const beta2 = f32(attrs.beta2);
  const oneMinusBeta2 = f32(1 - attrs.beta2);
  const correction1 = f32(1 - Math.pow(attrs.beta1, attrs.t));
  const correction2 = f32(1 - Math.pow(attrs.beta2, attrs.t));
  const epsilon = f32(attrs.epsilon);
  const learningRate = f32(attrs.learningRate);
  const decay = f32(attrs.weightDecay);
  const coupled = !attrs.decoupled && attrs.weightDecay > 0;
  const decoupled = attrs.decoupled && attrs.weightDecay > 0;
  const n = theta!.length;
  for (let i = 0; i < n; i++) {
    const th = theta![i]!;
    const g = coupled ? f32(grad![i]! + f32(th * decay)) : grad![i]!;
    const m1 = f32(f32(m![i]! * beta1) + f32(g * oneMinusBeta1));
    const v1 = f32(f32(v![i]! * beta2) + f32(f32(g * g) * oneMinusBeta2));
    const mHat = f32(m1 / correction1);
    const vHat = f32(v1 / correction2);
    let step = f32(mHat / f32(f32(Math.sqrt(vHat)) + epsilon));
    if (decoupled) step = f32(step + f32(th * decay));
    thetaOut![i] = th - f32(step * learningRate);
    mOut![i] = m1;
    vOut![i] = v1;
  }
}

/** tfjs' Sign: −1, 0 or 1, and 0 for NaN. */
function sign(value: number): number {
  return value > 0 ? 1 : value < 0 ? -1 : 0;
}

/** θ', m' from θ, g, m: the op sequence of Lion.update. */
function lionLoop([theta, grad, m]: Arrays, [thetaOut, mOut]: Arrays, attrs: LionAttrs): void {
  const beta1 = f32(attrs.beta1);
  const oneMinusBeta1 = f32(1 - attrs.beta1);
  const beta2 = f32(attrs.beta2);
  const oneMinusBeta2 = f32(1 - attrs.beta2);
  const learningRate = f32(attrs.learningRate);
  const decay = f32(attrs.weightDecay);
  const decayed = attrs.weightDecay > 0;
  const n = theta!.length;
  for (let i = 0; i < n; i++) {
    const th = theta![i]!;
    const g = grad![i]!;
    const mi = m![i]!;
    let step = sign(f32(f32(mi * beta1) + f32(g * oneMinusBeta1)));
    if (decayed) step = f32(step + f32(th * decay));
    thetaOut![i] = th - f32(step * learningRate);
    mOut![i] = f32(mi * beta2) + f32(g * oneMinusBeta2);
  }
}

/** θ', v' from θ, g, v: the op sequence of Momentum.update. */
function momentumLoop([theta, grad, velocity]: Arrays, [thetaOut, vOut]: Arrays, attrs: MomentumAttrs): void {
  const momentum = f32(attrs.momentum);
  const learningRate = f32(attrs.learningRate);
  const decay = f32(attrs.weightDecay);
  const coupled = attrs.weightDecay > 0;
  const n = theta!.length;
  for (let i = 0; i < n; i++) {
    const th = theta![i]!;
    const g = coupled ? f32(grad![i]! + f32(th * decay)) : grad![i]!;
    const v1 = f32(f32(velocity![i]! * momentum) + g);
    thetaOut![i] = th - f32(v1 * learningRate);
    vOut![i] = v1;
  }
}

/** The SIMD function and its float constants for one update, as wasm-simd.ts declares them. */
interface SimdCall {
  name: SimdFunctionName;
  constants: number[];
}

function adamSimd(attrs: AdamAttrs): SimdCall {
  const decayed = attrs.weightDecay > 0;
  return {
    name: !decayed ? 'adam' : attrs.decoupled ? 'adamDecoupled' : 'adamCoupled',
    constants: [
      attrs.beta1,
      1 - attrs.beta1,
      attrs.beta2,
      1 - attrs.beta2,
      1 - Math.pow(attrs.beta1, attrs.t),
      1 - Math.pow(attrs.beta2, attrs.t),
      attrs.epsilon,
      attrs.learningRate,
      attrs.weightDecay,
    ],
  };
}

function lionSimd(attrs: LionAttrs): SimdCall {
  return {
    name: attrs.weightDecay > 0 ? 'lionDecayed' : 'lion',
    constants: [
      attrs.beta1,
      1 - attrs.beta1,
      attrs.beta2,
      1 - attrs.beta2,
      attrs.learningRate,
      attrs.weightDecay,
    ],
  };
}

function momentumSimd(attrs: MomentumAttrs): SimdCall {
  return {
    name: attrs.weightDecay > 0 ? 'momentumCoupled' : 'momentum',
    constants: [attrs.momentum, attrs.learningRate, attrs.weightDecay],
  };
}

/** The slice of a backend that the kernels use; each backend reaches its memory differently. */
interface MemoryAccess {
  /** Allocates an output like `like`. */
  output(like: tf.TensorInfo): tf.TensorInfo;
  /** The values of a tensor, as a live view where the backend allows it. */
  values(info: tf.TensorInfo): Float32Array;
  /** Hands over values computed into a scratch array (backends without live views). */
  commit(info: tf.TensorInfo, values: Float32Array): tf.TensorInfo;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  getMemoryOffset(dataId: tf.DataId): number;
}

/** The SIMD functions on this wasm backend's heap, or null without wasm SIMD. */
function simdOf(backend: object): Record<SimdFunctionName, SimdFunction> | null {
  const memory = wasmHeapMemory(backend);
  return memory === undefined ? null : simdFunctions(memory);
}

interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

function memoryAccess(backendName: string, backend: object): MemoryAccess {
  if (backendName === 'wasm') {
    const wasm = backend as WasmBackendLike;
    return {
      output: (like) => wasm.makeOutput([...like.shape], 'float32'),
      values: (info) => wasm.typedArrayFromHeap(info),
      commit: (info) => info,
    };
  }
  const cpu = backend as CpuBackendLike;
  const pending = new Map<tf.TensorInfo, Float32Array>();
  return {
    output: (like) => {
      const info = { dataId: {}, shape: [...like.shape], dtype: 'float32' as const };
      pending.set(info, new Float32Array(tf.util.sizeFromShape(like.shape)));
      return info;
    },
    values: (info) => pending.get(info) ?? cpu.data.get(info.dataId).values,
    commit: (info, values) => cpu.makeTensorInfo([...info.shape], 'float32', values),
  };
}

function floatInput(inputs: tf.NamedTensorInfoMap, name: string, shape: readonly number[]): tf.TensorInfo {
  const info = inputs[name];
  if (info === undefined) throw new Error(`Fused optimizer update: input '${name}' is missing`);
  if (info.dtype !== 'float32') {
    throw new Error(`Fused optimizer update: input '${name}' must be float32, got ${info.dtype}`);
  }
  if (!tf.util.arraysEqual([...info.shape], [...shape])) {
    throw new Error(
      `Fused optimizer update: input '${name}' has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}]`,
    );
  }
  return info;
}

/**
 * A kernel that reads `inputNames` (the variable first), allocates one output per `outputCount`
 * shaped like the variable, and runs the update: as SIMD on the wasm heap where it can, else
 * `loop` over the values.
 */
function fusedKernel<Attrs>(
  backendName: string,
  inputNames: readonly string[],
  outputCount: number,
  loop: (inputs: Arrays, outputs: Arrays, attrs: Attrs) => void,
  simd: (attrs: Attrs) => SimdCall,
): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const variable = inputs[inputNames[0]!];
    if (variable === undefined)
      throw new Error(`Fused optimizer update: input '${inputNames[0]}' is missing`);
    const infos = inputNames.map((name) => floatInput(inputs, name, variable.shape));
    const typed = attrs as unknown as Attrs;
    const functions = backendName === 'wasm' ? simdOf(backend) : null;
    if (functions !== null) {
      const wasm = backend as unknown as WasmBackendLike;
      const outputs = Array.from({ length: outputCount }, () =>
        wasm.makeOutput([...variable.shape], 'float32'),
      );
      const call = simd(typed);
      const pointers = [...infos, ...outputs].map((info) => wasm.getMemoryOffset(info.dataId));
      functions[call.name](...pointers, tf.util.sizeFromShape(variable.shape), ...call.constants);
      return outputs;
    }
    const memory = memoryAccess(backendName, backend);
    // Allocate first: a wasm allocation may grow the heap, which detaches earlier views.
    const outputs = Array.from({ length: outputCount }, () => memory.output(variable));
    const outputValues = outputs.map((info) => memory.values(info));
    loop(
      infos.map((info) => memory.values(info)),
      outputValues,
      typed,
    );
    return outputs.map((info, index) => memory.commit(info, outputValues[index]!));
  };
}

const KERNELS = [
  {
    name: FUSED_KERNELS.adam,
    inputs: ['variable', 'grad', 'm', 'v'],
    outputs: 3,
    loop: adamLoop,
    simd: adamSimd,
  },
  { name: FUSED_KERNELS.lion, inputs: ['variable', 'grad', 'm'], outputs: 2, loop: lionLoop, simd: lionSimd },
  {
    name: FUSED_KERNELS.momentum,
    inputs: ['variable', 'grad', 'velocity'],
    outputs: 2,
    loop: momentumLoop,
    simd: momentumSimd,
  },
] as const;

/** Registers the fused updates for every backend in FUSED_BACKENDS; idempotent. */
export function installFusedOptimizerKernels(): string[] {
  const installed: string[] = [];
  for (const backendName of FUSED_BACKENDS) {
    for (const kernel of KERNELS) {
      // getKernel is typed as always returning a config, but answers undefined for unknown kernels.
      if ((tf.getKernel(kernel.name, backendName) as tf.KernelConfig | undefined) !== undefined) continue;
      tf.registerKernel({
        kernelName: kernel.name,
        backendName,
        kernelFunc: fusedKernel(
          backendName,
          kernel.inputs,
          kernel.outputs,
          kernel.loop as never,
          kernel.simd as never,
        ),
      });
      installed.push(`${kernel.name} (${backendName})`);
    }
  }
  return installed;
}

/** Removes the fused updates (benchmarks compare against the op-by-op form). */
export function uninstallFusedOptimizerKernels(): void {
  for (const backendName of FUSED_BACKENDS) {
    for (const kernel of KERNELS) {
      if ((tf.getKernel(kernel.name, backendName) as tf.KernelConfig | undefined) !== undefined) {
        tf.unregisterKernel(kernel.name, backendName);
      }
    }
  }
}

/** Whether the active backend has the fused `kernelName`. */
export function hasFusedKernel(kernelName: string): boolean {
  return (tf.getKernel(kernelName, tf.getBackend()) as tf.KernelConfig | undefined) !== undefined;
}

/**
 * Runs a fused update; returns its outputs as tensors (θ' first, then the slots, in the kernel's
 * order). The caller disposes or assigns them.
 */
export function runFusedUpdate(
  kernelName: string,
  inputs: Record<string, tf.Tensor>,
  attrs: AdamAttrs | LionAttrs | MomentumAttrs,
): tf.Tensor[] {
  return tf
    .engine()
    .runKernel(kernelName, inputs, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
}
