import { describe, expect, it } from 'vitest';
import { learningRateAt, warmupStepCount, type ScheduleConfig } from '../../main/worker/train/schedules';

const T = 100;
const at = (step: number, config: ScheduleConfig, total = T): number => learningRateAt(step, total, config);

describe('learningRateAt', () => {
  it('constant', () => {
    const c: ScheduleConfig = { name: 'constant', learningRate: 0.01 };
    expect([at(0, c), at(50, c), at(99, c)]).toEqual([0.01, 0.01, 0.01]);
  });

  it('step: × gamma every stepEvery steps', () => {
    const c: ScheduleConfig = { name: 'step', learningRate: 1, stepEvery: 30, stepGamma: 0.5 };
    expect(at(0, c)).toBe(1);
    expect(at(29, c)).toBe(1);
    expect(at(30, c)).toBe(0.5);
    expect(at(59, c)).toBe(0.5);
    expect(at(60, c)).toBe(0.25);
    expect(at(99, c)).toBe(0.125);
    expect(at(99, { name: 'step', learningRate: 1 })).toBe(1);
  });

  it('cosine: η0·½(1+cos(πt/T)) down to the floor', () => {
    const c: ScheduleConfig = { name: 'cosine', learningRate: 0.1 };
    expect(at(0, c)).toBeCloseTo(0.1, 12);
    expect(at(50, c)).toBeCloseTo(0.05, 12);
    expect(at(25, c)).toBeCloseTo(0.1 * 0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(at(100, c)).toBeCloseTo(0, 12);
    const floor: ScheduleConfig = { ...c, minLearningRate: 0.01 };
    expect(at(0, floor)).toBeCloseTo(0.1, 12);
    expect(at(50, floor)).toBeCloseTo(0.055, 12);
    expect(at(100, floor)).toBeCloseTo(0.01, 12);
  });

  it('warmup-cosine: linear 0 → η0 over W, then cosine over T − W', () => {
    const c: ScheduleConfig = { name: 'warmup-cosine', learningRate: 0.2, warmupSteps: 10 };
    expect(at(0, c)).toBe(0);
    expect(at(5, c)).toBeCloseTo(0.1, 12);
    expect(at(9, c)).toBeCloseTo(0.18, 12);
    expect(at(10, c)).toBeCloseTo(0.2, 12); // the warm-up boundary
    expect(at(55, c)).toBeCloseTo(0.1, 12); // (t − W)/(T − W) = ½
    expect(at(100, c)).toBeCloseTo(0, 12);
    // A fraction is a share of T.
    expect(warmupStepCount(100, 0.1)).toBe(10);
    expect(at(10, { ...c, warmupSteps: 0.1 })).toBeCloseTo(0.2, 12);
    // No warm-up: plain cosine.
    expect(at(50, { ...c, warmupSteps: 0 })).toBeCloseTo(0.1, 12);
  });

  it('one-cycle: η_max/div → η_max at pctStart, then down to η_max/(div·finalDiv)', () => {
    const c: ScheduleConfig = { name: 'one-cycle', learningRate: 1 };
    expect(at(0, c)).toBeCloseTo(1 / 25, 12);
    expect(at(29, c)).toBeCloseTo(1, 12); // pctStart·T − 1
    expect(at(99, c)).toBeCloseTo(1 / (25 * 1e4), 12);
    // Half-way through each phase the rate is the mean of its ends.
    expect(at(14.5, c)).toBeCloseTo((1 + 1 / 25) / 2, 12);
    expect(at(64, c)).toBeCloseTo((1 + 1 / 25e4) / 2, 12);
    // Rises then falls.
    expect(at(10, c)).toBeLessThan(at(20, c));
    expect(at(40, c)).toBeGreaterThan(at(80, c));
  });

  it('rex: η0·(1 − z)/(½ + (1 − z)/2)', () => {
    const c: ScheduleConfig = { name: 'rex', learningRate: 0.3 };
    expect(at(0, c)).toBeCloseTo(0.3, 12);
    expect(at(50, c)).toBeCloseTo(0.3 * (0.5 / 0.75), 12);
    expect(at(75, c)).toBeCloseTo(0.3 * (0.25 / 0.625), 12);
    expect(at(100, c)).toBe(0);
  });
});
