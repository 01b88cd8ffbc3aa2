/**
 * Validation of a pipeline's `sweep` block against the pipeline and the node catalog, in the style
 * of pipeline validation: every problem is returned at once, each with a code, a JSON pointer into
 * the block (`/sweep/space/fit.learningRate/logUniform/1`), the node and param where there is one,
 * what was expected and what was received. A valid block resolves to a {@link ResolvedSweep}: the
 * search space, the scheduler with its defaults filled in, and the budget.
 *
 * The pipeline validator calls {@link validateSweep} for a document that has a `sweep`; problems
 * of the pipeline itself (unknown node types, bad params) are its own to report and are not
 * repeated here.
 */
import type { ValidationIssue } from '../../../preload/contract';
import type { NodeCatalog } from '../../nodes/catalog';
import { enumerateGrid } from './grid-sampler';
import { hyperbandIterationSize } from './hyperband';
import type { ResolvedSweep } from './resolved-sweep';
import { checkObjective, checkObjectiveValidation, resolveScheduler } from './scheduler-checks';
import { isCategorical, SearchSpace } from './space';
import { checkSpace } from './space-checks';
import {
  MAX_CONCURRENCY,
  MAX_TRIALS,
  SWEEP_ALGORITHMS,
  SWEEP_DEFAULTS,
  type SweepAlgorithm,
  type SweepSpec,
} from './spec';
import { isInteger, isObject, quote, segment, SweepIssues, sweepContext } from './sweep-checks';

const TOP_FIELDS = ['objective', 'space', 'algorithm', 'scheduler', 'trials', 'concurrency', 'seed'];

/** Checks `sweep` against the pipeline `doc`; returns every issue and, when there are none, the resolved sweep. */
export function resolveSweep(
  sweep: unknown,
  doc: unknown,
  catalog: NodeCatalog,
): { issues: ValidationIssue[]; sweep?: ResolvedSweep } {
  const issues = new SweepIssues();
  if (!isObject(sweep)) {
    issues.add('SWEEP_INVALID', '/sweep', `"sweep" must be an object, got ${quote(sweep)}`, {
      expected: 'an object with objective, space and the search settings',
      received: sweep,
    });
    return { issues: issues.items };
  }
  const context = sweepContext(doc, catalog, issues);
  issues.unknownFields(sweep, TOP_FIELDS, '/sweep', 'Sweep');

  // Objective.
  const objective = checkObjective(sweep, context);

  // Space: each key, its domain; then the conditions.
  const { params, byKey, fixed, ordered } = checkSpace(sweep, context);

  // Algorithm.
  let algorithm: SweepAlgorithm = SWEEP_DEFAULTS.algorithm;
  if (sweep.algorithm !== undefined) {
    if (
      typeof sweep.algorithm === 'string' &&
      (SWEEP_ALGORITHMS as readonly string[]).includes(sweep.algorithm)
    ) {
      algorithm = sweep.algorithm as SweepAlgorithm;
    } else {
      issues.add(
        'SWEEP_INVALID',
        '/sweep/algorithm',
        `Sweep: "algorithm" must be one of ${SWEEP_ALGORITHMS.join(', ')}, got ${quote(sweep.algorithm)}`,
        {
          expected: `one of ${SWEEP_ALGORITHMS.join(', ')}`,
          received: sweep.algorithm,
        },
      );
    }
  }
  if (algorithm === 'grid') {
    for (const param of params) {
      if (!isCategorical(param.domain)) {
        issues.add(
          'SWEEP_PARAM_KIND',
          `/sweep/space/${segment(param.key)}`,
          `Sweep "${param.key}": the grid algorithm enumerates grid and choice params only, and this one is ${param.domain.kind}; list its values with "grid"`,
          {
            expected: 'grid or choice',
            received: param.domain.kind,
            nodeId: param.nodeId,
            param: param.param,
          },
        );
      }
    }
  }

  // Scheduler.
  const scheduler = resolveScheduler(sweep, context, objective, { params, byKey });

  checkObjectiveValidation(context, objective, byKey);

  // Budget.
  const space = ordered ? new SearchSpace(ordered, fixed) : undefined;
  let gridSize: number | undefined;
  if (algorithm === 'grid' && space && params.every((param) => isCategorical(param.domain))) {
    const points = enumerateGrid(space);
    if (!points) {
      issues.add('SWEEP_INVALID', '/sweep/space', `Sweep: the grid has more than ${MAX_TRIALS} points`, {
        expected: `at most ${MAX_TRIALS} grid points`,
        received: 'more',
      });
    } else gridSize = points.length;
  }
  let trials: number | undefined;
  if (sweep.trials !== undefined) {
    if (!isInteger(sweep.trials) || sweep.trials < 1 || sweep.trials > MAX_TRIALS) {
      issues.add(
        'SWEEP_INVALID',
        '/sweep/trials',
        `Sweep: "trials" must be an integer from 1 to ${MAX_TRIALS}, got ${quote(sweep.trials)}`,
        {
          expected: `an integer from 1 to ${MAX_TRIALS}`,
          received: sweep.trials,
        },
      );
    } else if (gridSize !== undefined && sweep.trials > gridSize) {
      issues.add(
        'SWEEP_INVALID',
        '/sweep/trials',
        `Sweep: "trials" is ${sweep.trials}, but the grid has only ${gridSize} points`,
        {
          expected: `at most ${gridSize}`,
          received: sweep.trials,
        },
      );
    } else trials = sweep.trials;
  } else if (algorithm === 'grid') {
    trials = gridSize;
  } else if (scheduler?.type === 'hyperband') {
    trials = hyperbandIterationSize(scheduler.min, scheduler.max, scheduler.reductionFactor);
  } else {
    issues.add('SWEEP_INVALID', '/sweep/trials', `Sweep: "trials" is required with algorithm ${algorithm}`, {
      expected: `an integer from 1 to ${MAX_TRIALS}`,
      received: undefined,
    });
  }
  if (trials !== undefined && scheduler?.type === 'pbt' && trials < 2) {
    issues.add(
      'SWEEP_INVALID',
      '/sweep/trials',
      `Sweep: population-based training needs a population of at least 2 trials, got ${trials}`,
      {
        expected: 'an integer ≥ 2',
        received: trials,
      },
    );
  }
  const concurrency = sweep.concurrency ?? SWEEP_DEFAULTS.concurrency;
  if (!isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    issues.add(
      'SWEEP_INVALID',
      '/sweep/concurrency',
      `Sweep: "concurrency" must be an integer from 1 to ${MAX_CONCURRENCY}, got ${quote(concurrency)}`,
      {
        expected: `an integer from 1 to ${MAX_CONCURRENCY}`,
        received: concurrency,
      },
    );
  }
  const docSeed =
    isObject(doc) && isInteger(doc.seed) && doc.seed >= 0 && doc.seed <= 0xffffffff ? doc.seed : 0;
  const seed = sweep.seed ?? docSeed;
  if (!isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    issues.add(
      'SWEEP_INVALID',
      '/sweep/seed',
      `Sweep: "seed" must be an integer from 0 to 4294967295, got ${quote(seed)}`,
      {
        expected: 'an integer from 0 to 4294967295',
        received: seed,
      },
    );
  }

  if (issues.items.length > 0 || !objective || !space || !scheduler || trials === undefined) {
    return { issues: issues.items };
  }
  return {
    issues: [],
    sweep: {
      objective,
      space,
      algorithm,
      scheduler,
      trials,
      concurrency: concurrency as number,
      seed: seed as number,
      spec: structuredClone(sweep) as unknown as SweepSpec,
    },
  };
}

/**
 * Every problem with a pipeline's `sweep` block (empty when it is valid). For the pipeline
 * validator: `for (const item of validateSweep(doc.sweep, doc, catalog)) issues.add(item);`.
 */
export function validateSweep(sweep: unknown, doc: unknown, catalog: NodeCatalog): ValidationIssue[] {
  return resolveSweep(sweep, doc, catalog).issues;
}
