/**
 * The wasm kernel fixes (ENGINE-NOTES: explicit-transpose matmuls, convolution gradients as forward
 * convolutions; then the max-pool gradient, bias sums, copy-free Identity/Cast) checked against the
 * stock cpu backend in the same process, plus backend selection.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { backendChoiceFromEnv, initBackend, tfjsVersions } from '../../main/worker/backend';
import { installedWasmKernelFixes, installWasmKernelFixes } from '../../main/worker/kernels/index';
import { isReplacedKernel } from '../../main/worker/kernels/wasm-matmul';
import { wasmThreadsFromEnv } from '../../main/worker/kernels/wasm-threads';
import type { BackendInfo } from '../../main/worker/protocol';
import { expectAutoBackendChoice, isInstalled, NATIVE_BACKENDS } from '../helpers/backend-expectations';
import { relativeError, seededRandom, uniformValues } from '../helpers/random';

const TOLERANCE = 1e-5;

const random = seededRandom(20240611);
const randomInt = (low: number, high: number): number => low + Math.floor(random() * (high - low + 1));
const randomValues = (shape: readonly number[]): Float32Array => uniformValues(random, shape);

/** Runs `compute` with `backend` active and returns its outputs as plain arrays. */
async function on(backend: string, compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  try {
    const outputs = tf.tidy(compute);
    const values = outputs.map((t) => t.dataSync() as Float32Array);
    tf.dispose(outputs);
    return values;
  } finally {
    await tf.setBackend('wasm');
  }
}

/** Runs the same computation on cpu (reference) and wasm; returns the worst relative error. */
async function compare(compute: () => tf.Tensor[], reference = compute): Promise<number> {
  const expected = await on('cpu', reference);
  const actual = await on('wasm', compute);
  expect(actual.length).toBe(expected.length);
  return Math.max(...actual.map((values, i) => relativeError(values, expected[i] as Float32Array)));
}

let backend: BackendInfo;
const worst: Record<string, number> = {};
function record(group: string, error: number): void {
  worst[group] = Math.max(worst[group] ?? 0, error);
}

beforeAll(async () => {
  backend = await initBackend('auto');
  // Everything below the selection tests checks wasm kernels; where a native backend won, use wasm.
  if (backend.name !== 'wasm') await initBackend('wasm');
});

/** A native backend whose package is not installed here (tfjs-node first), to force and see refused. */
const missingNative = [...NATIVE_BACKENDS].reverse().find((candidate) => !isInstalled(candidate.package));

describe('backend selection', () => {
  it('picks the fastest backend that loads here and says why the faster ones were skipped', () => {
    expectAutoBackendChoice(backend);
    if (backend.name === 'wasm') {
      // The thread pool has the threads asked for (every core unless DISTILLERY_WASM_THREADS says).
      const threads = wasmThreadsFromEnv();
      expect(backend.features).toMatchObject({
        threads: threads > 1,
        threadsCount: threads,
        kernelFixes: true,
      });
      expect(backend.features.threadsError).toBeUndefined();
      expect(typeof backend.features.simd).toBe('boolean');
    } else {
      expect(backend.features).toMatchObject({ kernelFixes: false });
    }
  });

  it.runIf(missingNative)(
    'refuses a forced backend that is not installed, and keeps the active one',
    async () => {
      const { name, package: packageName } = missingNative!;
      const failure = await initBackend(name).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(DistilleryError);
      expect(failure).toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
        details: {
          expected: `${name} (${packageName})`,
          received: `${packageName} is not installed`,
        },
      });
      expect(tf.getBackend()).toBe('wasm');
    },
  );

  it('reads DISTILLERY_BACKEND and rejects names it does not know', () => {
    expect(backendChoiceFromEnv({})).toBe('auto');
    expect(backendChoiceFromEnv({ DISTILLERY_BACKEND: '' })).toBe('auto');
    expect(backendChoiceFromEnv({ DISTILLERY_BACKEND: ' WASM ' })).toBe('wasm');
    expect(backendChoiceFromEnv({ DISTILLERY_BACKEND: 'tensorflow-gpu' })).toBe('tensorflow-gpu');
    expect(backendChoiceFromEnv({ DISTILLERY_BACKEND: 'webgpu' })).toBe('webgpu');
    let failure: unknown;
    try {
      backendChoiceFromEnv({ DISTILLERY_BACKEND: 'metal' });
    } catch (error) {
      failure = error;
    }
    expect(failure).toMatchObject({ code: 'BACKEND_UNAVAILABLE', details: { received: 'metal' } });
  });

  it('refuses a DISTILLERY_WASM_THREADS that is not a thread count, naming the variable', async () => {
    const saved = process.env.DISTILLERY_WASM_THREADS;
    process.env.DISTILLERY_WASM_THREADS = 'two';
    try {
      const failure = await initBackend('wasm').then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(DistilleryError);
      expect(failure).toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
        details: { param: 'DISTILLERY_WASM_THREADS', expected: 'an integer from 1 to 8', received: 'two' },
      });
      expect(tf.getBackend()).toBe('wasm');
    } finally {
      if (saved === undefined) delete process.env.DISTILLERY_WASM_THREADS;
      else process.env.DISTILLERY_WASM_THREADS = saved;
    }
    expect(wasmThreadsFromEnv({ DISTILLERY_WASM_THREADS: ' 3 ' })).toBe(3);
    expect(() => wasmThreadsFromEnv({ DISTILLERY_WASM_THREADS: '9' })).toThrow(/from 1 to 8, got "9"/);
    expect(() => wasmThreadsFromEnv({ DISTILLERY_WASM_THREADS: '0' })).toThrow(RangeError);
  });

  it('reports tfjs and backend package versions', () => {
    const versions = tfjsVersions();
    expect(versions['@tensorflow/tfjs']).toBe(tf.version.tfjs);
    expect(versions['@tensorflow/tfjs-backend-wasm']).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('installs the kernel fixes once', () => {
    const before = [...installedWasmKernelFixes()];
    installWasmKernelFixes();
    expect(installedWasmKernelFixes()).toEqual(before);
    for (const kernel of [
      'BatchMatMul',
      '_FusedMatMul',
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'MaxPoolGrad',
      'Sum',
      'Identity',
      'Cast',
    ]) {
      expect(isReplacedKernel(kernel, 'wasm')).toBe(true);
    }
  });
});

describe('matmul with transposes', () => {
  const combos = [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const;
  const batches: Array<[number[], number[]]> = [
    [[], []],
    [[3], [3]],
    [
      [2, 3],
      [2, 3],
    ],
  ];

  for (const [batchA, batchB] of batches) {
    for (const [transposeA, transposeB] of combos) {
      it(`batch ${JSON.stringify([batchA, batchB])}, transposeA=${transposeA}, transposeB=${transposeB}`, async () => {
        const [m, k, n] = [randomInt(1, 9), randomInt(1, 11), randomInt(1, 7)];
        const aShape = [...batchA, ...(transposeA ? [k, m] : [m, k])];
        const bShape = [...batchB, ...(transposeB ? [n, k] : [k, n])];
        const a = randomValues(aShape);
        const b = randomValues(bShape);
        const outShape = tf.tidy(
          () => tf.matMul(tf.zeros(aShape), tf.zeros(bShape), transposeA, transposeB).shape,
        );
        const weights = randomValues(outShape);
        const error = await compare(() => {
          const f = (x: tf.Tensor, y: tf.Tensor) =>
            tf.sum(tf.mul(tf.matMul(x, y, transposeA, transposeB), tf.tensor(weights, outShape)));
          const [dA, dB] = tf.grads(f)([tf.tensor(a, aShape), tf.tensor(b, bShape)]);
          const product = tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transposeA, transposeB);
          return [product, dA as tf.Tensor, dB as tf.Tensor];
        });
        record('matMul (product, dA, dB)', error);
        expect(error).toBeLessThan(TOLERANCE);
      });
    }
  }

  it('broadcast batch dimensions (forward only: tfjs-core has no broadcasting BatchMatMul gradient)', async () => {
    for (const [transposeA, transposeB] of combos) {
      const aShape = [2, 1, ...(transposeA ? [5, 3] : [3, 5])];
      const bShape = [1, 4, ...(transposeB ? [6, 5] : [5, 6])];
      const [a, b] = [randomValues(aShape), randomValues(bShape)];
      const error = await compare(() => [
        tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transposeA, transposeB),
      ]);
      record('matMul (product, dA, dB)', error);
      expect(error).toBeLessThan(TOLERANCE);
    }
  });

  for (const [transposeA, transposeB] of combos) {
    it(`fused matMul + bias + relu, transposeA=${transposeA}, transposeB=${transposeB}`, async () => {
      // Batch 3 also checks the batched-bias correction (stock wasm gets it wrong).
      for (const batch of [1, 3]) {
        const [m, k, n] = [randomInt(2, 9), randomInt(2, 11), randomInt(2, 7)];
        const aShape: number[] = [batch, ...(transposeA ? [k, m] : [m, k])];
        const bShape: number[] = [batch, ...(transposeB ? [n, k] : [k, n])];
        const [a, b, bias, weights] = [
          randomValues(aShape),
          randomValues(bShape),
          randomValues([n]),
          randomValues([batch, m, n]),
        ];
        const error = await compare(() => {
          const inputs = () =>
            [
              tf.tensor<tf.Rank>(a, aShape) as tf.Tensor3D,
              tf.tensor<tf.Rank>(b, bShape) as tf.Tensor3D,
              tf.tensor1d(bias),
            ] as const;
          // Forward with relu runs the _FusedMatMul kernel itself.
          const [x, y, z] = inputs();
          const forward = tf.fused.matMul({
            a: x,
            b: y,
            transposeA,
            transposeB,
            bias: z,
            activation: 'relu',
          });
          // Under a gradient tfjs fuses only linear activations; the backward pass runs BatchMatMul
          // with transposes.
          const loss = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
            tf.sum(
              tf.mul(
                tf.fused.matMul({
                  a: p,
                  b: q,
                  transposeA,
                  transposeB,
                  bias: r,
                }),
                tf.tensor(weights, [batch, m, n]),
              ),
            );
          const grads = tf.grads(loss)([...inputs()]);
          return [forward, ...grads];
        });
        record('fused matMul (forward, dA, dB, dBias)', error);
        expect(error).toBeLessThan(TOLERANCE);
      }
    });
  }
});

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dilations?: number | [number, number];
}

const fixedConvCases: ConvCase[] = [
  { x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [1, 6, 7, 2], filter: [3, 3, 2, 3], strides: 1, pad: 2 },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 5], strides: 2, pad: 'same' },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 5], strides: 2, pad: 'valid' },
  { x: [2, 8, 8, 1], filter: [5, 5, 1, 2], strides: 3, pad: 'same' },
  { x: [2, 8, 11, 1], filter: [2, 3, 1, 2], strides: [2, 3], pad: 'valid' },
  { x: [1, 7, 7, 1], filter: [3, 3, 1, 1], strides: 1, pad: 'same' },
  { x: [3, 5, 5, 4], filter: [1, 1, 4, 6], strides: 1, pad: 'valid' },
  // Explicit padding wider than the filter reaches: the gradient formulas must crop.
  {
    x: [1, 6, 7, 2],
    filter: [3, 2, 2, 3],
    strides: 2,
    pad: [
      [0, 0],
      [1, 4],
      [0, 2],
      [0, 0],
    ],
  },
  { x: [1, 9, 9, 2], filter: [3, 3, 2, 3], strides: 1, pad: 'same', dilations: 2 },
  { x: [2, 9, 8, 2], filter: [2, 3, 2, 2], strides: 1, pad: 'valid', dilations: [2, 1] },
  // More input channels.
  { x: [2, 7, 8, 6], filter: [3, 3, 6, 4], strides: 1, pad: 'same' },
  { x: [2, 9, 9, 8], filter: [3, 3, 8, 4], strides: 2, pad: 'valid' },
  { x: [1, 9, 9, 6], filter: [3, 3, 6, 3], strides: 1, pad: 'same', dilations: 2 },
];

function randomConvCase(): ConvCase {
  const filterHeight = randomInt(1, 4);
  const filterWidth = randomInt(1, 4);
  const strides: [number, number] = [randomInt(1, 3), randomInt(1, 3)];
  const amount = randomInt(0, 3);
  // tfjs-core computes the output width of a numeric `pad` from the filter height and stride
  // height (conv_util.getPadAndOutInfo), so numbers are only meaningful for square filters and
  // strides; give the same padding explicitly otherwise.
  const square = filterHeight === filterWidth && strides[0] === strides[1];
  const numeric: ConvCase['pad'] = square
    ? amount
    : [
        [0, 0],
        [amount, amount],
        [amount, amount],
        [0, 0],
      ];
  const pads = ['valid', 'same', numeric] as const;
  return {
    x: [randomInt(1, 3), randomInt(filterHeight + 1, 12), randomInt(filterWidth + 1, 12), randomInt(1, 5)],
    filter: [filterHeight, filterWidth, 0, randomInt(1, 5)],
    strides,
    pad: pads[randomInt(0, 2)] ?? 'valid',
  };
}

const convCases = [...fixedConvCases, ...Array.from({ length: 8 }, randomConvCase)].map((c) => ({
  ...c,
  filter: [c.filter[0], c.filter[1], c.x[3], c.filter[3]] as ConvCase['filter'],
}));

/**
 * tfjs-core has no gradient for dilated convolutions, so the cpu reference convolves with the
 * filter spread out by zeros (the same product) and reads dW back at the non-zero taps.
 */
function spreadFilter(filter: tf.Tensor4D, [dh, dw]: [number, number]): tf.Tensor4D {
  const [kh, kw, ci, co] = filter.shape;
  const spread = tf.pad(tf.reshape(filter, [kh, 1, kw, 1, ci, co]), [
    [0, 0],
    [0, dh - 1],
    [0, 0],
    [0, dw - 1],
    [0, 0],
    [0, 0],
  ]);
  const size = [(kh - 1) * dh + 1, (kw - 1) * dw + 1, ci, co];
  return tf.slice(tf.reshape(spread, [kh * dh, kw * dw, ci, co]), 0, size) as tf.Tensor4D;
}

describe('conv2d gradients as forward convolutions', () => {
  for (const c of convCases) {
    const dilations: [number, number] =
      typeof c.dilations === 'number' ? [c.dilations, c.dilations] : (c.dilations ?? [1, 1]);
    const title = `x ${c.x.join('×')}, filter ${c.filter.join('×')}, strides ${JSON.stringify(c.strides)}, pad ${JSON.stringify(c.pad)}, dilations ${dilations.join('×')}`;

    it(title, async () => {
      const x = randomValues(c.x);
      const filter = randomValues(c.filter);
      const outShape = tf.tidy(
        () =>
          tf.conv2d(
            tf.zeros<tf.Rank.R4>(c.x),
            tf.zeros<tf.Rank.R4>(c.filter),
            c.strides,
            c.pad,
            'NHWC',
            dilations,
          ).shape,
      );
      const weights = randomValues(outShape);
      const bias = randomValues([c.filter[3]]);
      const dilated = dilations[0] > 1 || dilations[1] > 1;

      // tf.conv2d under a gradient: the registered Conv2D gradient.
      const viaGradient = (spread: boolean) => () => {
        const loss = (p: tf.Tensor, q: tf.Tensor) => {
          const kernel = spread ? spreadFilter(q as tf.Tensor4D, dilations) : (q as tf.Tensor4D);
          const y = tf.conv2d(p as tf.Tensor4D, kernel, c.strides, c.pad, 'NHWC', spread ? 1 : dilations);
          return tf.sum(tf.mul(y, tf.tensor(weights, outShape)));
        };
        const [dx, dW] = tf.grads(loss)([tf.tensor(x, c.x), tf.tensor(filter, c.filter)]);
        return [dx as tf.Tensor, dW as tf.Tensor];
      };
      const gradientError = await compare(viaGradient(false), viaGradient(dilated));
      record('conv2d gradient (dx, dW)', gradientError);
      expect(gradientError).toBeLessThan(TOLERANCE);

      // tf.fused.conv2d with a linear activation under a gradient: its own custom gradient calls the
      // Conv2DBackpropInput / Conv2DBackpropFilter kernels (the path tfjs-layers' Conv2D takes).
      if (!dilated) {
        const viaKernels = () => {
          const loss = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => {
            const y = tf.fused.conv2d({
              x: p as tf.Tensor4D,
              filter: q as tf.Tensor4D,
              strides: c.strides,
              pad: c.pad,
              bias: r,
            });
            return tf.sum(tf.mul(y, tf.tensor(weights, outShape)));
          };
          const grads = tf.grads(loss)([tf.tensor(x, c.x), tf.tensor(filter, c.filter), tf.tensor1d(bias)]);
          return grads;
        };
        const kernelError = await compare(viaKernels);
        record('fused conv2d backprop kernels (dx, dW, dBias)', kernelError);
        expect(kernelError).toBeLessThan(TOLERANCE);
      }
    });
  }

  it('conv2dTranspose forward and gradients (the Conv2DBackpropInput kernel as an op)', async () => {
    for (const [strides, pad] of [
      [2, 'same'],
      [1, 'valid'],
      [3, 'valid'],
    ] as const) {
      const xShape = [2, 5, 4, 3];
      const filterShape = [3, 3, 2, 3];
      const outShape: [number, number, number, number] =
        pad === 'same'
          ? [2, 5 * strides, 4 * strides, 2]
          : [2, (5 - 1) * strides + 3, (4 - 1) * strides + 3, 2];
      const [x, filter] = [randomValues(xShape), randomValues(filterShape)];
      const error = await compare(() => {
        const up = (p: tf.Tensor, q: tf.Tensor) =>
          tf.conv2dTranspose(p as tf.Tensor4D, q as tf.Tensor4D, outShape, strides, pad);
        const [p, q] = [tf.tensor(x, xShape), tf.tensor(filter, filterShape)];
        return [up(p, q), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(up(a, b))))([p, q])];
      });
      record('conv2dTranspose (forward, dx, dW)', error);
      expect(error).toBeLessThan(TOLERANCE);
    }
  });

  it('depthwise conv2d gradients (cpu fallback kernels)', async () => {
    for (const [strides, pad] of [
      [1, 'same'],
      [2, 'valid'],
    ] as const) {
      const [xShape, filterShape] = [
        [2, 7, 8, 3],
        [3, 3, 3, 2],
      ];
      const x = randomValues(xShape);
      const filter = randomValues(filterShape);
      const error = await compare(() => {
        const loss = (p: tf.Tensor, q: tf.Tensor) =>
          tf.sum(tf.square(tf.depthwiseConv2d(p as tf.Tensor4D, q as tf.Tensor4D, strides, pad)));
        return tf.grads(loss)([tf.tensor(x, xShape), tf.tensor(filter, filterShape)]);
      });
      record('depthwise conv2d (dx, dW)', error);
      expect(error).toBeLessThan(TOLERANCE);
    }
  });

  it('leaks no tensors and no wasm buffers', () => {
    const x = tf.tensor4d(randomValues([2, 9, 9, 3]), [2, 9, 9, 3]);
    const w = tf.tensor4d(randomValues([3, 3, 3, 4]), [3, 3, 3, 4]);
    const [p, q] = [tf.ones([5, 3]), tf.ones([4, 5])];
    const [bias, t] = [tf.ones([4]), tf.ones<tf.Rank.R3>([2, 4, 5])];
    const counts = () => [tf.memory().numTensors, tf.engine().backend.numDataIds()];
    const before = counts();
    for (let i = 0; i < 2; i++) {
      const convolution = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: 2, pad: 'same' })),
      )([x, w]);
      const product = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.matMul(a, b, true, true)))([p, q]);
      const batched = tf.fused.matMul({ a: t, b: t, transposeB: true, bias });
      const pooled = tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(x);
      const biasSum = tf.sum(x, [0, 1, 2]);
      // One input channel, as a first layer has.
      const narrow = tf.tidy(() =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid')),
        )([tf.slice(x, [0, 0, 0, 0], [2, 9, 9, 1]), tf.slice(w, [0, 0, 0, 0], [3, 3, 1, 4])]),
      );
      tf.dispose([...convolution, ...product, batched, pooled, biasSum, ...narrow]);
    }
    expect(counts()).toEqual(before);
    tf.dispose([x, w, p, q, bias, t]);
  });
});

interface PoolCase {
  x: [number, number, number, number];
  filter: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  /** ReLU first: many windows of equal zeros, where the first maximum must win. */
  relu?: boolean;
}

const poolCases: PoolCase[] = [
  // The CNN's pools: windows inside the input, channels a multiple of 4 (the SIMD path).
  { x: [2, 8, 8, 8], filter: 2, strides: 2, pad: 'valid', relu: true },
  { x: [3, 11, 11, 4], filter: 2, strides: 2, pad: 'valid' },
  // Channels not a multiple of 4 (SIMD with a scalar tail), overlapping windows, odd sizes.
  { x: [2, 7, 9, 6], filter: 2, strides: 2, pad: 'valid', relu: true },
  { x: [2, 9, 9, 5], filter: 3, strides: 2, pad: 'valid' },
  { x: [1, 6, 7, 3], filter: [2, 3], strides: [1, 2], pad: 'valid' },
  // Padding: windows that reach outside the input (the JavaScript path).
  { x: [2, 8, 8, 8], filter: 3, strides: 1, pad: 'same' },
  { x: [1, 7, 7, 4], filter: 2, strides: 2, pad: 'same', relu: true },
  { x: [2, 6, 6, 2], filter: 3, strides: 2, pad: 1 },
];

describe('max pool gradient', () => {
  for (const c of poolCases) {
    it(`x ${c.x.join('×')}, filter ${JSON.stringify(c.filter)}, strides ${JSON.stringify(c.strides)}, pad ${JSON.stringify(c.pad)}${c.relu ? ', after relu' : ''}`, async () => {
      const x = randomValues(c.x);
      const outShape = tf.tidy(() => tf.maxPool(tf.zeros<tf.Rank.R4>(c.x), c.filter, c.strides, c.pad).shape);
      const weights = randomValues(outShape);
      const error = await compare(() => {
        const pooled = (t: tf.Tensor) => {
          const input = c.relu ? tf.relu(t) : t;
          return tf.maxPool(input as tf.Tensor4D, c.filter, c.strides, c.pad);
        };
        const loss = (t: tf.Tensor) => tf.sum(tf.mul(pooled(t), tf.tensor(weights, outShape)));
        const input = tf.tensor(x, c.x);
        return [pooled(input), tf.grad(loss)(input)];
      });
      record('maxPool (forward, dx)', error);
      expect(error).toBeLessThan(TOLERANCE);
    });
  }

  it('passes no gradient through a window of −∞ or NaN, as the cpu backend', async () => {
    const values = [
      -Infinity,
      -Infinity,
      -Infinity,
      -Infinity,
      NaN,
      NaN,
      NaN,
      NaN,
      NaN,
      1,
      NaN,
      2,
      3,
      3,
      3,
      3,
    ];
    const compute = () => {
      const x = tf.tensor4d(values, [1, 4, 4, 1]);
      return [tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid')))(x)];
    };
    const [expected] = await on('cpu', compute);
    const [actual] = await on('wasm', compute);
    expect(Array.from(actual!)).toEqual(Array.from(expected!));
    // The top windows (−∞ and NaN only) pass nothing; each bottom window ties at 3 and only its
    // first 3 (row-major) gets the gradient.
    const receivers = Array.from(actual!).flatMap((value, index) => (value === 0 ? [] : [[index, value]]));
    expect(receivers).toEqual([
      [12, 1],
      [14, 1],
    ]);
  });
});

describe('bias sums (Sum over every axis but the last)', () => {
  const cases: Array<{ shape: number[]; axis: number[]; keepDims: boolean }> = [
    { shape: [128, 26, 26, 8], axis: [0, 1, 2], keepDims: false },
    { shape: [37, 13], axis: [0], keepDims: false },
    { shape: [5, 4, 3, 7], axis: [2, 0, 1], keepDims: true },
    { shape: [9, 6], axis: [-2], keepDims: false },
    // Other reductions keep the stock kernel.
    { shape: [5, 4, 3], axis: [1, 2], keepDims: false },
    { shape: [6, 5], axis: [1], keepDims: true },
  ];
  for (const { shape, axis, keepDims } of cases) {
    it(`sum of ${shape.join('×')} over ${JSON.stringify(axis)}${keepDims ? ', keepDims' : ''}`, async () => {
      const values = randomValues(shape);
      const compute = () => [tf.sum(tf.tensor(values, shape), axis, keepDims)];
      const [expected] = await on('cpu', compute);
      const error = await compare(compute);
      const shapeOnWasm = tf.tidy(() => tf.sum(tf.tensor(values, shape), axis, keepDims).shape);
      const shapeOnCpu = tf.tidy(() => tf.zeros(shape).sum(axis, keepDims).shape);
      expect(shapeOnWasm).toEqual(shapeOnCpu);
      expect(expected!.length).toBe(tf.util.sizeFromShape(shapeOnCpu));
      record('Sum (bias gradients)', error);
      expect(error).toBeLessThan(TOLERANCE);
    });
  }
});

describe('Identity and same-dtype Cast share memory', () => {
  it('keep values and lifetimes right, and still convert between dtypes', () => {
    expect(tf.getBackend()).toBe('wasm');
    const ids = () => tf.engine().backend.numDataIds();
    const x = tf.tensor2d([1.5, -2.25, 3, 4.75], [2, 2]);
    const before = ids();
    const clone = tf.clone(x);
    const same = tf.cast(x, 'float32');
    expect(ids()).toBe(before);
    x.dispose();
    expect(Array.from(clone.dataSync())).toEqual([1.5, -2.25, 3, 4.75]);
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.25, 3, 4.75]);
    const integers = tf.cast(clone, 'int32');
    expect(integers.dtype).toBe('int32');
    expect(Array.from(integers.dataSync())).toEqual([1, -2, 3, 4]);
    tf.dispose([clone, same, integers]);
    expect(ids()).toBe(before - 1);
  });
});

describe('a LeNet-style CNN trains on wasm', () => {
  it('lowers its loss over 20 Adam steps', () => {
    expect(tf.getBackend()).toBe('wasm');
    let seed = 1;
    const init = () => tf.initializers.glorotUniform({ seed: seed++ });
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [16, 16, 1],
          filters: 6,
          kernelSize: 5,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: init(),
        }),
        tf.layers.averagePooling2d({ poolSize: 2 }),
        // Linear convolution + separate activation: the fused backprop-kernel path.
        tf.layers.conv2d({ filters: 12, kernelSize: 3, kernelInitializer: init() }),
        tf.layers.reLU(),
        tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: init() }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: init() }),
        tf.layers.dropout({ rate: 0.1, seed: seed++ }),
        tf.layers.dense({ units: 10, kernelInitializer: init() }),
      ],
    });
    const images = tf.tensor4d(randomValues([32, 16, 16, 1]), [32, 16, 16, 1]);
    const labels = tf.oneHot(
      tf.tensor1d(
        Array.from({ length: 32 }, (_, i) => i % 10),
        'int32',
      ),
      10,
    );
    const optimizer = tf.train.adam(0.01);
    const losses: number[] = [];
    for (let step = 0; step < 20; step++) {
      const loss = optimizer.minimize(() => {
        const logits = model.apply(images, { training: true }) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(labels, logits);
      }, true);
      losses.push(loss?.dataSync()[0] ?? NaN);
      loss?.dispose();
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(mean(losses.slice(-3))).toBeLessThan(0.8 * mean(losses.slice(0, 3)));
    console.log(
      `CNN loss ${losses[0]?.toFixed(4)} → ${losses.at(-1)?.toFixed(4)} over 20 Adam steps on wasm`,
    );
    console.log(
      'worst relative errors vs cpu:',
      JSON.stringify(worst, (_, v: unknown) => (typeof v === 'number' ? Number(v.toExponential(2)) : v)),
    );
    tf.dispose([images, labels]);
    model.layers.forEach((layer) => layer.dispose());
    optimizer.dispose();
  });
});
