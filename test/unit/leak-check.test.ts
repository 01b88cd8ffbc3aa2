/**
 * The leak check itself: an undisposed Disposable is reported with its class and creation place,
 * a disposed one is not, members of a leaked owner are reported through the owner, and a child
 * process left running is named, even once its parent has exited. The checking functions are called directly, so nothing here has
 * to fail for the check to be shown working.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Disposable,
  DisposableStore,
  markAsSingleton,
  setDisposableTracker,
  toDisposable,
} from '../../main/base/lifecycle';
import {
  ChildProcessWatch,
  describeLeaks,
  DisposableLeakTracker,
  LEAK_CHECK_TAG_VARIABLE,
} from '../helpers/leak-check';

class HoldsAResource extends Disposable {
  readonly cleanup = this._register(toDisposable(() => {}));
}

function installTracker(): DisposableLeakTracker {
  const tracker = new DisposableLeakTracker();
  setDisposableTracker(tracker);
  return tracker;
}

describe('disposable leak tracker', () => {
  afterEach(() => setDisposableTracker(null));

  it('reports an undisposed Disposable once, by class name and where it was created', () => {
    const tracker = installTracker();
    const leaked = new HoldsAResource();
    const leaks = tracker.leaks();
    // Its store and its registered member are part of it, not separate leaks.
    expect(leaks.map((leak) => leak.className)).toEqual(['HoldsAResource']);
    expect(leaks[0]!.creationStack).toContain('leak-check.test.ts');
    expect(leaks[0]!.creationStack).not.toContain('lifecycle.ts');
    expect(describeLeaks(leaks)).toMatch(
      /1 disposable\(s\) created during the test were not disposed:\n {2}HoldsAResource/,
    );
    leaked.dispose();
  });

  it('does not report a disposed Disposable, store or toDisposable result', () => {
    const tracker = installTracker();
    new HoldsAResource().dispose();
    const store = new DisposableStore();
    store.add(new HoldsAResource());
    store.dispose();
    toDisposable(() => {}).dispose();
    expect(tracker.leaks()).toEqual([]);
    expect(describeLeaks(tracker.leaks())).toBeUndefined();
  });

  it('reports a forgotten toDisposable result and a store member left behind by its owner', () => {
    const tracker = installTracker();
    const forgotten = toDisposable(() => {});
    const owner = new HoldsAResource();
    // Disposing the owner's member alone leaves the owner itself alive.
    owner.cleanup.dispose();
    expect(tracker.leaks().map((leak) => leak.className)).toEqual(['FunctionDisposable', 'HoldsAResource']);
    forgotten.dispose();
    owner.dispose();
    expect(tracker.leaks()).toEqual([]);
  });

  it('does not report singletons or what they own', () => {
    const tracker = installTracker();
    markAsSingleton(new HoldsAResource());
    expect(tracker.leaks()).toEqual([]);
  });

  it('sees nothing created before it was installed, and costs nothing when none is', () => {
    setDisposableTracker(null);
    const before = new HoldsAResource();
    const tracker = installTracker();
    expect(tracker.leaks()).toEqual([]);
    before.dispose();
  });
});

describe.runIf(process.platform === 'linux')('child process watch', () => {
  afterEach(() => expect(process.env[LEAK_CHECK_TAG_VARIABLE]).toBeUndefined());

  it('names a child process started after it and still alive, and not once it has exited', async () => {
    const watch = new ChildProcessWatch();
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await once(child, 'spawn');
      const alive = watch.survivors();
      expect(alive.map((entry) => entry.pid)).toEqual([child.pid]);
      expect(alive[0]!.command).toBe('sleep 30');
      expect(describeLeaks([], alive, 0)).toContain(`pid ${child.pid} (parent ${process.pid}): sleep 30`);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    expect(await watch.survivorsAfter(2000)).toEqual([]);
    watch.stop();
  });

  it('names a grandchild whose parent exited and left it orphaned', async () => {
    const watch = new ChildProcessWatch();
    let orphans: number[] = [];
    try {
      // The shell exits at once; its sleep is reparented away from this process.
      const shell = spawn('sh', ['-c', 'sleep 30 & exit 0'], { stdio: 'ignore' });
      await once(shell, 'exit');
      orphans = watch.survivors().map((entry) => entry.pid);
      expect(orphans).toHaveLength(1);
      // The shell may exit between forking the sleep and the sleep's exec.
      await expect.poll(() => watch.survivors().map((entry) => entry.command)).toEqual(['sleep 30']);
      expect(watch.survivors()[0]!.parentPid).not.toBe(process.pid);
    } finally {
      watch.stop();
      for (const pid of orphans) process.kill(pid, 'SIGKILL');
    }
  });

  it('ignores child processes that were already running when it started', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const watch = new ChildProcessWatch();
    try {
      expect(watch.survivors()).toEqual([]);
    } finally {
      watch.stop();
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
});
