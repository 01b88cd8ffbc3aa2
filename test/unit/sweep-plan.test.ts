/**
 * What the sweep layer reads off a sweep's pipeline (jobs/sweep-plan.ts) and the runner's seam for
 * a task that starts from a checkpoint (jobs/start-from.ts): trial documents, the nodes every trial
 * shares, the budget node, and fingerprints salted by a checkpoint's content for the start node
 * and everything downstream of it only.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SweepSpec } from '../../preload/contract';
import { budgetNode, sharedNodes, trialDocument } from '../../main/jobs/sweep-plan';
import { checkpointStep, placeCheckpoint, saltFingerprints } from '../../main/jobs/start-from';
import { createDefaultCatalog } from '../../main/nodes/index';
import { planPipeline } from '../../main/pipeline/plan';
import { resolveSweep } from '../../main/pipeline/sweep/index';
import { validatePipeline } from '../../main/pipeline/validate';
import { sweepPipeline } from '../helpers/sweep-fixtures';
import { makeTempDir } from '../helpers/tmp';

/** The code of the error `work` throws, or undefined when it throws none. */
function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

const catalog = createDefaultCatalog();

function resolved(sweep: SweepSpec) {
  const doc = sweepPipeline(sweep);
  const result = resolveSweep(doc.sweep, doc, catalog);
  expect(result.issues).toEqual([]);
  return { doc, sweep: result.sweep! };
}

const OBJECTIVE = { node: 'score', metric: 'accuracy', mode: 'max' } as const;

describe('sweep plan', () => {
  it('writes a trial as an ordinary pipeline: its values, the budget, no sweep block', () => {
    const { doc, sweep } = resolved({
      objective: OBJECTIVE,
      space: {
        'fit.learningRate': { logUniform: [0.0001, 0.1] },
        'net.hidden': { choice: [[16], [64, 32]] },
      },
      scheduler: { type: 'asha', resource: 'fit.epochs', max: 9 },
      trials: 4,
    });
    const trial = trialDocument(doc, sweep, catalog, { 'fit.learningRate': 0.02, 'net.hidden': [64, 32] });
    expect(trial.sweep).toBeUndefined();
    expect(doc.sweep).toBeDefined();
    const params = Object.fromEntries(trial.nodes.map((node) => [node.id, node.params]));
    expect(params.fit).toMatchObject({ learningRate: 0.02, epochs: 9 });
    expect(params.net).toEqual({ hidden: [64, 32] });
    expect(validatePipeline(trial, catalog).issues).toEqual([]);
    // The original document is untouched.
    expect(doc.nodes.find((node) => node.id === 'fit')!.params.learningRate).toBe(0.001);
  });

  it('checkpoints PBT trials at every epoch end, where exploits copy from', () => {
    const { doc, sweep } = resolved({
      objective: OBJECTIVE,
      space: { 'fit.learningRate': { logUniform: [0.0001, 0.1] } },
      scheduler: { type: 'pbt', resource: 'fit.epochs', interval: 2, max: 6 },
      trials: 4,
    });
    const trial = trialDocument(doc, sweep, catalog, { 'fit.learningRate': 0.02 });
    expect(trial.nodes.find((node) => node.id === 'fit')!.params).toMatchObject({
      epochs: 6,
      checkpointEvery: 0,
      learningRate: 0.02,
    });
  });

  it('shares the nodes no swept param reaches, and budgets by the resource node or the objective’s trainer', () => {
    const fitOnly = resolved({
      objective: OBJECTIVE,
      space: { 'fit.learningRate': { logUniform: [0.0001, 0.1] } },
      trials: 4,
    });
    expect([...sharedNodes(fitOnly.doc, fitOnly.sweep)].sort()).toEqual(['data', 'net']);
    expect(budgetNode(fitOnly.doc, fitOnly.sweep, catalog)).toBe('fit');
    const withNet = resolved({
      objective: OBJECTIVE,
      space: { 'net.hidden': { choice: [[16], [32]] } },
      scheduler: { type: 'hyperband', resource: 'fit.epochs', max: 9 },
    });
    expect([...sharedNodes(withNet.doc, withNet.sweep)]).toEqual(['data']);
    expect(budgetNode(withNet.doc, withNet.sweep, catalog)).toBe('fit');
  });
});

describe('a task that starts from a checkpoint', () => {
  let tmp: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    tmp = makeTempDir();
  });

  afterEach(() => tmp.cleanup());

  function checkpoint(name: string, globalStep: number, weights: string): string {
    const dir = join(tmp.dir, name, 'checkpoints', `step-${globalStep}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'loop.json'), JSON.stringify({ format: 1, globalStep }));
    writeFileSync(join(dir, 'weights.json'), JSON.stringify({ sha256: weights }));
    writeFileSync(join(dir, 'weights.bin'), weights);
    return dir;
  }

  it('salts the start node and its downstream tasks by the checkpoint’s content, and nothing upstream', () => {
    const doc = sweepPipeline({
      objective: OBJECTIVE,
      space: { 'fit.learningRate': { uniform: [0, 1] } },
      trials: 2,
    });
    delete doc.sweep;
    const plan = planPipeline(validatePipeline(doc, catalog).pipeline!);
    const a = saltFingerprints(plan, { nodeId: 'fit', checkpoint: checkpoint('a', 30, 'aaaa') });
    const b = saltFingerprints(plan, { nodeId: 'fit', checkpoint: checkpoint('b', 30, 'bbbb') });
    const again = saltFingerprints(plan, { nodeId: 'fit', checkpoint: checkpoint('c', 30, 'aaaa') });
    const fingerprints = (tasks: typeof plan) =>
      Object.fromEntries(tasks.map((task) => [task.nodeId, task.fingerprint]));
    const [base, first, second, same] = [plan, a, b, again].map(fingerprints);
    for (const nodeId of ['data', 'net']) expect(first![nodeId]).toBe(base![nodeId]);
    for (const nodeId of ['fit', 'score']) {
      expect(first![nodeId]).not.toBe(base![nodeId]);
      expect(first![nodeId]).not.toBe(second![nodeId]);
      // The same content is the same computation, wherever its folder is.
      expect(same![nodeId]).toBe(first![nodeId]);
    }
    expect(
      codeOf(() => saltFingerprints(plan, { nodeId: 'ghost', checkpoint: checkpoint('d', 1, 'x') })),
    ).toBe('UNKNOWN_NODE');
    expect(codeOf(() => saltFingerprints(plan, { nodeId: 'fit', checkpoint: join(tmp.dir, 'none') }))).toBe(
      'CHECKPOINT_INVALID',
    );
  });

  it('copies the checkpoint into the task folder, byte for byte, under its own step', () => {
    const source = checkpoint('source', 120, 'weights-of-the-source');
    const placed = placeCheckpoint({ nodeId: 'fit', checkpoint: source }, join(tmp.dir, 'run', 'fit'));
    expect(placed).toEqual({ path: join(tmp.dir, 'run', 'fit', 'checkpoints', 'step-120'), step: 120 });
    expect(checkpointStep(placed.path, 'fit')).toBe(120);
    for (const file of ['loop.json', 'weights.json', 'weights.bin'])
      expect(readFileSync(join(placed.path, file))).toEqual(readFileSync(join(source, file)));
  });
});
