/**
 * The fused optimiser updates (kernels/fused-optimizer.ts; SIMD on wasm, JavaScript on cpu) give
 * the same bits as the op-by-op form they replace, on both backends, for every optimiser and decay
 * variant and for sizes with and without a 4-lane remainder; and the assembled SIMD module is
 * valid for both the threaded (shared memory) and the single-threaded tfjs-wasm heap.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../main/worker/backend';
import {
  FUSED_BACKENDS,
  FUSED_KERNELS,
  hasFusedKernel,
  installFusedOptimizerKernels,
  uninstallFusedOptimizerKernels,
} from '../../main/worker/kernels/fused-optimizer';
import {
  assembleSimdModule,
  simdFunctions,
  validateWasm,
  wasmHeapMemory,
} from '../../main/worker/kernels/wasm-simd';
import {
  createOptimizer,
  type OptimizerConfig,
  type OptimizerState,
} from '../../main/worker/train/optimizers';
import { seededRandom } from '../helpers/random';

const CONFIGS: OptimizerConfig[] = [
  { name: 'adam' },
  { name: 'adam', weightDecay: 0.01 },
  { name: 'adamw', weightDecay: 0.05 },
  { name: 'adamw', beta1: 0.8, beta2: 0.95, epsilon: 1e-6 },
  { name: 'lion' },
  { name: 'lion', weightDecay: 0.1 },
  { name: 'momentum', momentum: 0.8 },
  { name: 'momentum', weightDecay: 0.001 },
  { name: 'sgd', weightDecay: 0.01 },
];

/** Variable sizes: one, below a vector, a multiple of 4, a remainder of 1 and of 3. */
const SHAPES = [[1], [3], [4, 2], [5], [7, 147]];

interface Run {
  weights: Float32Array[];
  state: OptimizerState;
}

/** Five steps of `config` over SHAPES with seeded values, fused or op by op. */
function train(config: OptimizerConfig, fused: boolean): Run {
  const random = seededRandom(11);
  const values = (size: number) => Float32Array.from({ length: size }, () => random() * 2 - 1);
  const before = tf.memory().numTensors;
  const optimizer = createOptimizer(config);
  if (!fused) uninstallFusedOptimizerKernels();
  const variables = SHAPES.map((shape) =>
    tf.tidy(() => tf.variable(tf.tensor(values(tf.util.sizeFromShape(shape)), shape))),
  );
  try {
    for (let step = 0; step < 5; step++) {
      const grads = SHAPES.map((shape) => tf.tensor(values(tf.util.sizeFromShape(shape)), shape));
      optimizer.apply(variables, grads, 0.01 * (step + 1));
      tf.dispose(grads);
    }
    return { weights: variables.map((v) => Float32Array.from(v.dataSync())), state: optimizer.state() };
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
    installFusedOptimizerKernels();
    // No update leaves a tensor behind: slots, variables and temporaries are all released.
    expect(tf.memory().numTensors).toBe(before);
  }
}

function expectSameBits(actual: Run, expected: Run): void {
  actual.weights.forEach((values, i) => expect(values, `variable ${i}`).toEqual(expected.weights[i]));
  expect(actual.state.iterations).toBe(expected.state.iterations);
  expect(Object.keys(actual.state.slots).sort()).toEqual(Object.keys(expected.state.slots).sort());
  for (const [key, slot] of Object.entries(actual.state.slots)) {
    expect(slot.values, `slot ${key}`).toEqual(expected.state.slots[key]!.values);
  }
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('the SIMD module', () => {
  it('assembles to a valid module for shared and unshared memory', () => {
    for (const shared of [false, true]) expect(validateWasm(assembleSimdModule(shared))).toBe(true);
  });

  it('binds to the tfjs-wasm heap', () => {
    expect(tf.getBackend()).toBe('wasm');
    const memory = wasmHeapMemory(tf.backend());
    expect(memory?.buffer.byteLength).toBeGreaterThan(0);
    const functions = simdFunctions(memory!);
    expect(functions).not.toBeNull();
    expect(Object.keys(functions!)).toEqual(
      expect.arrayContaining(['adam', 'adamCoupled', 'adamDecoupled', 'lion', 'momentum', 'columnSum']),
    );
  });
});

describe('fused updates give the op-by-op bits', () => {
  for (const backend of FUSED_BACKENDS) {
    for (const config of CONFIGS) {
      it(`${backend}: ${JSON.stringify(config)}`, async () => {
        await tf.setBackend(backend);
        try {
          const fused = train(config, true);
          const ops = train(config, false);
          if (config.name !== 'lion' || backend === 'cpu') {
            expectSameBits(fused, ops);
          } else {
            // Stock wasm Sign returns 0 for |x| below ~1.2e-7 (measured: sign(1e-7) = 0); the fused
            // Lion takes the sign as the cpu backend does, so wasm is checked against cpu.
            await tf.setBackend('cpu');
            expectSameBits(fused, train(config, false));
          }
        } finally {
          await tf.setBackend('wasm');
        }
      });
    }
  }

  it('is used where registered and not elsewhere', async () => {
    createOptimizer({ name: 'adam' }).dispose();
    for (const backend of FUSED_BACKENDS) {
      await tf.setBackend(backend);
      for (const kernel of Object.values(FUSED_KERNELS))
        expect(hasFusedKernel(kernel), `${kernel} on ${backend}`).toBe(true);
    }
    await tf.setBackend('wasm');
    uninstallFusedOptimizerKernels();
    expect(hasFusedKernel(FUSED_KERNELS.adam)).toBe(false);
    installFusedOptimizerKernels();
    expect(installFusedOptimizerKernels()).toEqual([]);
  });

  it('refuses mismatched inputs with the input named', () => {
    const optimizer = createOptimizer({ name: 'adam' });
    const variable = tf.variable(tf.zeros([3]));
    const grad = tf.zeros([4]);
    try {
      expect(() => optimizer.apply([variable], [grad], 0.1)).toThrow(
        /input 'grad' has shape \[4\], expected \[3\]/,
      );
    } finally {
      tf.dispose([variable, grad]);
      optimizer.dispose();
    }
  });
});
