/** Something that holds a resource until it is disposed. */
export interface IDisposable {
  dispose(): void;
}

/**
 * Observes the lifetimes of disposables, as VS Code's `IDisposableTracker`: tests install one to
 * find what was created and never disposed. Every `Disposable`, every `DisposableStore` and every
 * `toDisposable` result reports to it.
 */
export interface IDisposableTracker {
  /** Called when a disposable is created. */
  trackDisposable(disposable: IDisposable): void;
  /**
   * Called when `child` is added to a store (`parent`), so a leaked owner is reported once rather
   * than once per member. `parent` is null when the child leaves its store.
   */
  setParent(child: IDisposable, parent: IDisposable | null): void;
  /** Called when a disposable is disposed (the first time only). */
  markAsDisposed(disposable: IDisposable): void;
  /** Called for disposables meant to live as long as the process; they are never leaks. */
  markAsSingleton(disposable: IDisposable): void;
}

/** Null outside leak-checking tests, so production pays one null check per lifetime event. */
let disposableTracker: IDisposableTracker | null = null;

/** Installs (or, with null, removes) the tracker every disposable reports its lifetime to. */
export function setDisposableTracker(tracker: IDisposableTracker | null): void {
  disposableTracker = tracker;
}

/** Reports a newly created disposable to the tracker, if one is set; returns it. */
export function trackDisposable<T extends IDisposable>(disposable: T): T {
  disposableTracker?.trackDisposable(disposable);
  return disposable;
}

/** Reports a disposable as disposed to the tracker, if one is set. */
export function markAsDisposed(disposable: IDisposable): void {
  disposableTracker?.markAsDisposed(disposable);
}

/** Reports that `child` is now owned by `parent` (or by nothing, with null). */
export function setParentOfDisposable(child: IDisposable, parent: IDisposable | null): void {
  disposableTracker?.setParent(child, parent);
}

/** Marks a disposable that lives as long as the process, so a leak check does not report it. */
export function markAsSingleton<T extends IDisposable>(singleton: T): T {
  disposableTracker?.markAsSingleton(singleton);
  return singleton;
}

/** A disposable that runs `dispose` once; named so a leak report says what it is. */
class FunctionDisposable implements IDisposable {
  private disposed = false;

  constructor(private readonly fn: () => void) {
    trackDisposable(this);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    markAsDisposed(this);
    this.fn();
  }
}

/** Wraps a cleanup function as a disposable that runs it at most once. */
export function toDisposable(fn: () => void): IDisposable {
  return new FunctionDisposable(fn);
}

/** Owns a set of disposables and disposes them together, last added first. */
export class DisposableStore implements IDisposable {
  private readonly items = new Set<IDisposable>();
  private disposed = false;

  constructor() {
    trackDisposable(this);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  add<T extends IDisposable>(item: T): T {
    if (this.disposed) {
      item.dispose();
    } else {
      setParentOfDisposable(item, this);
      this.items.add(item);
    }
    return item;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    markAsDisposed(this);
    const errors: unknown[] = [];
    for (const item of [...this.items].reverse()) {
      try {
        item.dispose();
      } catch (error) {
        errors.push(error);
      }
    }
    this.items.clear();
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'Several disposables failed');
  }
}

/** Base class whose lifetime-bound members are registered and disposed with it. */
export abstract class Disposable implements IDisposable {
  private readonly _store = new DisposableStore();

  constructor() {
    trackDisposable(this);
    setParentOfDisposable(this._store, this);
  }

  protected _register<T extends IDisposable>(item: T): T {
    return this._store.add(item);
  }

  dispose(): void {
    if (!this._store.isDisposed) markAsDisposed(this);
    this._store.dispose();
  }
}

/**
 * Hands an owner's lifetime to async work as an `AbortSignal`: registered in the owner's store, it
 * aborts when the owner is disposed, so work the owner started but does not hold yet (a worker
 * still starting) can stop too.
 */
export class AbortOnDispose implements IDisposable {
  private readonly controller = new AbortController();

  constructor() {
    trackDisposable(this);
  }

  /** Aborted once this is disposed. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    if (this.controller.signal.aborted) return;
    markAsDisposed(this);
    this.controller.abort();
  }
}
