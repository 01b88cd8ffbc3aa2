/**
 * The training ops on every accelerated backend that loads here, against the cpu backend in the
 * same process: matmuls with transposes, convolutions, pooling, bias sums, the classifier loss, a
 * whole CNN gradient and an optimiser step. On this CPU machine that is wasm; where a WebGPU adapter
 * exists (or tfjs-node is installed) the same tests run on it too. A backend that does not load is
 * reported with the reason the selection gave.
 */
import * as tf from '@tensorflow/tfjs';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { initBackend } from '../../main/worker/backend';
import { buildCnn } from '../../main/worker/models/cnn';
import { sparseCrossEntropyLoss } from '../../main/worker/train/classifier-loss';
import { createOptimizer } from '../../main/worker/train/optimizers';
import { trainableVariables } from '../../main/worker/train/weights';
import type { BackendName } from '../../main/worker/protocol';
import { isInstalled } from '../helpers/backend-expectations';
import { ensureNoLeaks } from '../helpers/leak-check';
import { mnistSlice } from '../helpers/train-fixtures';
import { relativeError, seededRandom, uniformValues } from '../helpers/random';

const TOLERANCE = 1e-5;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The accelerated backends, fastest first; cpu is the reference. */
const ACCELERATED: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm'];

/** Which of them load here, and why the others do not (found once, before the tests are declared). */
const availability = new Map<BackendName, string | null>();
for (const name of ACCELERATED) {
  try {
    await initBackend(name);
    availability.set(name, null);
  } catch (error) {
    availability.set(name, error instanceof DistilleryError ? String(error.details.received) : String(error));
  }
}
const available = ACCELERATED.filter((name) => availability.get(name) === null);

const random = seededRandom(424242);
const randomValues = (shape: readonly number[]): Float32Array => uniformValues(random, shape);

async function on(backend: string, compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outputs = tf.tidy(compute);
  const values = await Promise.all(outputs.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(outputs);
  return values;
}

/** Worst relative error of `compute` on `backend` against cpu, output by output. */
async function errorAgainstCpu(backend: string, compute: () => tf.Tensor[]): Promise<number> {
  const expected = await on('cpu', compute);
  const actual = await on(backend, compute);
  expect(actual.length).toBe(expected.length);
  return Math.max(...actual.map((values, i) => relativeError(values, expected[i]!)));
}

describe('backends that do not load here say why', () => {
  for (const name of ACCELERATED) {
    it.runIf(availability.get(name) !== null)(`${name}: skipped with a reason`, () => {
      const reason = availability.get(name)!;
      expect(reason).toMatch(/\S/);
      if (name === 'webgpu' && isInstalled('@tensorflow/tfjs-backend-webgpu') && isInstalled('webgpu')) {
        expect(reason).toMatch(/adapter/);
      }
    });
  }

  it('keeps the GPU driver search of the webgpu probe out of the terminal', async () => {
    const script = `
      const { initBackend } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'main/worker/backend.ts')).href)});
      const backend = await initBackend('auto');
      process.stdout.write(JSON.stringify(backend));
    `;
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: ROOT, timeout: 120_000, encoding: 'utf8' },
        (error, out, err) =>
          error ? reject(new Error(`${error.message}\n${err}`)) : resolve({ stdout: out, stderr: err }),
      );
    });
    const backend = JSON.parse(stdout) as { name: string; skipped: Array<{ name: string; reason: string }> };
    if (availability.get('webgpu') !== null) {
      expect(backend.skipped.map((skipped) => skipped.name)).toContain('webgpu');
    }
    expect(stderr).not.toMatch(/vulkan|dawn|adapter/i);
  }, 150_000);
});

for (const backend of available) {
  describe(`training ops on ${backend} match cpu`, () => {
    ensureNoLeaks();

    it('matmul with transposes, forward and gradients', async () => {
      for (const [transposeA, transposeB] of [
        [false, false],
        [false, true],
        [true, false],
        [true, true],
      ] as const) {
        const [m, k, n] = [7, 13, 5];
        const aShape = transposeA ? [k, m] : [m, k];
        const bShape = transposeB ? [n, k] : [k, n];
        const [a, b, w] = [randomValues(aShape), randomValues(bShape), randomValues([m, n])];
        const error = await errorAgainstCpu(backend, () => {
          const loss = (x: tf.Tensor, y: tf.Tensor) =>
            tf.sum(tf.mul(tf.matMul(x, y, transposeA, transposeB), tf.tensor(w, [m, n])));
          const inputs = [tf.tensor(a, aShape), tf.tensor(b, bShape)];
          return [tf.matMul(inputs[0]!, inputs[1]!, transposeA, transposeB), ...tf.grads(loss)(inputs)];
        });
        expect(error, `transposeA=${transposeA}, transposeB=${transposeB}`).toBeLessThan(TOLERANCE);
      }
    });

    it('convolution, max pool and bias sums, with their gradients', async () => {
      for (const [xShape, filterShape, strides, pad] of [
        [[2, 10, 10, 1], [3, 3, 1, 4], 1, 'valid'],
        [[2, 9, 9, 6], [3, 3, 6, 5], 1, 'same'],
        [[2, 9, 8, 3], [3, 3, 3, 4], 2, 'same'],
      ] as const) {
        const [x, filter, bias] = [
          randomValues(xShape),
          randomValues(filterShape),
          randomValues([filterShape[3]]),
        ];
        const outShape = tf.tidy(
          () =>
            tf.maxPool(
              tf.conv2d(
                tf.zeros<tf.Rank.R4>([...xShape]),
                tf.zeros<tf.Rank.R4>([...filterShape]),
                strides,
                pad,
              ),
              2,
              2,
              'valid',
            ).shape,
        );
        const outWeights = randomValues(outShape);
        const error = await errorAgainstCpu(backend, () => {
          const forward = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
            tf.maxPool(
              tf.fused.conv2d({
                x: p as tf.Tensor4D,
                filter: q as tf.Tensor4D,
                strides,
                pad,
                bias: r,
                activation: 'relu',
              }),
              2,
              2,
              'valid',
            );
          const inputs = [tf.tensor(x, [...xShape]), tf.tensor(filter, [...filterShape]), tf.tensor1d(bias)];
          const y = forward(inputs[0]!, inputs[1]!, inputs[2]!);
          const weights = tf.tensor(outWeights, outShape);
          const grads = tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
            tf.sum(tf.mul(forward(p, q, r), weights)),
          )(inputs);
          return [y, ...grads, tf.sum(tf.tensor(x, [...xShape]), [0, 1, 2])];
        });
        expect(error, `x ${xShape.join('×')}, filter ${filterShape.join('×')}`).toBeLessThan(TOLERANCE);
      }
    });

    it('the gradient of a CNN classifier on real MNIST, and an optimiser step', async () => {
      const data = mnistSlice('train', 0, 32);
      const images = Float32Array.from(data.x, (value) => value / 255);
      const compute = (): tf.Tensor[] => {
        const model = buildCnn({
          inputShape: [28, 28, 1],
          numClasses: 10,
          filters: [4, 8],
          kernelSize: 3,
          padding: 'valid',
          pooling: 'max',
          dense: [16],
          activation: 'relu',
          dropout: 0,
          seed: 5,
        });
        const variables = trainableVariables(model);
        const lossFn = sparseCrossEntropyLoss(model);
        const x = tf.tensor(images, [32, 28, 28, 1]);
        const y = tf.tensor1d(data.y, 'int32');
        const { value, grads } = tf.variableGrads(() => {
          const out = lossFn(model, x, y, true);
          return out instanceof tf.Tensor ? out : out.loss;
        }, variables);
        const list = variables.map((v) => grads[v.name]!);
        // Linear in the gradient, so the step's error is the gradient's (an Adam step at t = 1 is
        // ±η wherever g ≠ 0, which flips with the sign of a gradient that rounds near zero).
        const optimizer = createOptimizer({ name: 'momentum', weightDecay: 0.01 });
        optimizer.apply(variables, list, 0.01);
        const after = variables.map((v) => tf.clone(v));
        optimizer.dispose();
        model.dispose();
        return [value, ...list, ...after];
      };
      const error = await errorAgainstCpu(backend, compute);
      expect(error).toBeLessThan(TOLERANCE);
    });
  });
}
