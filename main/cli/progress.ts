/**
 * Live progress of a run in the terminal: one bar per task with its latest loss / accuracy and
 * ETA, redrawn in place on a TTY; on a pipe, one line per status change and per epoch.
 */
import type { MetricBatch, RunInfo, TaskInfo } from '../../preload/contract';
import { DisposableStore, toDisposable } from '../base/lifecycle';
import type { Runner } from '../jobs/runner';
import { formatEta, formatMetricValue } from '../../preload/units';

interface TaskLine {
  nodeId: string;
  nodeType: string;
  status: string;
  done: number;
  total: number;
  eta: number | null;
  latest: Map<string, number>;
  epoch: number | undefined;
}

const SHOWN = ['loss', 'accuracy', 'val_loss', 'val_accuracy'];
const EPOCH_SHOWN = ['epoch_loss', 'accuracy', 'val_loss', 'val_accuracy'];

export class RunProgress {
  private readonly store = new DisposableStore();
  private readonly lines = new Map<string, TaskLine>();
  private drawn = 0;
  private dirty = false;

  constructor(
    runner: Runner,
    runId: string,
    private readonly out: NodeJS.WriteStream,
  ) {
    this.store.add(runner.onDidChangeTask((task) => task.runId === runId && this.onTask(task)));
    this.store.add(runner.onDidMetrics((batch) => batch.runId === runId && this.onMetrics(batch)));
    if (this.isTty) {
      const timer = setInterval(() => this.dirty && this.draw(), 120);
      timer.unref();
      this.store.add(toDisposable(() => clearInterval(timer)));
    }
  }

  private get isTty(): boolean {
    return this.out.isTTY === true;
  }

  seed(run: RunInfo): void {
    for (const task of run.tasks) this.onTask(task);
  }

  private line(task: TaskInfo): TaskLine {
    let line = this.lines.get(task.id);
    if (!line) {
      line = {
        nodeId: task.nodeId,
        nodeType: task.nodeType,
        status: '',
        done: 0,
        total: 0,
        eta: null,
        latest: new Map(),
        epoch: undefined,
      };
      this.lines.set(task.id, line);
    }
    return line;
  }

  private onTask(task: TaskInfo): void {
    const line = this.line(task);
    const changed = line.status !== task.status;
    line.status = task.status;
    if (task.progress) {
      line.done = task.progress.done;
      line.total = task.progress.total;
      line.eta = task.progress.etaSeconds;
    }
    if (this.isTty) this.dirty = true;
    else if (changed) {
      const extra = task.error
        ? ` — ${task.error.code}: ${task.error.message.split('\n')[0]}`
        : task.reusedFrom
          ? ` (from ${task.reusedFrom})`
          : '';
      this.out.write(`[${task.nodeId}] ${task.status}${extra}\n`);
    }
  }

  private onMetrics(batch: MetricBatch): void {
    const line = this.lines.get(batch.taskId);
    if (!line) return;
    const finishedEpochs = new Set<number>();
    for (const point of batch.points) {
      line.latest.set(point.name, point.value);
      if (point.name === 'epoch_loss' && point.epoch !== undefined) finishedEpochs.add(point.epoch);
      if (point.epoch !== undefined) line.epoch = point.epoch;
    }
    if (!this.isTty) {
      for (const epoch of finishedEpochs) {
        const parts = EPOCH_SHOWN.filter((name) => line.latest.has(name)).map(
          (name) => `${name} ${formatMetricValue(name, line.latest.get(name))}`,
        );
        this.out.write(`[${line.nodeId}] epoch ${epoch}: ${parts.join('  ')}\n`);
      }
    }
    if (this.isTty) this.dirty = true;
  }

  private render(line: TaskLine): string {
    const width = 24;
    const fraction =
      line.total > 0
        ? Math.min(1, line.done / line.total)
        : line.status === 'done' || line.status === 'reused'
          ? 1
          : 0;
    const filled = Math.round(fraction * width);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    const metrics = SHOWN.filter((name) => line.latest.has(name))
      .map((name) => `${name.replace('accuracy', 'acc')} ${formatMetricValue(name, line.latest.get(name))}`)
      .join('  ');
    const eta = line.status === 'running' && line.eta !== null ? `  ETA ${formatEta(line.eta)}` : '';
    return `${line.nodeId.padEnd(12)} ${line.status.padEnd(9)} ${bar} ${(fraction * 100).toFixed(0).padStart(3)}%  ${metrics}${eta}`;
  }

  private draw(): void {
    this.dirty = false;
    const rows = [...this.lines.values()].map((line) => this.render(line));
    let text = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    for (const row of rows) text += `\x1b[2K${row.slice(0, (this.out.columns ?? 120) - 1)}\n`;
    this.out.write(text);
    this.drawn = rows.length;
  }

  dispose(): void {
    if (this.isTty) this.draw();
    this.store.dispose();
  }
}
