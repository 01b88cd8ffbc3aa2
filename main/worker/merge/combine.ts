/**
 * Merging models by arithmetic on their weights. A model is its weights as a list of Float32Arrays
 * in model order (`Weights`); every model handed to one call has the same architecture (checked
 * first by compatibility.ts), so lists line up position by position. Sums run in float64 and are
 * rounded to float32 once, so averaging copies of one model returns it bit for bit.
 *
 * - uniform soup: θ = (1/K)·Σ θ_i; weighted: θ = Σ w_i·θ_i / Σ w_i (Wortsman et al. 2022);
 * - linear combination: θ = Σ c_i·θ_i with any coefficients (LCSC, Liu et al. 2024);
 * - task arithmetic: θ = θ_base + λ·Σ s_i·(θ_i − θ_base) (Ilharco et al. 2023); λ < 0 (or a negative
 *   s_i) subtracts a task vector, which makes the model forget that task.
 */
import { DistilleryError } from '../../base/errors';

/** The weights of one model, position by position in model order. */
export type Weights = readonly Float32Array[];

/** A list of models that every merge needs: at least one, all with the same weight sizes. */
function checkAligned(models: readonly Weights[], what: string): void {
  if (models.length === 0) {
    throw new DistilleryError('MISSING_INPUT', `${what} needs at least one model`, {
      expected: 'at least one model',
      received: 0,
    });
  }
  const first = models[0]!;
  models.forEach((model, index) => {
    const sizesDiffer =
      model.length !== first.length || model.some((values, i) => values.length !== first[i]!.length);
    if (sizesDiffer) {
      throw new DistilleryError(
        'INCOMPATIBLE_INPUTS',
        `${what}: model ${index + 1} does not have the weight sizes of model 1`,
        {
          expected: first.map((values) => values.length).join(', '),
          received: model.map((v) => v.length).join(', '),
          index,
        },
      );
    }
  });
}

/** Σ c_i·θ_i, accumulated in float64. */
export function linearCombination(
  models: readonly Weights[],
  coefficients: readonly number[],
): Float32Array[] {
  checkAligned(models, 'A linear combination');
  if (coefficients.length !== models.length) {
    throw new DistilleryError(
      'PARAM_INVALID',
      `A linear combination of ${models.length} models needs ${models.length} coefficients, got ${coefficients.length}`,
      { expected: `${models.length} coefficients`, received: coefficients.length },
    );
  }
  return models[0]!.map((first, w) => {
    const sum = new Float64Array(first.length);
    models.forEach((model, m) => {
      const c = coefficients[m]!;
      if (c === 0) return;
      const values = model[w]!;
      for (let i = 0; i < sum.length; i++) sum[i]! += c * values[i]!;
    });
    return Float32Array.from(sum);
  });
}

/** Σ θ_i / divisor, accumulated in float64 (the sum first, so that K copies of θ give θ exactly). */
function scaledSum(models: readonly Weights[], factors: readonly number[], divisor: number): Float32Array[] {
  return models[0]!.map((first, w) => {
    const sum = new Float64Array(first.length);
    models.forEach((model, m) => {
      const factor = factors[m]!;
      const values = model[w]!;
      for (let i = 0; i < sum.length; i++) sum[i]! += factor * values[i]!;
    });
    for (let i = 0; i < sum.length; i++) sum[i]! /= divisor;
    return Float32Array.from(sum);
  });
}

/** The uniform soup: the mean of the models' weights. */
export function uniformAverage(models: readonly Weights[]): Float32Array[] {
  checkAligned(models, 'Averaging');
  return scaledSum(
    models,
    models.map(() => 1),
    models.length,
  );
}

/**
 * Σ w_i·θ_i / Σ w_i. The weights need not sum to 1 but their sum must not be 0; one per model.
 * PARAM_INVALID names the `weights` param otherwise.
 */
export function weightedAverage(models: readonly Weights[], weights: readonly number[]): Float32Array[] {
  checkAligned(models, 'Weighted averaging');
  if (weights.length !== models.length) {
    throw new DistilleryError(
      'PARAM_INVALID',
      `weights must give one weight per model: ${models.length} models, ${weights.length} weights`,
      { param: 'weights', expected: `${models.length} numbers`, received: weights },
    );
  }
  const total = weights.reduce((a, b) => a + b, 0);
  if (!Number.isFinite(total) || total === 0) {
    throw new DistilleryError('PARAM_INVALID', `weights must not sum to 0, got ${JSON.stringify(weights)}`, {
      param: 'weights',
      expected: 'weights with a non-zero sum',
      received: weights,
    });
  }
  return scaledSum(models, weights, total);
}

/** τ_i = θ_i − θ_base for each model, in float32 (what TIES trims). */
export function taskVectors(base: Weights, models: readonly Weights[]): Float32Array[][] {
  checkAligned([base, ...models], 'Task vectors');
  return models.map((model) =>
    model.map((values, w) => {
      const origin = base[w]!;
      const out = new Float32Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = values[i]! - origin[i]!;
      return out;
    }),
  );
}

/**
 * θ_base + λ·Σ s_i·(θ_i − θ_base), in float64; `scales` (s_i, default 1 each) weigh or negate
 * single task vectors. λ = 0 returns the base exactly.
 */
export function taskArithmetic(
  base: Weights,
  models: readonly Weights[],
  lambda: number,
  scales: readonly number[] = models.map(() => 1),
): Float32Array[] {
  checkAligned([base, ...models], 'Task arithmetic');
  if (scales.length !== models.length) {
    throw new DistilleryError(
      'PARAM_INVALID',
      `weights must give one scale per task vector: ${models.length} models, ${scales.length} weights`,
      { param: 'weights', expected: `${models.length} numbers`, received: scales },
    );
  }
  return base.map((origin, w) => {
    const delta = new Float64Array(origin.length);
    models.forEach((model, m) => {
      const scale = scales[m]!;
      if (scale === 0) return;
      const values = model[w]!;
      for (let i = 0; i < delta.length; i++) delta[i]! += scale * (values[i]! - origin[i]!);
    });
    const out = new Float32Array(origin.length);
    for (let i = 0; i < out.length; i++) out[i] = origin[i]! + lambda * delta[i]!;
    return out;
  });
}

/** θ_base + λ·τ for one (merged) task vector τ. */
export function addTaskVector(base: Weights, vector: Weights, lambda: number): Float32Array[] {
  checkAligned([base, vector], 'Adding a task vector');
  return base.map((origin, w) => {
    const values = vector[w]!;
    const out = new Float32Array(origin.length);
    for (let i = 0; i < out.length; i++) out[i] = origin[i]! + lambda * values[i]!;
    return out;
  });
}
