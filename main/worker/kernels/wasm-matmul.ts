/**
 * Fix 1 of ENGINE-NOTES: stock tfjs-wasm runs `BatchMatMul` / `_FusedMatMul` with `transposeA` or
 * `transposeB` set about 10× slower than the same product after an explicit `Transpose`, and every
 * backward pass asks for transposed products. We re-register both wasm kernels so that a transposed
 * operand is materialised by the wasm `Transpose` kernel first, the original kernel runs with the
 * flags cleared, and the temporary is freed. `_FusedMatMul` also gets a correctness fix for
 * batched bias (see withBatchedBiasFix).
 *
 * Also home of the small registry helpers the other kernel fixes share.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Marks kernel configs registered by Distillery and keeps the config they replaced. A symbol from
 * the global symbol registry, so a second copy of this module (bundlers, test isolation) still
 * recognises the mark and installing twice stays a no-op.
 */
const REPLACED = Symbol.for('distillery.kernel-fix.replaced');

interface FixedKernelConfig extends tf.KernelConfig {
  [REPLACED]?: tf.KernelConfig | null;
}

/** The part of the wasm backend (`BackendWasm`) that kernels composed here rely on. */
export interface DataBackend {
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  incRef(dataId: tf.DataId): void;
}

/**
 * A kernel's input as a Tensor, so the kernel can be written with tfjs ops (nested kernels do not
 * record on the gradient tape: the engine stops recording while a kernel runs). Ops hand kernels
 * their tensors; a bare TensorInfo (a kernel calling a kernel) gets a wrapper that holds its own
 * reference, because makeTensorFromTensorInfo counts none and disposing the wrapper would
 * otherwise free data its owner still uses. Call inside tf.tidy so the wrapper is released.
 */
export function tensorFromInfo(info: tf.TensorInfo | undefined, name: string, backend: object): tf.Tensor {
  if (info === undefined) throw new Error(`Kernel input '${name}' is missing`);
  // The engine's own test (a TensorInfo has no rank); instanceof fails across tfjs-core copies.
  if (typeof (info as { rank?: unknown }).rank === 'number') return info as tf.Tensor;
  (backend as DataBackend).incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** Whether the kernel registered under this name was put there by `replaceKernel`. */
export function isReplacedKernel(kernelName: string, backendName: string): boolean {
  const current = tf.getKernel(kernelName, backendName) as FixedKernelConfig | undefined;
  return current !== undefined && REPLACED in current;
}

/**
 * Registers `makeKernelFunc(original)` in place of the kernel now registered for
 * (kernelName, backendName), keeping the original's setup and dispose hooks (the wasm kernels bind
 * their C functions in `setupFunc`). Returns false, changing nothing, if ours is already there.
 */
export function replaceKernel(
  kernelName: string,
  backendName: string,
  makeKernelFunc: (original: tf.KernelConfig | undefined) => tf.KernelFunc,
): boolean {
  if (isReplacedKernel(kernelName, backendName)) return false;
  // getKernel is typed as always returning a config, but answers undefined for unknown kernels.
  const original = tf.getKernel(kernelName, backendName) as tf.KernelConfig | undefined;
  const config: FixedKernelConfig = {
    ...(original ?? { kernelName, backendName }),
    kernelFunc: makeKernelFunc(original),
    [REPLACED]: original ?? null,
  };
  if (original !== undefined) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel(config);
  return true;
}

/** Puts back the kernel that `replaceKernel` replaced (or removes ours if there was none). */
export function restoreKernel(kernelName: string, backendName: string): boolean {
  const current = tf.getKernel(kernelName, backendName) as FixedKernelConfig | undefined;
  if (current === undefined || !(REPLACED in current)) return false;
  const original = current[REPLACED];
  tf.unregisterKernel(kernelName, backendName);
  if (original) tf.registerKernel(original);
  return true;
}

function requireKernel(kernelName: string, backendName: string): tf.KernelConfig {
  const config = tf.getKernel(kernelName, backendName) as tf.KernelConfig | undefined;
  if (config === undefined) {
    throw new Error(
      `Kernel ${kernelName} is not registered for backend '${backendName}'; import ` +
        `@tensorflow/tfjs-backend-wasm before installing the wasm kernel fixes`,
    );
  }
  return config;
}

function swapLastTwoAxes(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, axis) => axis);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/**
 * Wraps a matmul kernel (inputs `a`, `b`; attrs `transposeA`, `transposeB`) so that transposed
 * operands are transposed explicitly. Other inputs (bias, PReLU weights) and attrs pass through.
 */
function withExplicitTranspose(original: tf.KernelFunc, transpose: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const transposeA = attrs?.transposeA === true;
    const transposeB = attrs?.transposeB === true;
    if (!transposeA && !transposeB) return original({ inputs, backend, attrs });

    const dataBackend = backend as DataBackend;
    const temporaries: tf.TensorInfo[] = [];
    const explicit = (name: 'a' | 'b'): tf.TensorInfo => {
      const operand = inputs[name];
      if (operand === undefined) throw new Error(`matMul: input '${name}' is missing`);
      const perm = swapLastTwoAxes(operand.shape.length);
      const transposed = transpose({ inputs: { x: operand }, backend, attrs: { perm } }) as tf.TensorInfo;
      temporaries.push(transposed);
      return transposed;
    };
    try {
      const cleared: tf.NamedTensorInfoMap = { ...inputs };
      if (transposeA) cleared.a = explicit('a');
      if (transposeB) cleared.b = explicit('b');
      return original({
        inputs: cleared,
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const temporary of temporaries) dataBackend.disposeData(temporary.dataId);
    }
  };
}

function applyActivation(
  y: tf.Tensor,
  attrs: tf.NamedAttrMap | undefined,
  prelu: tf.Tensor | undefined,
): tf.Tensor {
  const activation = attrs?.activation ?? 'linear';
  switch (activation) {
    case 'linear':
      return y;
    case 'relu':
      return tf.relu(y);
    case 'relu6':
      return tf.relu6(y);
    case 'elu':
      return tf.elu(y);
    case 'sigmoid':
      return tf.sigmoid(y);
    case 'leakyrelu':
      return tf.leakyRelu(y, typeof attrs?.leakyreluAlpha === 'number' ? attrs.leakyreluAlpha : 0.2);
    case 'prelu':
      if (prelu === undefined) throw new Error('_FusedMatMul: prelu activation without weights');
      return tf.prelu(y, prelu);
    default:
      throw new Error(`_FusedMatMul: unknown activation ${JSON.stringify(activation)}`);
  }
}

/**
 * Stock wasm `_FusedMatMul` adds the bias (and PReLU weights) wrongly when the batch dimension is
 * above 1 (rows after the first get the wrong values; measured 0.6 relative error). tfjs-layers
 * always calls it with batch 1, but `tf.fused.matMul` on rank-3 tensors does not; those calls are
 * computed unfused, with ops.
 */
function withBatchedBiasFix(fused: tf.KernelFunc): tf.KernelFunc {
  return (params) => {
    const { inputs, backend, attrs } = params;
    const { a, b, bias, preluActivationWeights } = inputs;
    const batch = Math.max(a?.shape[0] ?? 1, b?.shape[0] ?? 1);
    if (batch === 1 || (bias === undefined && preluActivationWeights === undefined)) return fused(params);
    return tf.tidy(() => {
      const product = tf.matMul(
        tensorFromInfo(a, 'a', backend),
        tensorFromInfo(b, 'b', backend),
        attrs?.transposeA === true,
        attrs?.transposeB === true,
      );
      const biased = bias === undefined ? product : tf.add(product, tensorFromInfo(bias, 'bias', backend));
      const prelu =
        preluActivationWeights === undefined
          ? undefined
          : tensorFromInfo(preluActivationWeights, 'preluActivationWeights', backend);
      return applyActivation(biased, attrs, prelu);
    });
  };
}

/** The matmul kernels that Fix 1 replaces on wasm. */
export const MATMUL_KERNELS = ['BatchMatMul', '_FusedMatMul'] as const;

/**
 * Re-registers the wasm `BatchMatMul` and `_FusedMatMul` kernels with explicit transposes.
 * Idempotent: returns the kernels it replaced this time (none on a second call).
 */
export function installWasmMatMulFix(): string[] {
  const transpose = requireKernel('Transpose', 'wasm').kernelFunc;
  const replaced: string[] = [];
  for (const kernelName of MATMUL_KERNELS) {
    requireKernel(kernelName, 'wasm');
    const didReplace = replaceKernel(kernelName, 'wasm', (original) => {
      // requireKernel above guarantees the original exists.
      const explicit = withExplicitTranspose((original as tf.KernelConfig).kernelFunc, transpose);
      return kernelName === '_FusedMatMul' ? withBatchedBiasFix(explicit) : explicit;
    });
    if (didReplace) replaced.push(kernelName);
  }
  return replaced;
}

/** Puts the stock wasm matmul kernels back (benchmarks compare against them). */
export function uninstallWasmMatMulFix(): void {
  for (const kernelName of MATMUL_KERNELS) restoreKernel(kernelName, 'wasm');
}
