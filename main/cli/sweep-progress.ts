/**
 * Live progress of a sweep in the terminal: on a TTY one line, redrawn in place, with the trials
 * done / running / pruned and the best so far; on a pipe, one line per trial change (started,
 * each scheduler reading, pruned, done) followed by the counts and the best.
 */
import type { SweepSummary, TrialInfo } from '../../preload/contract';
import { DisposableStore, toDisposable } from '../base/lifecycle';
import type { SweepRunner } from '../jobs/sweeps';
import { bestText, countsText, figure, paramsText } from './sweep-format';

export class SweepProgress {
  private readonly store = new DisposableStore();
  private summary: SweepSummary | undefined;
  /** What was last said of each trial, so a pipe gets a line per change and no repeats. */
  private readonly said = new Map<number, string>();
  private dirty = false;
  private drawn = false;
  /** Lines of trials that ended, written with the counts of the sweep change that follows. */
  private ended: string[] = [];

  constructor(
    sweeps: SweepRunner,
    private readonly sweepId: string,
    private readonly out: NodeJS.WriteStream,
  ) {
    this.store.add(sweeps.onDidChangeSweep((summary) => summary.id === sweepId && this.onSweep(summary)));
    this.store.add(sweeps.onDidChangeTrial((trial) => trial.sweepId === sweepId && this.onTrial(trial)));
    if (this.isTty) {
      const timer = setInterval(() => this.dirty && this.draw(), 120);
      timer.unref();
      this.store.add(toDisposable(() => clearInterval(timer)));
    }
  }

  private get isTty(): boolean {
    return this.out.isTTY === true;
  }

  /** Starts from the sweep as it is (its first trials may have started already). */
  seed(summary: SweepSummary, trials: readonly TrialInfo[] = []): void {
    this.summary = summary;
    this.dirty = true;
    for (const trial of trials) this.onTrial(trial);
    this.flushEnded();
  }

  private onSweep(summary: SweepSummary): void {
    this.summary = summary;
    this.dirty = true;
    this.flushEnded();
  }

  private onTrial(trial: TrialInfo): void {
    this.dirty = true;
    if (this.isTty) return;
    const line = this.describe(trial);
    if (!line || this.said.get(trial.index) === line) return;
    this.said.set(trial.index, line);
    const text = `[trial ${trial.index}] ${line}`;
    if (trial.status === 'running' || trial.status === 'queued') this.out.write(`${text}\n`);
    else this.ended.push(text);
  }

  private flushEnded(): void {
    if (this.ended.length === 0 || !this.summary) return;
    const totals = `  [${countsText(this.summary)}; best ${bestText(this.summary)}]`;
    for (const text of this.ended) this.out.write(`${text}${totals}\n`);
    this.ended = [];
  }

  /** One trial's news, or undefined when there is none worth a line. */
  private describe(trial: TrialInfo): string | undefined {
    switch (trial.status) {
      case 'queued':
        return trial.exploits.length > 0 && trial.exploits.at(-1)!.runId === null
          ? `exploits trial ${trial.exploits.at(-1)!.from} (its checkpoint at ${figure(trial.exploits.at(-1)!.atResource)}): ${paramsText(trial.exploits.at(-1)!.after)}`
          : undefined;
      case 'running':
        return trial.lastResult
          ? `epoch ${figure(trial.lastResult.resource)}: ${figure(trial.lastResult.value)} (run ${trial.runId ?? '—'})`
          : `running ${trial.runId ?? ''}: ${paramsText(trial.params)}`;
      case 'done':
        return `done: objective ${figure(trial.objective)} after ${figure(trial.epochs)} epochs`;
      case 'pruned':
        return `pruned at ${figure(trial.stopped?.rung ?? trial.epochs)}: ${trial.stopped?.reason ?? ''}`;
      case 'failed':
        return `failed: ${trial.error ? `${trial.error.code}: ${trial.error.message.split('\n')[0]}` : ''}`;
      case 'cancelled':
        return 'cancelled (resume continues it)';
    }
  }

  private draw(): void {
    this.dirty = false;
    if (!this.summary) return;
    const text = `Sweep ${this.sweepId}: ${countsText(this.summary)} of ${this.summary.trialCount} — best ${bestText(this.summary)}`;
    this.out.write(`${this.drawn ? '\r' : ''}\x1b[2K${text.slice(0, (this.out.columns ?? 120) - 1)}`);
    this.drawn = true;
  }

  dispose(): void {
    this.flushEnded();
    if (this.isTty) {
      this.draw();
      this.out.write('\n');
    }
    this.store.dispose();
  }
}
