/**
 * One place for errors that have no caller to return to: a listener that threw inside
 * `Emitter.fire`, a callback run by a timer. As VS Code's `base/common/errors.ts`, code reports
 * them to `onUnexpectedError` and the composition root (or a test) decides what happens; the
 * default logs and keeps going, because one faulty listener must not take down `distillery serve`
 * and every run it is supervising. The CLI and `distillery serve` route it into their process
 * guard (main/app/process-guard.ts), which also records it in the log of every active run.
 *
 * Pure: no Node built-ins (console is available in every runtime this code runs in).
 */

/** Receives every error reported to {@link onUnexpectedError}. */
export type UnexpectedErrorHandler = (error: unknown) => void;

function logUnexpectedError(error: unknown): void {
  // The stack is the only clue where a listener's error came from, so it is printed whole.
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  console.error(`Unexpected error: ${text}`);
}

let handler: UnexpectedErrorHandler = logUnexpectedError;

/**
 * Installs the handler that receives unexpected errors from now on; returns a function that puts
 * the previous handler back (tests call it in `afterEach`).
 */
export function setUnexpectedErrorHandler(next: UnexpectedErrorHandler): () => void {
  const previous = handler;
  handler = next;
  return () => {
    handler = previous;
  };
}

/**
 * Reports an error that nobody can handle where it happened. Never throws: a handler that fails
 * itself is logged with the default handler, so a caller such as `Emitter.fire` can go on to its
 * next listener.
 */
export function onUnexpectedError(error: unknown): void {
  try {
    handler(error);
  } catch (handlerError) {
    logUnexpectedError(error);
    logUnexpectedError(handlerError);
  }
}
