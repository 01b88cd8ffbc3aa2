/** Where Distillery keeps its data, and where its own files are. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `--data-dir`, else `DISTILLERY_HOME`, else the OS's standard application-data folder. */
export function resolveDataDir(
  flag?: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (flag) return resolve(flag);
  if (env.DISTILLERY_HOME) return resolve(env.DISTILLERY_HOME);
  const home = env.HOME ?? env.USERPROFILE ?? homedir();
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Distillery');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Distillery');
  return join(env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'distillery');
}

export interface DataLayout {
  root: string;
  database: string;
  artifacts: string;
  runs: string;
}

export function dataLayout(root: string): DataLayout {
  return {
    root,
    database: join(root, 'registry.sqlite'),
    artifacts: join(root, 'artifacts'),
    runs: join(root, 'runs'),
  };
}

/** The worker entry: the built `worker.js` when present (packaged app), else the TypeScript source. */
export function defaultWorkerEntry(): string {
  const built = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(built)) return built;
  return fileURLToPath(new URL('../worker/main.ts', import.meta.url));
}

/** The repository / app root (holds package.json and resources/). */
export function appRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = resolve(dir, '..');
  }
  return process.cwd();
}
