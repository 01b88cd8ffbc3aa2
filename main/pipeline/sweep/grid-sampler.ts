/**
 * Grid search: every combination of the space's values, each exactly once. Order: the params in
 * the space's order (as written, except that a param with `when` comes after the params it names),
 * the last one varying fastest, like nested loops; a param whose condition does not hold in a
 * combination is left out of it rather than multiplying it, so no configuration repeats.
 */
import { DistilleryError } from '../../base/errors';
import type { Sampler } from './sampler';
import { cloneJson, isCategorical, type SearchSpace, type TrialParams } from './space';
import { MAX_TRIALS } from './spec';

/**
 * Every grid point in order, or undefined when there are more than `limit`. Only `grid` and
 * `choice` params can be enumerated; validation refuses the grid algorithm with other kinds.
 */
export function enumerateGrid(space: SearchSpace, limit = MAX_TRIALS): TrialParams[] | undefined {
  let points: TrialParams[] = [{}];
  for (const param of space.params) {
    const domain = param.domain;
    if (!isCategorical(domain)) {
      throw new DistilleryError(
        'SWEEP_PARAM_KIND',
        `Sweep "${param.key}": a ${domain.kind} param cannot be enumerated`,
        {
          nodeId: param.nodeId,
          param: param.param,
          expected: 'grid or choice',
          received: domain.kind,
        },
      );
    }
    const next: TrialParams[] = [];
    for (const point of points) {
      if (!space.isActive(param, point)) {
        next.push(point);
        continue;
      }
      for (const value of domain.values) next.push({ ...point, [param.key]: cloneJson(value) });
      if (next.length > limit) return undefined;
    }
    points = next;
  }
  return points;
}

export class GridSampler implements Sampler {
  readonly algorithm = 'grid';
  private readonly points: readonly TrialParams[];

  /** @throws DistilleryError `SWEEP_INVALID` when the grid has more than {@link MAX_TRIALS} points. */
  constructor(space: SearchSpace) {
    const points = enumerateGrid(space);
    if (!points) {
      throw new DistilleryError('SWEEP_INVALID', `The sweep's grid has more than ${MAX_TRIALS} points`, {
        expected: `at most ${MAX_TRIALS} grid points`,
      });
    }
    this.points = points;
  }

  get size(): number {
    return this.points.length;
  }

  /** @throws DistilleryError `SWEEP_INVALID` past the grid's last point. */
  propose(index: number): TrialParams {
    const point = this.points[index];
    if (!point) {
      throw new DistilleryError(
        'SWEEP_INVALID',
        `The sweep's grid has ${this.points.length} points; there is no trial ${index}`,
        {
          expected: `a trial index below ${this.points.length}`,
          received: index,
        },
      );
    }
    return structuredClone(point);
  }
}
