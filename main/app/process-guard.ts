/**
 * The last line of defence of a long-lived process (`distillery run`, `distillery serve`): an error
 * that nobody handled — a promise rejected with no handler, an exception thrown from a callback,
 * an error reported to `onUnexpectedError` — is recorded and reported, and the process goes on.
 * Node's default would end the process, and with it every run it supervises: one faulty task must
 * not take down an unrelated run.
 *
 * Recorded means: printed with its stack to stderr, and written into the log of every run active
 * in a runner that is attached to the guard, so the run's own record says what happened.
 */
import { toDisposable, type IDisposable } from '../base/lifecycle';
import { setUnexpectedErrorHandler } from '../base/unexpected-error';

/** Where an error reached the guard from. */
export type UnhandledOrigin = 'unhandledRejection' | 'uncaughtException' | 'unexpectedError';

/** Something that keeps a log of active runs: the runner. */
export interface UnexpectedErrorRecorder {
  recordUnexpectedError(error: unknown): void;
}

export interface ProcessGuard extends IDisposable {
  /** Records one error; never throws. */
  report(error: unknown, origin: UnhandledOrigin): void;
  /** Also records errors into `recorder`'s active runs, until the returned disposable is disposed. */
  recordInto(recorder: UnexpectedErrorRecorder): IDisposable;
  /** How many errors it has recorded since it was installed. */
  readonly reported: number;
}

export interface ProcessGuardOptions {
  /** Where the report goes; default: process.stderr. */
  write?: (text: string) => void;
}

let installed: ProcessGuard | undefined;

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  try {
    return typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    return String(error);
  }
}

/**
 * Installs the guard for this process: `process.on('unhandledRejection' | 'uncaughtException')`
 * and the handler of `onUnexpectedError`. Installing it again returns the guard already installed;
 * disposing it puts Node's default behaviour and the previous unexpected-error handler back.
 */
export function installProcessGuard(options: ProcessGuardOptions = {}): ProcessGuard {
  if (installed) return installed;
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const recorders = new Set<UnexpectedErrorRecorder>();
  let reported = 0;

  const report = (error: unknown, origin: UnhandledOrigin): void => {
    reported += 1;
    try {
      write(`distillery: unexpected error (${origin}), recorded; the process goes on:\n${describe(error)}\n`);
    } catch {
      // stderr is gone (a closed pipe): the run logs below are all that is left.
    }
    for (const recorder of recorders) {
      try {
        recorder.recordUnexpectedError(error);
      } catch (recordError) {
        try {
          write(`distillery: could not record that error in the run log: ${describe(recordError)}\n`);
        } catch {
          // As above.
        }
      }
    }
  };
  const onRejection = (reason: unknown) => report(reason, 'unhandledRejection');
  const onException = (error: unknown) => report(error, 'uncaughtException');
  // A closed terminal or pipe makes every write to stdout/stderr fail asynchronously; reported as an
  // uncaught exception it would be written to stderr again, fail again, and spin for ever.
  const onStreamError = (): void => undefined;
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  process.stdout.on('error', onStreamError);
  process.stderr.on('error', onStreamError);
  const restoreHandler = setUnexpectedErrorHandler((error) => report(error, 'unexpectedError'));

  const guard: ProcessGuard = {
    report,
    recordInto(recorder) {
      recorders.add(recorder);
      return toDisposable(() => recorders.delete(recorder));
    },
    get reported() {
      return reported;
    },
    dispose() {
      if (installed !== guard) return;
      installed = undefined;
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
      process.stdout.off('error', onStreamError);
      process.stderr.off('error', onStreamError);
      restoreHandler();
      recorders.clear();
    },
  };
  installed = guard;
  return guard;
}
