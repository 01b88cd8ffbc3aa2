import { onUnexpectedError } from '../base/unexpected-error';

/**
 * A FIFO of jobs run at most `concurrency` at a time. Jobs are started in the order they were
 * enqueued; a job that is removed before it starts never runs.
 */
export class ConcurrencyQueue {
  private readonly waiting: Array<{ key: string; start: () => Promise<void> }> = [];
  private running = 0;

  constructor(private concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  }

  get length(): number {
    return this.waiting.length;
  }

  get active(): number {
    return this.running;
  }

  enqueue(key: string, start: () => Promise<void>): void {
    this.waiting.push({ key, start });
    this.pump();
  }

  /** Drops waiting jobs whose key matches; returns how many were dropped. */
  remove(predicate: (key: string) => boolean): number {
    let removed = 0;
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (predicate(this.waiting[i]!.key)) {
        this.waiting.splice(i, 1);
        removed++;
      }
    }
    return removed;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      this.running++;
      void job
        .start()
        // Jobs handle their own failures (the runner fails the task); one that escapes is a bug
        // to report, and must not stop the queue.
        .catch((error: unknown) => onUnexpectedError(error))
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}
