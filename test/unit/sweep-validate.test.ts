/**
 * Validation of the `sweep` block: the issue's example resolves with its defaults filled in, and
 * every refusal comes with its code, its JSON pointer and the node and param it concerns.
 */
import { describe, expect, it } from 'vitest';
import type { PipelineDoc, ValidationIssue } from '../../preload/contract';
import { isErrorCode } from '../../main/base/errors';
import { createDefaultCatalog } from '../../main/nodes/index';
import {
  AshaScheduler,
  createSampler,
  createScheduler,
  GridSampler,
  HyperbandScheduler,
  PbtScheduler,
  RandomSampler,
  resolveSweep,
  TpeSampler,
  validateSweep,
} from '../../main/pipeline/sweep/index';
import { mnistMlpPipeline } from '../helpers/pipelines';

const catalog = createDefaultCatalog();

function pipeline(
  overrides: { data?: Record<string, unknown>; fit?: Record<string, unknown> } = {},
): PipelineDoc {
  return mnistMlpPipeline({
    data: { trainLimit: 2000, testLimit: 1000, validationSplit: 0.1, ...overrides.data },
    fit: { epochs: 27, batchSize: 64, optimizer: 'adam', ...overrides.fit },
  });
}

/** The issue's example, with the optimizer swept so that momentum's condition can hold. */
function example(): Record<string, unknown> {
  return {
    objective: { node: 'score', metric: 'accuracy', mode: 'max' },
    space: {
      'fit.learningRate': { logUniform: [0.0001, 0.1] },
      'fit.batchSize': { choice: [32, 64, 128] },
      'net.hidden': { choice: [[128], [300, 100], [512, 256]] },
      'fit.optimizer': { choice: ['adam', 'momentum'] },
      'fit.momentum': { uniform: [0.5, 0.99], when: { 'fit.optimizer': 'momentum' } },
    },
    algorithm: 'tpe',
    scheduler: { type: 'asha', resource: 'fit.epochs', min: 1, max: 27, reductionFactor: 3 },
    trials: 32,
    concurrency: 2,
    seed: 1,
  };
}

type Sweep = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests edit arbitrary JSON

/** The example with `edit` applied to a copy. */
function edited(edit: (sweep: Sweep) => void): Sweep {
  const sweep = example() as Sweep;
  edit(sweep);
  return sweep;
}

function issuesOf(sweep: unknown, doc: PipelineDoc = pipeline()): ValidationIssue[] {
  return validateSweep(sweep, doc, catalog);
}

/** Asserts that the sweep yields exactly one issue, with these fields. */
function expectOnly(sweep: unknown, expected: Partial<ValidationIssue>, doc?: PipelineDoc): ValidationIssue {
  const issues = issuesOf(sweep, doc);
  expect(issues, JSON.stringify(issues, null, 1)).toHaveLength(1);
  expect(issues[0]).toMatchObject(expected);
  return issues[0]!;
}

describe('resolveSweep', () => {
  it('accepts the issue’s example and fills in the scheduler’s metric', () => {
    const { issues, sweep } = resolveSweep(example(), pipeline(), catalog);
    expect(issues).toEqual([]);
    expect(sweep).toMatchObject({
      objective: { node: 'score', metric: 'accuracy', mode: 'max' },
      algorithm: 'tpe',
      scheduler: {
        type: 'asha',
        resource: 'fit.epochs',
        nodeId: 'fit',
        param: 'epochs',
        min: 1,
        max: 27,
        reductionFactor: 3,
        metric: 'val_accuracy',
        mode: 'max',
      },
      trials: 32,
      concurrency: 2,
      seed: 1,
    });
    expect(sweep!.space.keys).toEqual([
      'fit.learningRate',
      'fit.batchSize',
      'net.hidden',
      'fit.optimizer',
      'fit.momentum',
    ]);
    expect(sweep!.space.get('fit.momentum')!.when).toEqual([{ key: 'fit.optimizer', value: 'momentum' }]);
    expect(createSampler(sweep!)).toBeInstanceOf(TpeSampler);
    const scheduler = createScheduler(sweep!);
    expect(scheduler).toBeInstanceOf(AshaScheduler);
    expect((scheduler as AshaScheduler).rungs).toEqual([1, 3, 9]);
  });

  it('fills in defaults: random search, the pipeline’s seed and budget, one trial at a time', () => {
    const { sweep } = resolveSweep(
      {
        objective: { node: 'fit', metric: 'val_loss', mode: 'min' },
        space: { 'fit.learningRate': { logUniform: [0.0001, 0.1] } },
        scheduler: { type: 'asha', resource: 'fit.epochs' },
        trials: 8,
      },
      pipeline(),
      catalog,
    );
    expect(sweep).toMatchObject({
      algorithm: 'random',
      seed: 42,
      concurrency: 1,
      // The objective is the resource node's own validation metric: the scheduler reads it too.
      scheduler: { min: 1, max: 27, reductionFactor: 3, metric: 'val_loss', mode: 'min' },
    });
    expect(createSampler(sweep!)).toBeInstanceOf(RandomSampler);
  });

  it('counts a grid’s points and one Hyperband iteration as default budgets', () => {
    const grid = resolveSweep(
      {
        objective: { node: 'score', metric: 'loss', mode: 'min' },
        space: { 'fit.batchSize': { grid: [32, 64] }, 'fit.optimizer': { choice: ['sgd', 'adam', 'lion'] } },
        algorithm: 'grid',
      },
      pipeline(),
      catalog,
    ).sweep!;
    expect(grid.trials).toBe(6);
    expect(createSampler(grid)).toBeInstanceOf(GridSampler);
    const hyperband = resolveSweep(
      edited((sweep) => {
        sweep.scheduler = { type: 'hyperband', resource: 'fit.epochs', max: 81 };
        delete sweep.trials;
      }),
      pipeline(),
      catalog,
    ).sweep!;
    expect(hyperband.trials).toBe(143);
    expect(createScheduler(hyperband)).toBeInstanceOf(HyperbandScheduler);
  });

  it('gives PBT Ray’s defaults and the resource node’s numeric params as mutable', () => {
    const { issues, sweep } = resolveSweep(
      edited((sweep) => (sweep.scheduler = { type: 'pbt', resource: 'fit.epochs', interval: 3 })),
      pipeline(),
      catalog,
    );
    expect(issues).toEqual([]);
    expect(sweep!.scheduler).toEqual({
      type: 'pbt',
      resource: 'fit.epochs',
      nodeId: 'fit',
      param: 'epochs',
      metric: 'val_accuracy',
      mode: 'max',
      max: 27,
      interval: 3,
      quantile: 0.25,
      resampleProbability: 0.25,
      perturbation: [0.8, 1.2],
      mutable: ['fit.learningRate', 'fit.momentum'],
    });
    expect(createScheduler(sweep!)).toBeInstanceOf(PbtScheduler);
  });

  it('accepts a condition on an unswept param the pipeline sets to the required value', () => {
    const sweep = edited((sweep) => delete sweep.space['fit.optimizer']);
    expect(issuesOf(sweep, pipeline({ fit: { optimizer: 'momentum' } }))).toEqual([]);
    const resolved = resolveSweep(sweep, pipeline({ fit: { optimizer: 'momentum' } }), catalog).sweep!;
    expect(resolved.space.isActive(resolved.space.get('fit.momentum')!, {})).toBe(true);
  });

  it('accepts a swept validation split that is always above 0', () => {
    const doc = pipeline({ data: { validationSplit: 0 } });
    expect(
      issuesOf(
        edited((sweep) => (sweep.space['fit.validationSplit'] = { uniform: [0.1, 0.3] })),
        doc,
      ),
    ).toEqual([]);
  });

  it('reports every problem at once, each with a known code', () => {
    const issues = issuesOf({
      objective: { node: 'nope', metric: 'accuracy', mode: 'up' },
      space: { 'fit.learningRate': { uniform: [1, 20] }, 'fit.nope': { choice: [1] } },
      algorithm: 'bayes',
      trials: 0,
      budget: 3,
    });
    expect(issues.map((issue) => issue.pointer)).toEqual([
      '/sweep/budget',
      '/sweep/objective/node',
      '/sweep/objective/mode',
      '/sweep/space/fit.learningRate/uniform/1',
      '/sweep/space/fit.nope',
      '/sweep/algorithm',
      '/sweep/trials',
    ]);
    for (const issue of issues) expect(isErrorCode(issue.code), issue.code).toBe(true);
  });

  it('copes with a broken or huge pipeline: no throw, short messages', () => {
    for (const doc of [undefined, { nodes: 'many' }, { nodes: [null, { id: 3 }], edges: [{ from: 1 }] }]) {
      const issues = validateSweep(example(), doc, catalog);
      expect(issues.length).toBeGreaterThan(0);
      expect(issues.every((issue) => issue.code.startsWith('SWEEP_'))).toBe(true);
    }
    const huge = pipeline();
    for (let i = 0; i < 5000; i++) huge.nodes.push({ id: `extra${i}`, type: 'evaluate', params: {} });
    const issue = expectOnly(
      edited((sweep) => (sweep.objective.node = 'eval')),
      { code: 'SWEEP_OBJECTIVE', pointer: '/sweep/objective/node' },
      huge,
    );
    expect(issue.expected).toMatch(/extra5 and 4994 more$/);
  });

  it('leaves nodes of unknown types to the pipeline validator', () => {
    const doc = pipeline();
    doc.nodes[2]!.type = 'train.v9';
    const issues = issuesOf(
      edited((sweep) => delete sweep.scheduler),
      doc,
    );
    expect(issues).toEqual([]);
  });
});

describe('validateSweep refusals', () => {
  it('SWEEP_INVALID: the block and its settings', () => {
    expectOnly('fast', { code: 'SWEEP_INVALID', pointer: '/sweep' });
    expectOnly(
      edited((sweep) => (sweep.space = {})),
      { code: 'SWEEP_INVALID', pointer: '/sweep/space' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.batchSize'] = [32, 64])),
      { code: 'SWEEP_INVALID', pointer: '/sweep/space/fit.batchSize', nodeId: 'fit', param: 'batchSize' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.learningRate'] = { uniform: [0.1, 1], logUniform: [0.1, 1] })),
      {
        code: 'SWEEP_INVALID',
        pointer: '/sweep/space/fit.learningRate',
        received: ['uniform', 'logUniform'],
      },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.learningRate'].log = true)),
      { code: 'SWEEP_INVALID', pointer: '/sweep/space/fit.learningRate/log' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.batchSize'] = { choice: [] })),
      { code: 'SWEEP_INVALID', pointer: '/sweep/space/fit.batchSize/choice' },
    );
    expectOnly(
      edited((sweep) => {
        sweep.algorithm = 'grid';
        sweep.space = { 'fit.batchSize': { grid: [32, 64, 32] } };
        delete sweep.trials;
      }),
      { code: 'SWEEP_INVALID', pointer: '/sweep/space/fit.batchSize/grid/2', received: 32 },
    );
    expectOnly(
      edited((sweep) => (sweep.algorithm = 'bayes')),
      { code: 'SWEEP_INVALID', pointer: '/sweep/algorithm', received: 'bayes' },
    );
    expectOnly(
      edited((sweep) => (sweep.trials = 2.5)),
      { code: 'SWEEP_INVALID', pointer: '/sweep/trials' },
    );
    const missing = expectOnly(
      edited((sweep) => delete sweep.trials),
      { code: 'SWEEP_INVALID', pointer: '/sweep/trials' },
    );
    expect(missing.message).toMatch(/required with algorithm tpe/);
    expectOnly(
      edited((sweep) => {
        sweep.algorithm = 'grid';
        sweep.space = { 'fit.batchSize': { grid: [32, 64] } };
        sweep.trials = 3;
      }),
      { code: 'SWEEP_INVALID', pointer: '/sweep/trials', expected: 'at most 2' },
    );
    expectOnly(
      edited((sweep) => {
        sweep.scheduler = { type: 'pbt', resource: 'fit.epochs', interval: 3 };
        sweep.trials = 1;
      }),
      { code: 'SWEEP_INVALID', pointer: '/sweep/trials' },
    );
    expectOnly(
      edited((sweep) => (sweep.concurrency = 0)),
      { code: 'SWEEP_INVALID', pointer: '/sweep/concurrency' },
    );
    expectOnly(
      edited((sweep) => (sweep.seed = -1)),
      { code: 'SWEEP_INVALID', pointer: '/sweep/seed' },
    );
  });

  it('UNKNOWN_FIELD: in the block, a domain and the scheduler', () => {
    expectOnly(
      edited((sweep) => (sweep.maxTrials = 3)),
      { code: 'UNKNOWN_FIELD', pointer: '/sweep/maxTrials' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.learningRate'].step = 0.01)),
      { code: 'UNKNOWN_FIELD', pointer: '/sweep/space/fit.learningRate/step' },
    );
    expectOnly(
      edited((sweep) => (sweep.scheduler.gracePeriod = 1)),
      { code: 'UNKNOWN_FIELD', pointer: '/sweep/scheduler/gracePeriod' },
    );
    expectOnly(
      edited((sweep) => (sweep.scheduler.interval = 2)),
      {
        code: 'UNKNOWN_FIELD',
        pointer: '/sweep/scheduler/interval',
        expected: expect.stringContaining('reductionFactor'),
      },
    );
  });

  it('SWEEP_UNKNOWN_PARAM: space keys and the resource that name no node param', () => {
    const noNode = expectOnly(
      edited((sweep) => (sweep.space['optimiser.learningRate'] = { uniform: [0, 1] })),
      { code: 'SWEEP_UNKNOWN_PARAM', pointer: '/sweep/space/optimiser.learningRate', nodeId: 'optimiser' },
    );
    expect(noNode.message).toBe('Sweep "optimiser.learningRate": the pipeline has no node "optimiser"');
    const noParam = expectOnly(
      edited((sweep) => (sweep.space['fit.lr'] = { uniform: [0, 1] })),
      { code: 'SWEEP_UNKNOWN_PARAM', pointer: '/sweep/space/fit.lr', nodeId: 'fit', param: 'lr' },
    );
    expect(noParam.expected).toMatch(/^a param of train: epochs, batchSize, optimizer, learningRate/);
    expectOnly(
      edited((sweep) => (sweep.space.learningRate = { uniform: [0, 1] })),
      {
        code: 'SWEEP_UNKNOWN_PARAM',
        pointer: '/sweep/space/learningRate',
        expected: '"node.param", e.g. "fit.learningRate"',
      },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit/a.b'] = { uniform: [0, 1] })),
      { code: 'SWEEP_UNKNOWN_PARAM', pointer: '/sweep/space/fit~1a.b' },
    );
    expectOnly(
      edited((sweep) => (sweep.scheduler.resource = 'fit.iterations')),
      {
        code: 'SWEEP_UNKNOWN_PARAM',
        pointer: '/sweep/scheduler/resource',
        nodeId: 'fit',
        param: 'iterations',
      },
    );
  });

  it('SWEEP_PARAM_KIND: a domain kind the param cannot take', () => {
    const uniformOnInteger = expectOnly(
      edited((sweep) => (sweep.space['fit.batchSize'] = { uniform: [16, 256] })),
      {
        code: 'SWEEP_PARAM_KIND',
        pointer: '/sweep/space/fit.batchSize/uniform',
        nodeId: 'fit',
        param: 'batchSize',
        received: 'integer',
      },
    );
    expect(uniformOnInteger.message).toMatch(/use \{"int": \[low, high\]\}/);
    expectOnly(
      edited((sweep) => (sweep.space['fit.learningRate'] = { int: [1, 5] })),
      { code: 'SWEEP_PARAM_KIND', pointer: '/sweep/space/fit.learningRate/int', received: 'number' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.optimizer'] = { uniform: [0, 1] })),
      { code: 'SWEEP_PARAM_KIND', pointer: '/sweep/space/fit.optimizer/uniform', received: 'choice' },
    );
    expectOnly(
      edited((sweep) => {
        sweep.algorithm = 'grid';
        sweep.space = {
          'fit.learningRate': { logUniform: [0.0001, 0.1] },
          'fit.batchSize': { grid: [32, 64] },
        };
        delete sweep.trials;
      }),
      { code: 'SWEEP_PARAM_KIND', pointer: '/sweep/space/fit.learningRate', received: 'logUniform' },
    );
  });

  it('SWEEP_RANGE: bounds and values outside the param’s own range', () => {
    const tooHigh = expectOnly(
      edited((sweep) => (sweep.space['fit.learningRate'] = { uniform: [0.1, 20] })),
      {
        code: 'SWEEP_RANGE',
        pointer: '/sweep/space/fit.learningRate/uniform/1',
        received: 20,
        expected: '0 ≤ value ≤ 10',
      },
    );
    expect(tooHigh.message).toBe(
      'Sweep "fit.learningRate": the high bound 20 is outside learningRate\'s range: it must be 0 ≤ value ≤ 10',
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.momentum'].uniform = [0.5, 1])),
      { code: 'SWEEP_RANGE', pointer: '/sweep/space/fit.momentum/uniform/1', expected: '0 ≤ value < 1' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.learningRate'] = { uniform: [0.1, 0.1] })),
      { code: 'SWEEP_RANGE', pointer: '/sweep/space/fit.learningRate/uniform', expected: 'low < high' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.learningRate'] = { logUniform: [0, 0.1] })),
      { code: 'SWEEP_RANGE', pointer: '/sweep/space/fit.learningRate/logUniform/0', expected: 'low > 0' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.warmupSteps'] = { int: [0, 256], log: true })),
      { code: 'SWEEP_RANGE', pointer: '/sweep/space/fit.warmupSteps/int/0', expected: 'low ≥ 1' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.batchSize'] = { int: [16.5, 256] })),
      { code: 'SWEEP_RANGE', pointer: '/sweep/space/fit.batchSize/int' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.batchSize'].choice = [32, 0, 128])),
      {
        code: 'SWEEP_RANGE',
        pointer: '/sweep/space/fit.batchSize/choice/1',
        received: 0,
        nodeId: 'fit',
        param: 'batchSize',
      },
    );
    expectOnly(
      edited((sweep) => (sweep.space['net.hidden'].choice = [[128], [300, -1]])),
      { code: 'SWEEP_RANGE', pointer: '/sweep/space/net.hidden/choice/1' },
    );
    expectOnly(
      edited((sweep) => (sweep.scheduler.max = 20_000)),
      { code: 'SWEEP_RANGE', pointer: '/sweep/scheduler/max', received: 20_000 },
    );
  });

  it('SWEEP_CONDITION: conditions that name nothing, never hold, or go round in a cycle', () => {
    expectOnly(
      edited((sweep) => (sweep.space['fit.momentum'].when = 'momentum')),
      { code: 'SWEEP_CONDITION', pointer: '/sweep/space/fit.momentum/when' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.momentum'].when = { 'fit.solver': 'momentum' })),
      { code: 'SWEEP_CONDITION', pointer: '/sweep/space/fit.momentum/when/fit.solver', param: 'solver' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.momentum'].when = { 'fit.momentum': 0.9 })),
      { code: 'SWEEP_CONDITION', pointer: '/sweep/space/fit.momentum/when/fit.momentum' },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.momentum'].when = { 'fit.optimizer': 'rmsprop' })),
      {
        code: 'SWEEP_CONDITION',
        pointer: '/sweep/space/fit.momentum/when/fit.optimizer',
        received: 'rmsprop',
      },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.momentum'].when = { 'fit.optimizer': 'sgd' })),
      {
        code: 'SWEEP_CONDITION',
        pointer: '/sweep/space/fit.momentum/when/fit.optimizer',
        expected: 'one of ["adam","momentum"]',
      },
    );
    expectOnly(
      edited((sweep) => (sweep.space['fit.momentum'].when = { 'fit.learningRate': 0.01 })),
      { code: 'SWEEP_CONDITION', pointer: '/sweep/space/fit.momentum/when/fit.learningRate' },
    );
    const fixed = expectOnly(
      edited((sweep) => delete sweep.space['fit.optimizer']),
      {
        code: 'SWEEP_CONDITION',
        pointer: '/sweep/space/fit.momentum/when/fit.optimizer',
        nodeId: 'fit',
        param: 'optimizer',
      },
    );
    expect(fixed.message).toMatch(
      /never holds: the pipeline sets it to "adam" and the sweep does not vary it/,
    );
    // Each depending on the other: the cycle, and a condition on a continuous param.
    expect(
      issuesOf(edited((sweep) => (sweep.space['fit.optimizer'].when = { 'fit.momentum': 0.9 }))).map(
        (issue) => `${issue.code} ${issue.pointer}`,
      ),
    ).toEqual([
      'SWEEP_CONDITION /sweep/space/fit.optimizer/when/fit.momentum',
      'SWEEP_CONDITION /sweep/space/fit.optimizer/when',
    ]);
    expectOnly(
      edited((sweep) => {
        sweep.space['fit.batchSize'].when = { 'net.hidden': [128] };
        sweep.space['net.hidden'].when = { 'fit.batchSize': 32 };
      }),
      {
        code: 'SWEEP_CONDITION',
        pointer: '/sweep/space/fit.batchSize/when',
        received: ['fit.batchSize', 'net.hidden'],
      },
    );
  });

  it('SWEEP_OBJECTIVE: a node or metric that is not there, a mode that is not min or max', () => {
    expectOnly(
      edited((sweep) => (sweep.objective = 'accuracy')),
      { code: 'SWEEP_OBJECTIVE', pointer: '/sweep/objective' },
    );
    expectOnly(
      edited((sweep) => (sweep.objective.node = 'eval')),
      { code: 'SWEEP_OBJECTIVE', pointer: '/sweep/objective/node', received: 'eval' },
    );
    const metric = expectOnly(
      edited((sweep) => (sweep.objective.metric = 'f1')),
      { code: 'SWEEP_OBJECTIVE', pointer: '/sweep/objective/metric', nodeId: 'score', received: 'f1' },
    );
    expect(metric.expected).toMatch(/^a metric of evaluate: accuracy, loss/);
    const silent = expectOnly(
      edited((sweep) => (sweep.objective = { node: 'data', metric: 'accuracy', mode: 'max' })),
      { code: 'SWEEP_OBJECTIVE', pointer: '/sweep/objective/metric', nodeId: 'data' },
    );
    expect(silent.message).toMatch(/reports no metric a sweep can read/);
    expectOnly(
      edited((sweep) => (sweep.objective.mode = 'maximise')),
      { code: 'SWEEP_OBJECTIVE', pointer: '/sweep/objective/mode' },
    );
  });

  it('SWEEP_SCHEDULER: every field of the schedulers', () => {
    const cases: Array<[edit: (scheduler: Sweep) => void, pointer: string]> = [
      [(s) => (s.type = 'median'), '/sweep/scheduler/type'],
      [(s) => delete s.resource, '/sweep/scheduler/resource'],
      [(s) => (s.resource = 'fit.learningRate'), '/sweep/scheduler/resource'],
      [(s) => (s.resource = 'score.batchSize'), '/sweep/scheduler/resource'],
      [(s) => (s.min = 0), '/sweep/scheduler/min'],
      [(s) => (s.min = 27), '/sweep/scheduler/max'],
      [(s) => (s.reductionFactor = 1), '/sweep/scheduler/reductionFactor'],
      [(s) => (s.reductionFactor = 2.5), '/sweep/scheduler/reductionFactor'],
      [(s) => Object.assign(s, { metric: 'accuracy', mode: 'max' }), '/sweep/scheduler/metric'],
      [(s) => (s.metric = 'val_accuracy'), '/sweep/scheduler/mode'],
      [(s) => Object.assign(s, { metric: 'val_loss', mode: 'lower' }), '/sweep/scheduler/mode'],
    ];
    for (const [edit, pointer] of cases) {
      expectOnly(
        edited((sweep) => edit(sweep.scheduler as Sweep)),
        { code: 'SWEEP_SCHEDULER', pointer },
      );
    }
    const inSpace = expectOnly(
      edited((sweep) => (sweep.space['fit.epochs'] = { int: [1, 27] })),
      { code: 'SWEEP_SCHEDULER', pointer: '/sweep/scheduler/resource' },
    );
    expect(inSpace.message).toMatch(/set by the scheduler and cannot also be in the space/);
    const pbt = (edit: (scheduler: Sweep) => void) =>
      edited((sweep) => {
        sweep.scheduler = { type: 'pbt', resource: 'fit.epochs', interval: 3 };
        edit(sweep.scheduler as Sweep);
      });
    const pbtCases: Array<[edit: (scheduler: Sweep) => void, pointer: string]> = [
      [(s) => delete s.interval, '/sweep/scheduler/interval'],
      [(s) => (s.interval = 27), '/sweep/scheduler/interval'],
      [(s) => (s.quantile = 0.6), '/sweep/scheduler/quantile'],
      [(s) => (s.resampleProbability = 2), '/sweep/scheduler/resampleProbability'],
      [(s) => (s.perturbation = [1.2, 0.8]), '/sweep/scheduler/perturbation'],
      [(s) => (s.perturbation = 1.2), '/sweep/scheduler/perturbation'],
      [(s) => (s.mutable = 'fit.learningRate'), '/sweep/scheduler/mutable'],
      [(s) => (s.mutable = ['fit.learningRate', 'fit.beta1']), '/sweep/scheduler/mutable/1'],
      [(s) => (s.mutable = ['net.hidden']), '/sweep/scheduler/mutable/0'],
    ];
    for (const [edit, pointer] of pbtCases) expectOnly(pbt(edit), { code: 'SWEEP_SCHEDULER', pointer });
  });

  it('SWEEP_NO_VALIDATION: early stopping or a val_* objective without a validation split', () => {
    const noSplit = pipeline({ data: { validationSplit: 0 } });
    const refused = expectOnly(
      example(),
      { code: 'SWEEP_NO_VALIDATION', pointer: '/sweep/scheduler', nodeId: 'fit' },
      noSplit,
    );
    expect(refused.message).toBe(
      "Sweep scheduler (asha): decisions read fit's per-epoch val_accuracy, which needs a validation split: " +
        'set fit.validationSplit or data.validationSplit above 0',
    );
    // The train node's own split serves as well as the dataset's.
    expect(
      issuesOf(example(), pipeline({ data: { validationSplit: 0 }, fit: { validationSplit: 0.2 } })),
    ).toEqual([]);
    // A swept split that may be 0 does not.
    expectOnly(
      edited((sweep) => (sweep.space['fit.validationSplit'] = { choice: [0, 0.1] })),
      { code: 'SWEEP_NO_VALIDATION', pointer: '/sweep/scheduler' },
      noSplit,
    );
    expectOnly(
      edited((sweep) => {
        delete sweep.scheduler;
        sweep.objective = { node: 'fit', metric: 'val_accuracy', mode: 'max' };
      }),
      { code: 'SWEEP_NO_VALIDATION', pointer: '/sweep/objective/metric', nodeId: 'fit' },
      noSplit,
    );
  });
});
