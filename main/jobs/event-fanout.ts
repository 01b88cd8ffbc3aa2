/**
 * Fans the runner's events out to clients (Electron window, WebSocket sockets) as the contract's
 * events. Metric batches are coalesced per task and flushed at most every `intervalMs`, so a fast
 * run costs clients a bounded number of messages whatever the step rate.
 */
import type { EventMap, EventName, MetricBatch } from '../../preload/contract';
import { Emitter } from '../base/event';
import { Disposable, toDisposable } from '../base/lifecycle';
import type { Runner } from './runner';
import type { SweepRunner } from './sweeps';

export interface ContractEvent<K extends EventName = EventName> {
  event: K;
  payload: EventMap[K];
}

export class EventFanout extends Disposable {
  private readonly _onDidEvent = this._register(new Emitter<ContractEvent>());
  readonly onDidEvent = this._onDidEvent.event;
  private pending = new Map<string, MetricBatch>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    runner: Runner,
    private readonly intervalMs = 100,
    sweeps?: SweepRunner,
  ) {
    super();
    if (sweeps) {
      this._register(sweeps.onDidChangeSweep((payload) => this.emit('sweep.status', payload)));
      this._register(sweeps.onDidChangeTrial((payload) => this.emit('trial.status', payload)));
    }
    this._register(runner.onDidChangeRun((payload) => this.emit('run.status', payload)));
    this._register(
      runner.onDidChangeTask((payload) => {
        // A task's status change must not overtake its own metrics.
        this.flushTask(payload.id);
        this.emit('task.status', payload);
      }),
    );
    this._register(runner.onDidLog((payload) => this.emit('task.log', payload)));
    this._register(runner.onDidSample((payload) => this.emit('task.sample', payload)));
    this._register(runner.onDidChangeRegistry((payload) => this.emit('registry.changed', payload)));
    this._register(runner.onDidMetrics((batch) => this.queueMetrics(batch)));
    this._register(toDisposable(() => this.timer && clearTimeout(this.timer)));
  }

  private emit<K extends EventName>(event: K, payload: EventMap[K]): void {
    this._onDidEvent.fire({ event, payload });
  }

  private queueMetrics(batch: MetricBatch): void {
    const existing = this.pending.get(batch.taskId);
    if (existing) existing.points.push(...batch.points);
    else this.pending.set(batch.taskId, { ...batch, points: [...batch.points] });
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  private flushTask(taskId: string): void {
    const batch = this.pending.get(taskId);
    if (!batch) return;
    this.pending.delete(taskId);
    this.emit('task.metrics', batch);
  }

  flush(): void {
    this.timer = undefined;
    const batches = [...this.pending.values()];
    this.pending.clear();
    for (const batch of batches) this.emit('task.metrics', batch);
  }
}
