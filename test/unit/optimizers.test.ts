import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADAM_EPSILON, createOptimizer, type OptimizerConfig } from '../../main/worker/train/optimizers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const THETA0 = [0.5, -1.25, 2, 0];
/** Gradients of three steps (fixed, so the expected values are easy to compute by hand). */
const GRADS = [
  [0.1, -0.2, 0.3, -0.05],
  [-0.3, 0.1, 0.2, 0.4],
  [0.05, 0.05, -0.5, 0.2],
];
const LRS = [0.1, 0.05, 0.02];

/** Runs `steps` updates with the tfjs optimiser; returns θ. */
function runTf(config: OptimizerConfig, steps: number): number[] {
  const optimizer = createOptimizer(config);
  const variable = tf.tidy(() => tf.variable(tf.tensor1d(THETA0)));
  for (let s = 0; s < steps; s++) {
    const grad = tf.tensor1d(GRADS[s]!);
    optimizer.apply([variable], [grad], LRS[s]!);
    grad.dispose();
  }
  const out = Array.from(variable.dataSync());
  variable.dispose();
  optimizer.dispose();
  return out;
}

/** The same update rules in plain JS doubles, written from the formulas in PAPERS.md. */
function reference(config: Required<OptimizerConfig>, steps: number): number[] {
  const theta = [...THETA0];
  const m = theta.map(() => 0);
  const v = theta.map(() => 0);
  const { beta1, beta2, epsilon, weightDecay: wd, momentum } = config;
  for (let s = 0; s < steps; s++) {
    const t = s + 1;
    const lr = LRS[s]!;
    for (let i = 0; i < theta.length; i++) {
      const g = GRADS[s]![i]!;
      const th = theta[i]!;
      switch (config.name) {
        case 'sgd':
          theta[i] = th - lr * (g + wd * th);
          break;
        case 'momentum':
          v[i] = momentum * v[i]! + (g + wd * th);
          theta[i] = th - lr * v[i]!;
          break;
        case 'adam':
        case 'adamw': {
          const gc = config.name === 'adam' ? g + wd * th : g;
          m[i] = beta1 * m[i]! + (1 - beta1) * gc;
          v[i] = beta2 * v[i]! + (1 - beta2) * gc * gc;
          const mHat = m[i]! / (1 - beta1 ** t);
          const vHat = v[i]! / (1 - beta2 ** t);
          const decay = config.name === 'adamw' ? wd * th : 0;
          theta[i] = th - lr * (mHat / (Math.sqrt(vHat) + epsilon) + decay);
          break;
        }
        case 'lion': {
          const c = beta1 * m[i]! + (1 - beta1) * g;
          theta[i] = th - lr * (Math.sign(c) + wd * th);
          m[i] = beta2 * m[i]! + (1 - beta2) * g;
          break;
        }
      }
    }
  }
  return theta;
}

function full(config: OptimizerConfig): Required<OptimizerConfig> {
  return {
    momentum: 0.9,
    beta1: 0.9,
    beta2: config.name === 'lion' ? 0.99 : 0.999,
    epsilon: ADAM_EPSILON,
    weightDecay: 0,
    ...config,
  };
}

function expectClose(actual: number[], expected: number[], tolerance = 2e-6): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) =>
    expect(Math.abs(a - expected[i]!)).toBeLessThan(tolerance * Math.max(1, Math.abs(expected[i]!))),
  );
}

describe('optimizers against hand-computed updates', () => {
  afterEach(() => {
    // Every test disposes what it creates.
    expect(tf.memory().numTensors).toBe(0);
  });

  const cases: OptimizerConfig[] = [
    { name: 'sgd' },
    { name: 'sgd', weightDecay: 0.1 },
    { name: 'momentum' },
    { name: 'momentum', momentum: 0.5, weightDecay: 0.01 },
    { name: 'adam' },
    { name: 'adam', weightDecay: 0.1 },
    { name: 'adamw', weightDecay: 0.1 },
    { name: 'adamw', weightDecay: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 },
    { name: 'lion' },
    { name: 'lion', weightDecay: 0.5 },
  ];
  for (const config of cases) {
    for (const steps of [1, 2, 3]) {
      it(`${JSON.stringify(config)} after ${steps} step(s)`, () => {
        expectClose(runTf(config, steps), reference(full(config), steps));
      });
    }
  }

  it('AdamW first step matches numbers worked out by hand', () => {
    // Step 1: m̂ = g, v̂ = g², so the Adam part is g/(|g|+ε) ≈ sign(g); plus λθ.
    const [a, b, c, d] = runTf({ name: 'adamw', weightDecay: 0.1 }, 1);
    const lr = 0.1;
    expect(a).toBeCloseTo(0.5 - lr * (0.1 / (0.1 + 1e-8) + 0.1 * 0.5), 6);
    expect(b).toBeCloseTo(-1.25 - lr * (-0.2 / (0.2 + 1e-8) + 0.1 * -1.25), 6);
    expect(c).toBeCloseTo(2 - lr * (1 + 0.2), 6);
    expect(d).toBeCloseTo(0 - lr * -1, 6);
  });

  it('Lion first step moves every coordinate by exactly lr·(sign(g) + λθ)', () => {
    const [a, b, c, d] = runTf({ name: 'lion', weightDecay: 0.5 }, 1);
    expect(a).toBeCloseTo(0.5 - 0.1 * (1 + 0.25), 6);
    expect(b).toBeCloseTo(-1.25 - 0.1 * (-1 - 0.625), 6);
    expect(c).toBeCloseTo(2 - 0.1 * (1 + 1), 6);
    expect(d).toBeCloseTo(0 - 0.1 * -1, 6);
  });

  it('decoupled (AdamW) and coupled (Adam + L2) weight decay give different weights', () => {
    const coupled = runTf({ name: 'adam', weightDecay: 0.1 }, 3);
    const decoupled = runTf({ name: 'adamw', weightDecay: 0.1 }, 3);
    const plain = runTf({ name: 'adam' }, 3);
    const diff = coupled.map((x, i) => Math.abs(x - decoupled[i]!));
    expect(Math.max(...diff)).toBeGreaterThan(1e-3);
    // Adam with decay 0 and AdamW with decay 0 are the same algorithm.
    expectClose(runTf({ name: 'adamw' }, 3), plain);
  });

  it('state round-trips: save after 2 steps, load into a fresh optimiser, step 3 is identical', () => {
    for (const name of ['momentum', 'adam', 'adamw', 'lion', 'sgd'] as const) {
      const straight = runTf({ name, weightDecay: 0.05 }, 3);

      const first = createOptimizer({ name, weightDecay: 0.05 });
      const variable = tf.tidy(() => tf.variable(tf.tensor1d(THETA0)));
      for (let s = 0; s < 2; s++) {
        const grad = tf.tensor1d(GRADS[s]!);
        first.apply([variable], [grad], LRS[s]!);
        grad.dispose();
      }
      const saved = first.state();
      first.dispose();
      expect(saved.iterations).toBe(2);
      // Plain data: survives JSON (+ typed arrays) without the optimiser.
      const copy = {
        ...saved,
        slots: Object.fromEntries(
          Object.entries(saved.slots).map(([k, a]) => [
            k,
            { shape: [...a.shape], values: Float32Array.from(a.values) },
          ]),
        ),
      };
      const second = createOptimizer({ name, weightDecay: 0.05 });
      second.load(copy);
      const grad = tf.tensor1d(GRADS[2]!);
      second.apply([variable], [grad], LRS[2]!);
      grad.dispose();
      expect(Array.from(variable.dataSync())).toEqual(straight);
      variable.dispose();
      second.dispose();
    }
  });

  it('refuses state of another optimiser', () => {
    const adam = createOptimizer({ name: 'adam' });
    const lion = createOptimizer({ name: 'lion' });
    expect(() => lion.load(adam.state())).toThrow(/adam/);
    adam.dispose();
    lion.dispose();
  });
});
