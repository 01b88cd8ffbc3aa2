/** The suites' common set-up: a Distillery app on a fresh temporary data directory for each test. */
import { afterEach, beforeEach } from 'vitest';
import { createApp, type AppConfig, type DistilleryApp } from '../../main/app/app';
import { makeTempDir } from './tmp';

/** The current test's app and its data directory; read them inside a test or hook only. */
export interface TempApp {
  readonly app: DistilleryApp;
  readonly dir: string;
}

/**
 * Opens an app with `config` on a new temporary data directory before each test of the calling
 * suite, and disposes of it and removes the directory after. Call it after `ensureNoLeaks()`, so
 * that the app is disposed of before the leak check looks.
 */
export function useTempApp(config: Omit<AppConfig, 'dataDir'>): TempApp {
  let current: { app: DistilleryApp; tmp: ReturnType<typeof makeTempDir> } | undefined;
  beforeEach(() => {
    const tmp = makeTempDir();
    current = { tmp, app: createApp({ ...config, dataDir: tmp.dir }) };
  });
  afterEach(() => {
    current?.app.dispose();
    current?.tmp.cleanup();
    current = undefined;
  });
  const now = () => {
    if (!current) throw new Error('useTempApp: the app exists only while a test of its suite runs');
    return current;
  };
  return {
    get app() {
      return now().app;
    },
    get dir() {
      return now().tmp.dir;
    },
  };
}
