import { afterEach, describe, expect, it, vi } from 'vitest';
import { Emitter } from '../../main/base/event';
import { onUnexpectedError, setUnexpectedErrorHandler } from '../../main/base/unexpected-error';

/** Lets queued microtasks and the next macrotask run, where a rethrown error would surface. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('Emitter and onUnexpectedError', () => {
  const cleanups: Array<() => void> = [];

  afterEach(() => {
    // Last in, first out, so the handler in place before the test comes back.
    while (cleanups.length > 0) cleanups.pop()!();
    vi.restoreAllMocks();
  });

  function installHandler(): unknown[] {
    const reported: unknown[] = [];
    cleanups.push(setUnexpectedErrorHandler((error) => reported.push(error)));
    return reported;
  }

  function watchUncaught(): unknown[] {
    const uncaught: unknown[] = [];
    const listener = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', listener);
    cleanups.push(() => process.off('uncaughtException', listener));
    return uncaught;
  }

  it('calls the other listeners when one throws and reports the original error', async () => {
    const reported = installHandler();
    const uncaught = watchUncaught();
    const emitter = new Emitter<number>();
    cleanups.push(() => emitter.dispose());
    const failure = new Error('listener failed');
    const seen: string[] = [];
    emitter.event((value) => seen.push(`first ${value}`));
    emitter.event(() => {
      throw failure;
    });
    emitter.event((value) => seen.push(`third ${value}`));

    expect(() => emitter.fire(7)).not.toThrow();
    expect(seen).toEqual(['first 7', 'third 7']);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBe(failure);

    await settle();
    expect(uncaught).toEqual([]);
    expect(reported).toHaveLength(1);
  });

  it('reports every throwing listener, each with its own error', async () => {
    const reported = installHandler();
    const uncaught = watchUncaught();
    const emitter = new Emitter<void>();
    cleanups.push(() => emitter.dispose());
    const errors = [new Error('one'), new TypeError('two')];
    for (const error of errors)
      emitter.event(() => {
        throw error;
      });

    emitter.fire();
    await settle();
    expect(reported).toEqual(errors);
    expect(reported[1]).toBe(errors[1]);
    expect(uncaught).toEqual([]);
  });

  it('by default logs the error with its stack and keeps the process running', async () => {
    const uncaught = watchUncaught();
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const emitter = new Emitter<string>();
    cleanups.push(() => emitter.dispose());
    const failure = new Error('default handler');
    let after = false;
    emitter.event(() => {
      throw failure;
    });
    emitter.event(() => {
      after = true;
    });

    emitter.fire('x');
    await settle();
    expect(after).toBe(true);
    expect(uncaught).toEqual([]);
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]?.[0])).toContain(failure.stack!);
  });

  it('restores the previous handler', () => {
    const outer = installHandler();
    const restoreInner = setUnexpectedErrorHandler(() => {});
    onUnexpectedError(new Error('to the inner handler'));
    restoreInner();
    const error = new Error('to the outer handler');
    onUnexpectedError(error);
    expect(outer).toEqual([error]);
  });

  it('never throws, even when the handler does', async () => {
    const uncaught = watchUncaught();
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    cleanups.push(
      setUnexpectedErrorHandler(() => {
        throw new Error('handler failed');
      }),
    );
    expect(() => onUnexpectedError(new Error('original'))).not.toThrow();
    await settle();
    expect(uncaught).toEqual([]);
    const text = logged.mock.calls.map((call) => String(call[0])).join('\n');
    expect(text).toContain('original');
    expect(text).toContain('handler failed');
  });
});
