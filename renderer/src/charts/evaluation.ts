/**
 * What an `evaluate` task found, read from its summary (the same object as its `evaluation.json`):
 * the confusion matrix and per-class accuracy, checked before they are drawn. Also which evaluate
 * tasks of a run scored a given model version, for the model page.
 */
import type { PipelineDoc, RunInfo, TaskInfo } from '../../../preload/contract';
import { parseEndpoint } from '../../../preload/graph-rules';

/** A classifier's scores on one split, as the run and model pages show them. */
export interface ClassifierEvaluation {
  /** The split scored (`test`, `validation`, …), when the summary names it. */
  split: string | null;
  /** Examples scored. */
  count: number;
  classNames: string[];
  accuracy: number;
  /** confusionMatrix[trueClass][predictedClass] = count. */
  confusionMatrix: number[][];
  /** Accuracy within each true class; null for a class absent from the split. */
  perClassAccuracy: Array<number | null>;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * The classifier evaluation in a task summary, or null when the summary has none (another op, a
 * diffusion evaluation, a task that has not finished) or its matrix is not square.
 */
export function readEvaluation(
  summary: Record<string, unknown> | null | undefined,
): ClassifierEvaluation | null {
  const matrix = summary?.confusionMatrix;
  if (!Array.isArray(matrix) || matrix.length === 0) return null;
  const size = matrix.length;
  const rows: number[][] = [];
  for (const row of matrix as unknown[]) {
    if (!Array.isArray(row) || row.length !== size || !row.every(isCount)) return null;
    rows.push([...row]);
  }
  const totals = rows.map((row) => row.reduce((sum, count) => sum + count, 0));
  const count = totals.reduce((sum, total) => sum + total, 0);
  const names = summary?.classNames;
  const classNames =
    Array.isArray(names) && names.length === size && names.every((name) => typeof name === 'string')
      ? names
      : rows.map((_, index) => String(index));
  const diagonal = rows.reduce((sum, row, index) => sum + row[index]!, 0);
  const accuracy =
    typeof summary?.accuracy === 'number' ? summary.accuracy : count > 0 ? diagonal / count : 0;
  return {
    split: typeof summary?.split === 'string' ? summary.split : null,
    count: isCount(summary?.count) ? summary.count : count,
    classNames,
    accuracy,
    confusionMatrix: rows,
    // Recomputed from the matrix rather than trusted, so the bars always agree with the cells.
    perClassAccuracy: rows.map((row, index) => (totals[index]! > 0 ? row[index]! / totals[index]! : null)),
  };
}

/** Share of a true class's examples in one cell, in [0, 1] (0 for an empty class). */
export function cellShare(matrix: readonly number[][], trueClass: number, predicted: number): number {
  const row = matrix[trueClass] ?? [];
  const total = row.reduce((sum, count) => sum + count, 0);
  return total > 0 ? (row[predicted] ?? 0) / total : 0;
}

/** The most frequent mistakes, largest first: true class, predicted class and count. */
export function topConfusions(
  matrix: readonly number[][],
  limit = 3,
): Array<{ trueClass: number; predicted: number; count: number }> {
  const mistakes: Array<{ trueClass: number; predicted: number; count: number }> = [];
  matrix.forEach((row, trueClass) =>
    row.forEach((count, predicted) => {
      if (predicted !== trueClass && count > 0) mistakes.push({ trueClass, predicted, count });
    }),
  );
  return mistakes.sort((a, b) => b.count - a.count).slice(0, limit);
}

/** Node ids of `doc` that an output endpoint (`"node.port"`) feeds, with the input port. */
function fedBy(doc: PipelineDoc, endpoint: string): Array<{ nodeId: string; port: string }> {
  return doc.edges.flatMap((edge) => {
    if (edge.from !== endpoint) return [];
    const to = parseEndpoint(edge.to);
    return to ? [{ nodeId: to.nodeId, port: to.port }] : [];
  });
}

/**
 * The tasks of `run` that scored model version `versionId`: evaluate tasks whose `model` input
 * came from the output port through which the producing task (`taskId`) registered that version.
 */
export function evaluationTasksOf(run: RunInfo, model: { id: string; taskId: string | null }): TaskInfo[] {
  const producer = run.tasks.find((task) => task.id === model.taskId);
  if (!producer) return [];
  const ports = Object.entries(producer.models)
    .filter(([, version]) => version === model.id)
    .map(([port]) => port);
  const scorers = new Set(
    ports.flatMap((port) =>
      fedBy(run.pipeline, `${producer.nodeId}.${port}`)
        .filter((input) => input.port === 'model')
        .map((input) => input.nodeId),
    ),
  );
  return run.tasks.filter((task) => scorers.has(task.nodeId) && readEvaluation(task.summary) !== null);
}

/**
 * Every evaluation of a model version that the given runs hold: the tasks that recorded metrics on
 * it (the registry keeps their task ids, so evaluations from later runs count too) and the evaluate
 * tasks of its producing run that scored it; each once, with a confusion matrix, in run order.
 */
export function evaluationsOfVersion(
  model: {
    id: string;
    runId: string | null;
    taskId: string | null;
    metricRecords: ReadonlyArray<{ taskId: string | null }>;
  },
  runs: readonly RunInfo[],
): Array<{ run: RunInfo; task: TaskInfo; evaluation: ClassifierEvaluation }> {
  const recorded = new Set(model.metricRecords.flatMap((record) => (record.taskId ? [record.taskId] : [])));
  const found: Array<{ run: RunInfo; task: TaskInfo; evaluation: ClassifierEvaluation }> = [];
  const seen = new Set<string>();
  for (const run of runs) {
    const producing = run.id === model.runId ? evaluationTasksOf(run, model) : [];
    for (const task of [...producing, ...run.tasks.filter((candidate) => recorded.has(candidate.id))]) {
      if (seen.has(task.id)) continue;
      const evaluation = readEvaluation(task.summary);
      if (!evaluation) continue;
      seen.add(task.id);
      found.push({ run, task, evaluation });
    }
  }
  return found;
}
