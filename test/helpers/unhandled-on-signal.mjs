/**
 * Preloaded into a CLI subprocess (`NODE_OPTIONS=--import …`) by tests of the process guard: each
 * SIGUSR2 the test sends plants an error that no code handles — first a promise rejected with no
 * handler, then an exception thrown from a timer — so the test can see the process record it and
 * go on. Only the CLI process itself listens: its workers inherit NODE_OPTIONS too.
 */
import process from 'node:process';
import { setTimeout } from 'node:timers';

if (process.argv[1]?.endsWith('cli.ts')) {
  let signals = 0;
  process.on('SIGUSR2', () => {
    signals += 1;
    if (signals === 1) void Promise.reject(new Error('planted rejection'));
    else
      setTimeout(() => {
        throw new Error('planted exception');
      }, 0);
  });
}
