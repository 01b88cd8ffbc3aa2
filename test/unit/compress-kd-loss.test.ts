/**
 * The distillation loss of Hinton et al. (2015) against values computed by hand (Python, float64,
 * from the formula in PAPERS.md), and its limiting cases.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { distillationLoss, hardLabelLoss, softTargetLoss } from '../../main/worker/compress/kd-loss';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const studentLogits = [
  [1.0, 2.0, 0.5],
  [0.2, -1.0, 3.0],
];
const teacherLogits = [
  [2.5, 0.5, -1.0],
  [0.0, 1.5, 2.0],
];
const labels = [0, 2];

/** The formula written out with Math.exp, one example at a time. */
function byHand(zs: number[][], zt: number[][], y: number[], T: number, alpha: number) {
  const softmax = (z: number[], t: number) => {
    const e = z.map((v) => Math.exp(v / t));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  };
  let soft = 0;
  let hard = 0;
  zs.forEach((row, i) => {
    const pt = softmax(zt[i]!, T);
    const ps = softmax(row, T);
    soft += pt.reduce((sum, p, c) => sum + p * Math.log(p / ps[c]!), 0);
    hard -= Math.log(softmax(row, 1)[y[i]!]!);
  });
  soft = (soft / zs.length) * T * T;
  hard /= zs.length;
  return { soft, hard, loss: alpha * soft + (1 - alpha) * hard };
}

function evaluate(zs: number[][], zt: number[][], y: number[], temperature: number, alpha: number) {
  return tf.tidy(() => {
    const parts = distillationLoss(tf.tensor2d(zs), tf.tensor2d(zt), tf.tensor1d(y, 'int32'), {
      temperature,
      alpha,
    });
    return {
      loss: parts.loss.dataSync()[0]!,
      soft: parts.soft.dataSync()[0]!,
      hard: parts.hard.dataSync()[0]!,
    };
  });
}

describe('distillation loss', () => {
  it('matches the hand-computed value (T = 2, α = 0.7)', () => {
    const got = evaluate(studentLogits, teacherLogits, labels, 2, 0.7);
    // Python float64: soft 1.0699201032666457, hard 0.7702599808789607, loss 0.9800220665503402.
    expect(got.soft).toBeCloseTo(1.0699201032666457, 5);
    expect(got.hard).toBeCloseTo(0.7702599808789607, 5);
    expect(got.loss).toBeCloseTo(0.9800220665503402, 5);
    const reference = byHand(studentLogits, teacherLogits, labels, 2, 0.7);
    expect(got.loss).toBeCloseTo(reference.loss, 5);
  });

  it('matches the formula at Hinton’s T = 20 and at T = 1', () => {
    for (const [T, alpha] of [
      [20, 0.9],
      [1, 0.5],
    ] as const) {
      const got = evaluate(studentLogits, teacherLogits, labels, T, alpha);
      const reference = byHand(studentLogits, teacherLogits, labels, T, alpha);
      expect(got.soft).toBeCloseTo(reference.soft, 4);
      expect(got.loss).toBeCloseTo(reference.loss, 4);
    }
  });

  it('α = 1 keeps only the soft term, α = 0 only the hard term', () => {
    const soft = evaluate(studentLogits, teacherLogits, labels, 3, 1);
    expect(soft.loss).toBeCloseTo(soft.soft, 6);
    const hard = evaluate(studentLogits, teacherLogits, labels, 3, 0);
    expect(hard.loss).toBeCloseTo(hard.hard, 6);
  });

  it('the soft term is zero when the student’s logits equal the teacher’s, and never negative', () => {
    const same = tf.tidy(
      () => softTargetLoss(tf.tensor2d(teacherLogits), tf.tensor2d(teacherLogits), 4).dataSync()[0]!,
    );
    expect(Math.abs(same)).toBeLessThan(1e-6);
    const shifted = tf.tidy(
      () => softTargetLoss(tf.tensor2d(teacherLogits).add(5), tf.tensor2d(teacherLogits), 4).dataSync()[0]!,
    );
    expect(Math.abs(shifted)).toBeLessThan(1e-5);
    expect(evaluate(studentLogits, teacherLogits, labels, 4, 1).soft).toBeGreaterThan(0);
  });

  it('the hard term is softmax cross-entropy from logits', () => {
    const value = tf.tidy(
      () => hardLabelLoss(tf.tensor2d([[0, 0, 0, 0]]), tf.tensor1d([3], 'int32')).dataSync()[0]!,
    );
    expect(value).toBeCloseTo(Math.log(4), 6);
  });

  it('the T² factor keeps soft gradients comparable across temperatures', () => {
    const gradientNorm = (T: number) =>
      tf.tidy(() => {
        const zt = tf.tensor2d(teacherLogits);
        const grad = tf.grad((zs: tf.Tensor) => softTargetLoss(zs, zt, T))(tf.tensor2d(studentLogits));
        return tf.norm(grad).dataSync()[0]!;
      });
    // Without T² the gradient shrinks like 1/T²; with it, for large T it tends to a constant.
    const ratio = gradientNorm(20) / gradientNorm(10);
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });
});
