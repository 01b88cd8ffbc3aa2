import type { IDisposable } from './lifecycle';
import { onUnexpectedError } from './unexpected-error';

/** A subscription function: call it with a listener, dispose the result to unsubscribe. */
export type Event<T> = (listener: (value: T) => void) => IDisposable;

/**
 * Fires values to its listeners; a listener that throws does not stop the others, and its error
 * goes to `onUnexpectedError` rather than to the code that fired (which did nothing wrong).
 */
export class Emitter<T> implements IDisposable {
  private listeners: Array<(value: T) => void> = [];
  private disposed = false;

  readonly event: Event<T> = (listener) => {
    if (this.disposed) return { dispose() {} };
    this.listeners.push(listener);
    return {
      dispose: () => {
        this.listeners = this.listeners.filter((l) => l !== listener);
      },
    };
  };

  get listenerCount(): number {
    return this.listeners.length;
  }

  /** Calls every listener with `value`, in subscription order, including after one throws. */
  fire(value: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch (error) {
        // Rethrowing (even in a microtask) would be an uncaught exception that ends the process.
        onUnexpectedError(error);
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    this.listeners = [];
  }
}

/** Resolves with the first value the event fires that matches `predicate`. */
export function waitFor<T>(event: Event<T>, predicate: (value: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const subscription = event((value) => {
      if (predicate(value)) {
        subscription.dispose();
        resolve(value);
      }
    });
  });
}
